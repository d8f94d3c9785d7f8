import type { Brain } from '../core/brain.js';
import { TerminalError } from '../core/errors.js';
import type { InputItem, OutputItem } from '../core/items.js';
import type { ModelClient, ModelRequest, ModelResult } from '../core/model-port.js';
import { ChainBrokenError, ModelCallAborted } from '../core/model-port.js';
import type { Clock } from '../core/ports.js';
import { replayItem } from '../core/context.js';
import { itemsTokens, outputTokens, requestTokens } from './tokens.js';

/**
 * A stored response. Its transcript (the whole context it saw, then its output as later requests
 * replay it) is its parent's transcript followed by `added`: a chain shares its prefix instead of
 * copying it into every response, which made storing a conversation quadratic.
 */
interface StoredResponse {
  parent: StoredResponse | null;
  /** The request's input, then the output as later requests replay it. */
  added: InputItem[];
  output: OutputItem[];
  inputTokens: number;
  /** The estimated tokens of the transcript's items (without instructions and tools). */
  transcriptTokens: number;
}

/**
 * A Responses-API model in the process: a brain behind the same rules the API enforces
 * (chains by `previous_response_id`, unstored responses cannot be chained, every function call
 * must be answered before new input). For tests and the simulator; the emulator is the HTTP twin.
 */
export class BrainModel implements ModelClient {
  private readonly responses = new Map<string, StoredResponse>();
  private counter = 0;

  constructor(
    private readonly brain: Brain,
    /**
     * `idPrefix` makes ids unique across processes (as the API's are): two processes sharing a
     * store must never mint the same response or call id.
     */
    private readonly options: {
      clock?: Clock;
      latencyMs?: (result: ModelResult) => number;
      idPrefix?: string;
    } = {},
  ) {}

  /**
   * Answers a request at once (no latency): resolves the chain, runs the brain, stores the response.
   * `context`, when given, must be what `context(request)` returned (it saves resolving the chain twice).
   */
  respond(request: ModelRequest, context?: InputItem[]): ModelResult {
    // A given context was checked when `context(request)` made it.
    const parent = this.parentOf(request, context === undefined);
    const input = context ?? this.checkedContext(parent, request);
    const outputs = this.brain({
      model: request.model,
      instructions: request.instructions,
      input,
      tools: request.tools,
    });
    const p = this.options.idPrefix ?? '';
    const output: OutputItem[] = outputs.map((o) => {
      const n = `${p}${(this.counter += 1)}`;
      return o.type === 'message'
        ? {
            type: 'message',
            id: `msg_${n}`,
            role: 'assistant',
            status: 'completed',
            content: [{ type: 'output_text', text: o.text, annotations: [] }],
          }
        : {
            type: 'function_call',
            id: `fc_${n}`,
            call_id: `call_${n}`,
            name: o.name,
            arguments: o.arguments,
            status: 'completed',
          };
    });
    const responseId = `resp_${p}${(this.counter += 1)}`;
    // The prefix's tokens were counted when the parent was stored: only this request's input is new.
    const contextItemTokens = (parent?.transcriptTokens ?? 0) + itemsTokens(request.input);
    const inputTokens = requestTokens(request) + contextItemTokens;
    if (request.store) {
      const replayed = output.map(replayItem);
      this.responses.set(responseId, {
        parent,
        added: [...request.input, ...replayed],
        output,
        inputTokens,
        transcriptTokens: contextItemTokens + itemsTokens(replayed),
      });
    }
    return {
      responseId,
      output,
      status: 'completed',
      usage: {
        inputTokens,
        cachedInputTokens: parent ? parent.inputTokens : 0,
        outputTokens: outputTokens(output),
        reasoningTokens: 0,
      },
    };
  }

  async create(request: ModelRequest, { signal }: { signal: AbortSignal }): Promise<ModelResult> {
    if (signal.aborted) throw new ModelCallAborted();
    const result = this.respond(request);
    const clock = this.options.clock;
    const delayMs = this.options.latencyMs?.(result) ?? 0;
    if (!clock || delayMs <= 0) return result;
    await new Promise<void>((resolve, reject) => {
      const cancel = clock.setTimer(clock.now() + delayMs, resolve);
      signal.addEventListener(
        'abort',
        () => {
          cancel();
          reject(new ModelCallAborted());
        },
        { once: true },
      );
    });
    return result;
  }

  /** The full context of a request, checked the way the API checks it. */
  context(request: ModelRequest): InputItem[] {
    return this.checkedContext(this.parentOf(request), request);
  }

  /** The response a request chains from (null for none); `check`: with its function calls all answered. */
  private parentOf(request: ModelRequest, check = true): StoredResponse | null {
    if (request.previousResponseId === null) return null;
    const parent = this.responses.get(request.previousResponseId);
    if (!parent)
      throw new ChainBrokenError(`Previous response with id '${request.previousResponseId}' not found.`);
    if (check) checkAnswered(parent.output, request.input);
    return parent;
  }

  private checkedContext(parent: StoredResponse | null, request: ModelRequest): InputItem[] {
    // The parent's transcript passed this check when it was stored, and replayed output holds no
    // function_call_output: only this request's input can break the rule.
    checkOutputsHaveCalls(parent, request.input);
    return [...transcriptOf(parent), ...request.input];
  }
}

/** A stored response's transcript, materialised: its ancestors' additions, oldest first. */
function transcriptOf(response: StoredResponse | null): InputItem[] {
  const chain: StoredResponse[] = [];
  for (let r = response; r !== null; r = r.parent) chain.push(r);
  const items: InputItem[] = [];
  for (let i = chain.length - 1; i >= 0; i -= 1) for (const item of chain[i]!.added) items.push(item);
  return items;
}

function checkAnswered(parentOutput: readonly OutputItem[], input: readonly InputItem[]): void {
  const answered = new Set(input.flatMap((i) => (i.type === 'function_call_output' ? [i.call_id] : [])));
  for (const item of parentOutput) {
    if (item.type === 'function_call' && !answered.has(item.call_id)) {
      throw new TerminalError(
        `No tool output found for function call ${item.call_id}.`,
        'invalid_request_error',
      );
    }
  }
}

/** Every function_call_output of `input` follows its function call, in `input` or in the transcript before it. */
function checkOutputsHaveCalls(parent: StoredResponse | null, input: readonly InputItem[]): void {
  const calls = new Set<string>();
  for (const item of input) {
    if (item.type === 'function_call') calls.add(item.call_id);
    if (item.type === 'function_call_output' && !calls.has(item.call_id) && !hasCall(parent, item.call_id)) {
      throw new TerminalError(
        `No tool call found for function call output with call_id ${item.call_id}.`,
        'invalid_request_error',
      );
    }
  }
}

/** Whether a transcript holds a function call, searched newest first (an output usually answers the parent). */
function hasCall(response: StoredResponse | null, callId: string): boolean {
  for (let r = response; r !== null; r = r.parent) {
    for (let i = r.added.length - 1; i >= 0; i -= 1) {
      const item = r.added[i]!;
      if (item.type === 'function_call' && item.call_id === callId) return true;
    }
  }
  return false;
}
