import { RetryableError } from '../core/errors.js';
import type { InputItem } from '../core/items.js';
import { messageText } from '../core/items.js';
import type { ModelClient, ModelRequest, ModelResult } from '../core/model-port.js';
import { ModelCallAborted } from '../core/model-port.js';
import type { Brain } from '../core/brain.js';
import type { EffectStatus } from '../core/events.js';
import type { Clock } from '../core/ports.js';
import { BrainModel } from '../model/brain-model.js';
import { noticeStatus } from './adversarial-brain.js';
import type { ConversationRecord, ModelCallRecord, Recorder } from './recorder.js';
import type { KeyedRandom } from './rng.js';
import type { VirtualClock } from './virtual-clock.js';

export interface LatencyModel {
  firstTokenMedianMs: number;
  firstTokenSigma: number;
  perOutputTokenMs: number;
  toolMedianMs: number;
  toolSigma: number;
}

export const defaultLatency: LatencyModel = {
  firstTokenMedianMs: 700,
  firstTokenSigma: 0.5,
  perOutputTokenMs: 20,
  toolMedianMs: 200,
  toolSigma: 0.7,
};

export interface Faults {
  rate429: number;
  rate500: number;
  stallRate: number;
  toolFailureRate: number;
}

export const noFaults: Faults = { rate429: 0, rate500: 0, stallRate: 0, toolFailureRate: 0 };
export const defaultFaults: Faults = { rate429: 0.05, rate500: 0.02, stallRate: 0.01, toolFailureRate: 0.02 };

/** The key of the customer's latest message at a moment: draws are keyed by it. */
export function latestMessageKey(record: ConversationRecord): string {
  return record.messages.at(-1)?.id ?? 'none';
}

/**
 * What the checker needs to know of a call's context in the adversarial world: graft's ledger
 * when the call was requested (by graft's call id), or nothing for a strategy without a ledger.
 */
export interface ContextWitness {
  /** Each effect's status by tool call id; null when the call id is unknown; undefined: no ledger at all. */
  ledger(callId: string | undefined): ReadonlyMap<string, EffectStatus> | null | undefined;
}

/**
 * The simulated model of one conversation: the shop clerk behind `BrainModel`, with keyed
 * latency and faults on virtual time, recording what every call's context held.
 */
export class SimModel implements ModelClient {
  private readonly inner: BrainModel;
  private readonly callsSince = new Map<string, number>();

  constructor(
    brain: Brain,
    private readonly env: {
      clock: VirtualClock;
      rng: KeyedRandom;
      recorder: Recorder;
      latency: LatencyModel;
      faults: Faults;
    },
    private readonly record: ConversationRecord,
    private readonly witness: ContextWitness | null = null,
  ) {
    this.inner = new BrainModel(brain);
  }

  create(request: ModelRequest, options: { signal: AbortSignal }): Promise<ModelResult> {
    return this.createOn(this.env.clock, request, options);
  }

  /**
   * The same model, seen from one graft instance: its latency runs on that instance's clock (a
   * stalled instance hears the answer when it wakes). Responses are shared, as on the real API.
   */
  via(clock: Clock): ModelClient {
    return { create: (request, options) => this.createOn(clock, request, options) };
  }

  private async createOn(
    timers: Clock,
    request: ModelRequest,
    { signal }: { signal: AbortSignal },
  ): Promise<ModelResult> {
    const { clock, rng, latency, faults, recorder } = this.env;
    const messageKey = latestMessageKey(this.record);
    const n = (this.callsSince.get(messageKey) ?? 0) + 1;
    this.callsSince.set(messageKey, n);
    const key = [this.record.conversationId, messageKey, n];
    const fault = rng.uniform(...key, 'fault');
    const context = this.inner.context(request);
    const call: ModelCallRecord = {
      at: clock.now(),
      op: recorder.nextOp(),
      held: heldEffects(context, recorder, this.record.conversationId),
      userTexts: userTexts(context),
      inputTokens: 0,
      outputTokens: 0,
      aborted: false,
    };
    if (this.witness) this.witnessContext(call, request, context);
    this.record.calls.push(call);
    // Rejected calls are not billed: the request never reached the model.
    if (fault < faults.rate429)
      return this.failAfter(
        timers,
        signal,
        80,
        stackless(() => new RetryableError('429 rate limited', 1_000, 'rate_limit_exceeded')),
      );
    if (fault < faults.rate429 + faults.rate500)
      return this.failAfter(
        timers,
        signal,
        300,
        stackless(() => new RetryableError('500 server error', null, 'server_error')),
      );
    const index = this.record.calls.length - 1;
    const result = this.inner.respond(request, context);
    call.inputTokens = result.usage.inputTokens;
    const stall = fault < faults.rate429 + faults.rate500 + faults.stallRate;
    const firstTokenMs =
      latency.firstTokenMedianMs * Math.exp(latency.firstTokenSigma * rng.normal(...key, 'ttft'));
    const totalMs = stall
      ? Number.POSITIVE_INFINITY
      : firstTokenMs + latency.perOutputTokenMs * result.usage.outputTokens;
    const started = timers.now();
    await new Promise<void>((resolve, reject) => {
      const cancel = Number.isFinite(totalMs) ? timers.setTimer(started + totalMs, resolve) : () => undefined;
      signal.addEventListener(
        'abort',
        () => {
          cancel();
          const elapsed = timers.now() - started;
          const generated = stall
            ? 0
            : Math.max(
                0,
                Math.min(
                  result.usage.outputTokens,
                  Math.floor((elapsed - firstTokenMs) / latency.perOutputTokenMs),
                ),
              );
          call.outputTokens = generated;
          call.aborted = true;
          reject(stackless(() => new ModelCallAborted({ ...result.usage, outputTokens: generated })));
        },
        { once: true },
      );
    });
    call.outputTokens = result.usage.outputTokens;
    if (this.witness) call.responseId = result.responseId;
    for (const item of result.output)
      if (item.type === 'function_call')
        recorder.requestedBy.set(`${this.record.conversationId}/${item.call_id}`, index);
    return result;
  }

  /** Links the call to graft's log and reads the status of every tool call its context holds. */
  private witnessContext(call: ModelCallRecord, request: ModelRequest, context: readonly InputItem[]): void {
    call.callId = request.callId;
    const ledger = this.witness!.ledger(request.callId);
    if (ledger !== undefined) call.ledger = ledger;
    call.seen = seenStatuses(context, this.env.recorder, this.record.conversationId);
    call.repeatedCallIds = repeatedCallIds(context);
  }

  private async failAfter(clock: Clock, signal: AbortSignal, ms: number, error: Error): Promise<never> {
    await new Promise<void>((resolve, reject) => {
      const cancel = clock.setTimer(clock.now() + ms, resolve);
      signal.addEventListener('abort', () => (cancel(), reject(stackless(() => new ModelCallAborted()))), {
        once: true,
      });
    });
    throw error;
  }
}

/**
 * Makes an error without capturing a stack trace. Aborted and failed calls are the simulator's
 * everyday control flow (thousands a run), nobody reads their stacks, and capturing one costs
 * more than the rest of the abort.
 */
function stackless<E extends Error>(make: () => E): E {
  const limit = Error.stackTraceLimit;
  Error.stackTraceLimit = 0;
  try {
    return make();
  } finally {
    Error.stackTraceLimit = limit;
  }
}

/** The texts of the customer's messages in a context. */
function userTexts(context: readonly InputItem[]): string[] {
  const texts: string[] = [];
  for (const item of context)
    if (item.type === 'message' && item.role === 'user') texts.push(messageText(item));
  return texts;
}

/** The tool call ids of the effects whose output is in a context (grafts name their effect). */
function heldEffects(context: readonly InputItem[], recorder: Recorder, conversationId: string): Set<string> {
  const held = new Set<string>();
  for (const item of context) {
    if (item.type !== 'function_call_output') continue;
    const graft = item.call_id.startsWith('graft_') ? /^graft_(.+)_\d+$/.exec(item.call_id) : null;
    held.add(
      graft ? (recorder.effectCalls.get(`${conversationId}/${graft[1]!}`) ?? item.call_id) : item.call_id,
    );
  }
  return held;
}

/**
 * The status the context gives each tool call whose output it holds (the last output wins: a
 * graft's later pair updates its effect), by the model's tool call id. A graft's call id
 * (`graft_<effectId>_<n>`) is mapped to its effect's tool call id. graft's notices say running,
 * unknown or awaiting approval, or "not executed" (a write that did not happen: failed, as a
 * rejected, expired or withdrawn request is); an `{"error": …}` output is a failure; anything
 * else is a result: done.
 */
export function seenStatuses(
  context: readonly InputItem[],
  recorder: Recorder,
  conversationId: string,
): Map<string, EffectStatus> {
  const seen = new Map<string, EffectStatus>();
  for (const item of context) {
    if (item.type !== 'function_call_output') continue;
    const graft = item.call_id.startsWith('graft_') ? /^graft_(.+)_\d+$/.exec(item.call_id) : null;
    const id = graft
      ? (recorder.effectCalls.get(`${conversationId}/${graft[1]!}`) ?? item.call_id)
      : item.call_id;
    seen.set(id, statusOfOutput(item.output));
  }
  return seen;
}

function statusOfOutput(output: string): EffectStatus {
  const notice = noticeStatus(output);
  if (notice === 'running' || notice === 'unknown') return notice;
  if (notice === 'awaiting_approval') return 'awaiting';
  if (notice === 'not_executed' || output.startsWith('{"error"')) return 'failed';
  return 'done';
}

/** Call ids that two function calls of one context share (each pair of a context must be unambiguous). */
function repeatedCallIds(context: readonly InputItem[]): string[] {
  const ids = new Set<string>();
  const repeated = new Set<string>();
  for (const item of context) {
    if (item.type !== 'function_call') continue;
    if (ids.has(item.call_id)) repeated.add(item.call_id);
    ids.add(item.call_id);
  }
  return [...repeated];
}
