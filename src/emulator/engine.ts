import { ApiError, incorrectApiKey, invalidRequest, missingApiKey, responseNotFound } from './api-error.js';
import { brainRequest, contextInputTokens, inputUsage } from './brain-request.js';
import { resolveContext } from './context.js';
import { createFaultSource, type FaultDraw } from './faults.js';
import { isReasoningModel } from './generation.js';
import type { ResolvedOptions } from './options.js';
import { createIdSource, seededRng, type IdSource } from './rng.js';
import { ResponseRun } from './run.js';
import { ResponseStore, type StoredResponse } from './store.js';
import { decideWithToolChoice } from './tool-choice.js';
import { parseCompactParams, parseCreateParams, type CreateParams } from './validate-request.js';
import { compactionTokens, encodeCompaction, type CompactedContext } from './compaction.js';
import type { CompactionObject, MessageItem, ResponseObject, UsageWire, WireItem } from './wire.js';

/** A response just created and not started yet. */
export interface CreatedResponse {
  record: StoredResponse;
  run: ResponseRun;
  params: CreateParams;
}

/** How a create is made, beyond its body (the WebSocket mode's extras). */
export interface CreateOptions {
  /** Finds a parent by id before the store does (a WebSocket connection's unstored responses). */
  lookup?: (id: string) => StoredResponse | undefined;
  /** False: a warm-up (`generate: false`), which answers with no output. */
  generate?: boolean;
}

export interface ListQuery {
  limit?: string | null;
  order?: string | null;
  after?: string | null;
}

export interface ItemList {
  object: 'list';
  data: WireItem[];
  has_more: boolean;
  first_id: string | null;
  last_id: string | null;
}

/** Counters for tests and the benchmark (for example, to prove a client did not retry by itself). */
export interface EmulatorStats {
  requests: number;
  creates: number;
}

/**
 * The emulator's behaviour without HTTP: creates, retrieves, cancels, deletes and lists, throwing
 * `ApiError` for everything the API answers with an error. The HTTP routes are a thin layer on it.
 */
export class EmulatorEngine {
  readonly store: ResponseStore;
  readonly stats: EmulatorStats = { requests: 0, creates: 0 };
  private readonly ids: IdSource;
  private readonly drawFaults: () => FaultDraw;
  private readonly active = new Set<ResponseRun>();
  private requestCounter = 0;

  constructor(readonly options: ResolvedOptions) {
    this.store = new ResponseStore(options.maxStoredResponses);
    this.ids = createIdSource(seededRng(options.seed ^ 0x9e3779b9));
    this.drawFaults = createFaultSource(options.faults, seededRng(options.seed));
  }

  /** Checks `Authorization: Bearer <key>` when the emulator was started with an API key. */
  authorize(authorization: string | undefined): void {
    const expected = this.options.apiKey;
    if (expected === null) return;
    const match = /^Bearer\s+(.+)$/i.exec(authorization ?? '');
    if (!match?.[1]) throw missingApiKey();
    if (match[1].trim() !== expected) throw incorrectApiKey(match[1].trim());
  }

  /** A request id for the `x-request-id` header (a counter, so it does not shift the seeded ids). */
  newRequestId(): string {
    return `req_${(++this.requestCounter).toString(16).padStart(32, '0')}`;
  }

  /** Validates a create and builds its response and generation; the caller starts the run. */
  async create(body: unknown, options: CreateOptions = {}): Promise<CreatedResponse> {
    this.stats.creates++;
    const fault = this.drawFaults();
    if (fault.error) throw fault.error;
    const { assumptions } = this.options;
    const params = parseCreateParams(body, assumptions);
    const lookup = options.lookup;
    const { parent, inputItems, context } = await resolveContext(params.input, params.previousResponseId, {
      store: this.store,
      ids: this.ids,
      assumptions,
      ...(lookup ? { lookup: (id: string) => lookup(id) ?? this.store.get(id) } : {}),
    });
    const response = this.newResponse(params);
    const record: StoredResponse = { response, inputItems, context, streamed: params.stream, run: null };
    const request = brainRequest(params.model, params.instructions, context, params.tools);
    const usage = inputUsage(contextInputTokens(request, context), request, parent, params.tools);
    const { brain } = this.options;
    const run = new ResponseRun(response, {
      brain:
        options.generate === false ? () => [] : (req) => decideWithToolChoice(brain, req, params.toolChoice),
      brainRequest: request,
      generation: {
        model: params.model,
        maxOutputTokens: params.maxOutputTokens,
        parallelToolCalls: params.parallelToolCalls,
        encryptedReasoning: params.include.includes('reasoning.encrypted_content'),
        reasoningTokensPerItem: this.options.reasoningTokensPerItem,
      },
      latency: this.options.latency,
      ids: this.ids,
      now: this.options.now,
      ...usage,
      keepLog: params.background && params.stream,
      stallMs: fault.stallMs,
      midStreamError: fault.midStreamError,
      onEnd: () => {
        this.active.delete(run);
        this.store.indexOutput(record);
      },
    });
    record.run = run;
    this.active.add(run);
    if (params.store) this.store.put(record);
    return { record, run, params };
  }

  private newResponse(params: CreateParams): ResponseObject {
    const reasoning = isReasoningModel(params.model);
    return {
      id: this.ids.response(),
      object: 'response',
      created_at: Math.floor(this.options.now() / 1000),
      status: params.background ? 'queued' : 'in_progress',
      background: params.background,
      completed_at: null,
      error: null,
      incomplete_details: null,
      instructions: params.instructions,
      max_output_tokens: params.maxOutputTokens,
      max_tool_calls: params.maxToolCalls,
      model: params.model,
      output: [],
      parallel_tool_calls: params.parallelToolCalls,
      previous_response_id: params.previousResponseId,
      reasoning: {
        effort: reasoning ? (params.reasoningEffort ?? 'medium') : null,
        summary: reasoning ? params.reasoningSummary : null,
      },
      service_tier: params.serviceTier,
      store: params.store,
      temperature: params.temperature,
      presence_penalty: params.presencePenalty,
      frequency_penalty: params.frequencyPenalty,
      text: params.text,
      tool_choice: params.toolChoice,
      tools: params.tools,
      top_logprobs: params.topLogprobs,
      top_p: params.topP,
      truncation: params.truncation,
      usage: emptyUsage(),
      metadata: params.metadata,
      safety_identifier: params.safetyIdentifier,
      prompt_cache_key: params.promptCacheKey,
      ...(params.user === null ? {} : { user: params.user }),
      ...(params.promptCacheRetention === null
        ? {}
        : { prompt_cache_retention: params.promptCacheRetention }),
    };
  }

  /**
   * `POST /v1/responses/compact`: the context (the chain named by `previous_response_id`, then
   * the input) as the user messages it holds, followed by one compaction item standing for all
   * of it. The compaction is not stored (it cannot be retrieved or chained from).
   */
  async compact(body: unknown): Promise<CompactionObject> {
    const params = parseCompactParams(body, this.options.assumptions);
    const { context } = await resolveContext(params.input, params.previousResponseId, {
      store: this.store,
      ids: this.ids,
      assumptions: this.options.assumptions,
    });
    const request = brainRequest(params.model, params.instructions, context, []);
    const inputTokens = contextInputTokens(request, context);
    const compacted: CompactedContext = {
      items: [...request.input],
      attachments: [...(request.attachments ?? [])],
      tokens: inputTokens,
    };
    const kept = context.filter(
      (item): item is MessageItem => item.type === 'message' && item.role === 'user',
    );
    const outputTokens = compactionTokens(compacted);
    return {
      id: this.ids.response(),
      object: 'response.compaction',
      created_at: Math.floor(this.options.now() / 1000),
      output: [
        ...kept,
        { id: this.ids.item('cmp'), type: 'compaction', encrypted_content: encodeCompaction(compacted) },
      ],
      usage: {
        input_tokens: inputTokens,
        input_tokens_details: { cached_tokens: 0, cache_write_tokens: inputTokens },
        output_tokens: outputTokens,
        output_tokens_details: { reasoning_tokens: 0 },
        total_tokens: inputTokens + outputTokens,
      },
    };
  }

  retrieve(id: string): StoredResponse {
    const record = this.store.get(id);
    if (!record) throw responseNotFound(id);
    return record;
  }

  /**
   * Cancels a background response that is queued or in progress. Cancelling it again returns it
   * as it is; cancelling one that finished otherwise is refused (see `Assumptions.cancelFinished`).
   */
  cancel(id: string): ResponseObject {
    const record = this.retrieve(id);
    const { response } = record;
    if (!response.background) throw invalidRequest(this.options.assumptions.cancelSyncMessage, null, null);
    if (record.run?.stop('cancelled') || response.status === 'cancelled') return response;
    if (this.options.assumptions.cancelFinished === 'return') return response;
    const what = response.status === 'incomplete' ? 'an incomplete' : `a ${response.status}`;
    throw invalidRequest(`Cannot cancel ${what} response.`, null, null);
  }

  delete(id: string): { id: string; object: 'response'; deleted: true } {
    const record = this.store.delete(id);
    if (!record) throw responseNotFound(id);
    record.run?.stop('cancelled');
    return { id, object: 'response', deleted: true };
  }

  listInputItems(id: string, query: ListQuery): ItemList {
    const record = this.retrieve(id);
    const scope = this.options.assumptions.inputItemsScope === 'context' ? record.context : record.inputItems;
    const { limit, order, after } = parseListQuery(query);
    const ordered = order === 'asc' ? scope : [...scope].reverse();
    let start = 0;
    if (after !== null) {
      const index = ordered.findIndex((item) => item.id === after);
      if (index < 0)
        throw invalidRequest(
          `Invalid 'after': no item with id '${after}' in this list.`,
          'after',
          'invalid_value',
        );
      start = index + 1;
    }
    const data = ordered.slice(start, start + limit).map(publicItem);
    return {
      object: 'list',
      data,
      has_more: start + limit < ordered.length,
      first_id: data[0]?.id ?? null,
      last_id: data.at(-1)?.id ?? null,
    };
  }

  /** Stops every generation still running (used when the server closes). */
  shutdown(): void {
    for (const run of [...this.active]) run.stop('cancelled');
  }
}

/** The usage of a response that has not finished: every count zero (see `ResponseObject.usage`). */
export function emptyUsage(): UsageWire {
  return {
    input_tokens: 0,
    input_tokens_details: { cached_tokens: 0, cache_write_tokens: 0 },
    output_tokens: 0,
    output_tokens_details: { reasoning_tokens: 0 },
    total_tokens: 0,
  };
}

/** An item as listed: reasoning items do not show their encrypted content unless asked. */
function publicItem(item: WireItem): WireItem {
  if (item.type !== 'reasoning' || item.encrypted_content === undefined) return item;
  const { encrypted_content: _hidden, ...rest } = item;
  return rest;
}

function parseListQuery(query: ListQuery): { limit: number; order: 'asc' | 'desc'; after: string | null } {
  let limit = 20;
  if (query.limit !== undefined && query.limit !== null) {
    limit = Number(query.limit);
    if (!Number.isInteger(limit))
      throw new ApiError(
        400,
        `Invalid 'limit': expected an integer, but got '${query.limit}' instead.`,
        'invalid_request_error',
        'limit',
        'invalid_type',
      );
    if (limit < 1 || limit > 100) {
      throw invalidRequest(
        `Invalid 'limit': integer out of range. Expected a value between 1 and 100, but got ${limit} instead.`,
        'limit',
        'invalid_value',
      );
    }
  }
  const order = query.order ?? 'desc';
  if (order !== 'asc' && order !== 'desc') {
    throw invalidRequest(
      `Invalid value: '${order}'. Supported values are: 'asc' and 'desc'.`,
      'order',
      'invalid_value',
    );
  }
  return { limit, order, after: query.after ?? null };
}
