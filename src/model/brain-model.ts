import type { Brain } from '../core/brain.js';
import { TerminalError } from '../core/errors.js';
import type { InputItem, OutputItem } from '../core/items.js';
import type { ModelClient, ModelRequest, ModelResult } from '../core/model-port.js';
import { ChainBrokenError, ModelCallAborted } from '../core/model-port.js';
import type { Clock } from '../core/ports.js';
import { replayItem } from '../core/context.js';
import { contextTokens, outputTokens } from './tokens.js';

interface StoredResponse {
  /** The whole context the response saw, then its output as later requests replay it. */
  transcript: InputItem[];
  output: OutputItem[];
  inputTokens: number;
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
    private readonly options: { clock?: Clock; latencyMs?: (result: ModelResult) => number; idPrefix?: string } = {},
  ) {}

  /** Answers a request at once (no latency): resolves the chain, runs the brain, stores the response. */
  respond(request: ModelRequest, context: InputItem[] = this.context(request)): ModelResult {
    const outputs = this.brain({ model: request.model, instructions: request.instructions, input: context, tools: request.tools });
    const p = this.options.idPrefix ?? '';
    const output: OutputItem[] = outputs.map((o) => {
      const n = `${p}${(this.counter += 1)}`;
      return o.type === 'message'
        ? { type: 'message', id: `msg_${n}`, role: 'assistant', status: 'completed', content: [{ type: 'output_text', text: o.text, annotations: [] }] }
        : { type: 'function_call', id: `fc_${n}`, call_id: `call_${n}`, name: o.name, arguments: o.arguments, status: 'completed' };
    });
    const responseId = `resp_${p}${(this.counter += 1)}`;
    const inputTokens = contextTokens({ instructions: request.instructions, input: context, tools: request.tools });
    const parent = request.previousResponseId ? this.responses.get(request.previousResponseId) : undefined;
    if (request.store) this.responses.set(responseId, { transcript: [...context, ...output.map(replayItem)], output, inputTokens });
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
      signal.addEventListener('abort', () => {
        cancel();
        reject(new ModelCallAborted());
      }, { once: true });
    });
    return result;
  }

  /** The full context of a request, checked the way the API checks it. */
  context(request: ModelRequest): InputItem[] {
    let prefix: InputItem[] = [];
    if (request.previousResponseId !== null) {
      const parent = this.responses.get(request.previousResponseId);
      if (!parent) throw new ChainBrokenError(`Previous response with id '${request.previousResponseId}' not found.`);
      prefix = parent.transcript;
      checkAnswered(parent.output, request.input);
    }
    const context = [...prefix, ...request.input];
    checkOutputsHaveCalls(context);
    return context;
  }
}

function checkAnswered(parentOutput: readonly OutputItem[], input: readonly InputItem[]): void {
  const answered = new Set(input.flatMap((i) => (i.type === 'function_call_output' ? [i.call_id] : [])));
  for (const item of parentOutput) {
    if (item.type === 'function_call' && !answered.has(item.call_id)) {
      throw new TerminalError(`No tool output found for function call ${item.call_id}.`, 'invalid_request_error');
    }
  }
}

function checkOutputsHaveCalls(context: readonly InputItem[]): void {
  const calls = new Set<string>();
  for (const item of context) {
    if (item.type === 'function_call') calls.add(item.call_id);
    if (item.type === 'function_call_output' && !calls.has(item.call_id)) {
      throw new TerminalError(`No tool call found for function call output with call_id ${item.call_id}.`, 'invalid_request_error');
    }
  }
}
