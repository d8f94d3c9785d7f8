import { ApiError, incorrectApiKey, invalidRequest, missingApiKey, responseNotFound } from './api-error.js';
import { brainRequest, inputUsage } from './brain-request.js';
import { resolveContext } from './context.js';
import { createFaultSource, type FaultDraw } from './faults.js';
import { isReasoningModel } from './generation.js';
import type { ResolvedOptions } from './options.js';
import { createIdSource, seededRng, type IdSource } from './rng.js';
import { ResponseRun } from './run.js';
import { ResponseStore, type StoredResponse } from './store.js';
import { parseCreateParams, type CreateParams } from './validate-request.js';
import type { ResponseObject, WireItem } from './wire.js';

/** A response just created and not started yet. */
export interface CreatedResponse {
  record: StoredResponse;
  run: ResponseRun;
  params: CreateParams;
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
  async create(body: unknown): Promise<CreatedResponse> {
    this.stats.creates++;
    const fault = this.drawFaults();
    if (fault.error) throw fault.error;
    const { assumptions } = this.options;
    const params = parseCreateParams(body, assumptions);
    const { parent, inputItems, context } = await resolveContext(params.input, params.previousResponseId, {
      store: this.store,
      ids: this.ids,
      assumptions,
    });
    const response = this.newResponse(params);
    const record: StoredResponse = { response, inputItems, context, streamed: params.stream, run: null };
    const request = brainRequest(params.model, params.instructions, context, params.tools);
    const usage = inputUsage(request, parent, params.tools);
    const run = new ResponseRun(response, {
      brain: this.options.brain,
      brainRequest: params.toolChoice === 'none' ? { ...request, tools: [] } : request,
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
      max_tool_calls: null,
      model: params.model,
      output: [],
      parallel_tool_calls: params.parallelToolCalls,
      previous_response_id: params.previousResponseId,
      reasoning: { effort: reasoning ? (params.reasoningEffort ?? 'medium') : null, summary: null },
      service_tier: 'default',
      store: params.store,
      temperature: params.temperature,
      text: { format: { type: 'text' } },
      tool_choice: params.toolChoice,
      tools: params.tools,
      top_logprobs: 0,
      top_p: params.topP,
      truncation: params.truncation,
      metadata: params.metadata,
      ...(params.user === null ? {} : { user: params.user }),
    };
  }

  retrieve(id: string): StoredResponse {
    const record = this.store.get(id);
    if (!record) throw responseNotFound(id);
    return record;
  }

  /** Cancels a background response; a finished one is returned as it is. */
  cancel(id: string): ResponseObject {
    const record = this.retrieve(id);
    if (!record.response.background)
      throw invalidRequest(this.options.assumptions.cancelSyncMessage, null, null);
    record.run?.stop('cancelled');
    return record.response;
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
