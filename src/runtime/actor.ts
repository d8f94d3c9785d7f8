import type { Command, CommandOf } from '../core/commands.js';
import type { CoreConfig } from '../core/config.js';
import { toolBounds } from '../core/config.js';
import { InvariantViolation, RetryableError, TerminalError, invariant } from '../core/errors.js';
import type { ClassifiedCall, DeadLetterReason, EventBody, FailureKind, GraftEvent } from '../core/events.js';
import { EVENT_VERSION } from '../core/events.js';
import type { ConversationId, MessageId, ReplyId, TenantId } from '../core/ids.js';
import type { OutputItem, Usage } from '../core/items.js';
import { ChainBrokenError, ModelCallAborted } from '../core/model-port.js';
import { plan } from '../core/plan.js';
import type {
  Clock,
  ConversationKey,
  Deliverer,
  DeliveryBounds,
  EventStore,
  ModelClient,
  ToolRunResult,
  ToolRunner,
} from '../core/ports.js';
import { ConflictError, DuplicateMessageError, deliveryIdOf } from '../core/ports.js';
import type { ConversationState } from '../core/state.js';
import { awaitingDelivery, evolve, initialState, leased, unfinished } from '../core/state.js';
import { notices } from '../core/context.js';
import { sanitizeOutput } from './output.js';

export interface RuntimeDeps {
  tenantId: TenantId;
  store: EventStore;
  model: ModelClient;
  tools: ToolRunner;
  deliverer: Deliverer;
  /** When a failing delivery is given up on (dead-lettered). */
  delivery: DeliveryBounds;
  clock: Clock;
  config: CoreConfig;
  /** A model call running longer than this is aborted and retried. */
  modelTimeoutMs: number;
  /**
   * Called once for every event of the log, when it is folded in (server-sent events, metrics,
   * logs, tests), with where it came from: `appended` by this instance just now, or `read` from the
   * store (another instance's append, or an older process's, folded when the log is read).
   */
  onEvent?: (
    conversationId: string,
    event: GraftEvent,
    state: ConversationState,
    source: EventSource,
  ) => void;
  /** Called when background work fails in a way graft cannot handle (a bug, or a store outage). */
  onError?: (error: unknown) => void;
  /** Called at the named points where a crash is most interesting (the crash tests kill the process there). */
  onCrashPoint?: (point: CrashPoint) => void;
  /**
   * Re-read the log this often while other instances may be changing it (work in flight, or work
   * owned by another instance). Off (null) when one process owns the store.
   */
  pollMs: number | null;
}

/**
 * Where an event came from: `appended` by this instance (each is appended by exactly one
 * instance, so counting only these and summing over instances counts each event once), or `read`
 * back from the log.
 */
export type EventSource = 'appended' | 'read';

/** Where the crash tests kill a process. */
export type CrashPoint =
  'before-append' | 'model-call' | 'effect-started' | 'tool-ran' | 'reply-committed' | 'reconciling';

const MAX_DECISIONS_PER_DRIVE = 1_000;
const NEVER_ABORTED = new AbortController().signal;
/**
 * The reason every abort gives: what `abort()` would make, made once (a DOMException with a stack
 * per abort is a few percent of the simulator's time).
 */
export const ABORTED = new DOMException('This operation was aborted', 'AbortError');
const MAX_CONFLICT_RETRIES = 100;
/** The reason a tool's signal gives at its time bound. */
const TOOL_TIMED_OUT = new DOMException('The tool ran past its time bound', 'TimeoutError');

/**
 * One conversation's actor: the imperative shell around `plan`. It serializes everything that
 * touches the state, appends decisions at the expected seq (a conflict: reload, decide again),
 * runs the I/O the core asks for once each, and feeds the results back as events.
 */
export class ConversationActor {
  private state: ConversationState;
  private loaded = false;
  private queue: Promise<unknown> = Promise.resolve();
  private queued = 0;
  private readonly running = new Map<string, AbortController | null>();
  /** The writes this process started: only these does it run (see `execute`). */
  private readonly startedHere = new Set<string>();
  /**
   * What a write that ran here returned, until it is in the log. A store that fails the append
   * must not lose it: the write is never run again, its fact is appended again (see `execute`).
   */
  private readonly unrecorded = new Map<string, EventBody>();
  /** The last seq `onEvent` heard. */
  private heard = 0;
  private timer: { at: number; cancel: () => void } | null = null;
  private poll: (() => void) | null = null;
  /** A wake after a store failure (see `retrySoon`), and how many came in a row. */
  private retry: (() => void) | null = null;
  private retries = 0;
  /** Shutting down (see `drain`): no decision is appended and no I/O starts but deliveries. */
  private draining = false;
  /** Deliveries waiting to retry: `drain` cuts their wait short (one more try). */
  private readonly backoffs = new Set<() => void>();
  private readonly key: ConversationKey;

  constructor(
    readonly conversationId: ConversationId,
    private readonly deps: RuntimeDeps,
  ) {
    this.state = initialState(conversationId);
    this.key = { tenantId: deps.tenantId, conversationId };
  }

  /** The conversation as folded so far (read-only for callers). */
  get snapshot(): ConversationState {
    return this.state;
  }

  /** True when nothing is queued and no I/O is in flight. */
  get idle(): boolean {
    return this.queued === 0 && this.running.size === 0;
  }

  /** True when the actor can be dropped and loaded again later: idle, no timer, no work left. */
  get atRest(): boolean {
    return (
      this.idle && this.timer === null && this.poll === null && this.retry === null && !unfinished(this.state)
    );
  }

  /**
   * True when the actor holds nothing that its log would not give back: no work queued, no I/O in
   * flight, no write result waiting to be recorded, no retry after a store failure. Such an actor
   * may be dropped (its timers stopped) and loaded again from the store when next needed.
   */
  get dormant(): boolean {
    return this.loaded && this.idle && this.retry === null && this.unrecorded.size === 0 && !this.draining;
  }

  /** Appends an inbound message (once per message id), then drives the conversation on. */
  receive(
    messageId: MessageId,
    text: string,
    metadata?: Record<string, unknown>,
  ): Promise<'accepted' | 'duplicate'> {
    return this.enqueue(async () => {
      await this.load();
      if (this.state.messageIndex.has(messageId)) return 'duplicate';
      const body: EventBody = {
        type: 'message.received',
        messageId,
        text,
        ...(metadata ? { metadata } : {}),
      };
      try {
        await this.appendFact(body);
      } catch (error) {
        if (!(error instanceof DuplicateMessageError)) throw error;
        await this.reload();
        return 'duplicate';
      }
      // The message is in the log: a store failure from here on is retried, not the caller's.
      await this.drive().catch((error: unknown) => {
        if (!(error instanceof RetryableError)) throw error;
        this.retrySoon();
      });
      return 'accepted';
    });
  }

  /**
   * Delivers a dead-lettered reply again (its bounds start over). `not-found` when the conversation
   * has no such reply, `not-dead-lettered` when it is not dead-lettered (delivered, or still trying).
   */
  redeliver(replyId: ReplyId): Promise<'redelivering' | 'not-found' | 'not-dead-lettered'> {
    return this.enqueue(async () => {
      await this.load();
      const reply = this.state.replyIndex.get(replyId);
      if (!reply) return 'not-found';
      if (reply.delivery !== 'dead-lettered') return 'not-dead-lettered';
      const deliveryId = deliveryIdOf(this.key, replyId);
      await this.appendFact({ type: 'reply.redelivery-requested', replyId, deliveryId });
      await this.drive();
      return this.state.replyIndex.get(replyId)?.delivery === 'dead-lettered'
        ? 'not-dead-lettered'
        : 'redelivering';
    });
  }

  /**
   * Appends a person's act (see core/operator.ts): `act` turns the state into the event, or throws
   * an `OperatorError` when the state does not allow it. A conflict reads on and asks again, so
   * the act is decided on the state it lands after. Then the conversation is driven on.
   */
  operate(act: (state: ConversationState) => EventBody): Promise<GraftEvent> {
    return this.enqueue(async () => {
      // Read on first: the person acts on what they were shown (`approvals()` reads the store),
      // which may be newer than this instance has heard.
      if (this.loaded) await this.reload();
      for (let tries = 0; tries < MAX_CONFLICT_RETRIES; tries += 1) {
        await this.load();
        const body = act(this.state);
        let appended: GraftEvent[];
        try {
          appended = await this.foldAndAppend([body]);
        } catch (error) {
          if (error instanceof ConflictError) continue;
          throw error;
        }
        // An approved write is this instance's to run (it owns it).
        if (body.type === 'effect.approved') this.startedHere.add(body.effectId);
        await this.drive().catch((error: unknown) => {
          if (!(error instanceof RetryableError)) throw error;
          this.retrySoon();
        });
        return appended[0]!;
      }
      throw new InvariantViolation(
        `conversation ${this.conversationId}: ${MAX_CONFLICT_RETRIES} append conflicts in a row`,
      );
    });
  }

  /** Loads (or reads on in) the log and resumes whatever it holds (recovery, a store notification). */
  wake(): Promise<void> {
    return this.enqueue(async () => {
      // Woken by another instance's append too: read what it appended.
      if (this.loaded) await this.reload();
      else await this.load();
      await this.drive();
    });
  }

  private enqueue<T>(work: () => Promise<T>): Promise<T> {
    this.queued += 1;
    const result = this.queue.then(work).finally(() => {
      this.queued -= 1;
    });
    this.queue = result.catch(() => undefined);
    return result;
  }

  /** Runs `work` in the queue; its failures go to `onError` (background work has no caller). */
  private background(work: () => Promise<void>): void {
    this.enqueue(work).catch((error: unknown) => this.fail(error));
  }

  private fail(error: unknown): void {
    if (error instanceof RetryableError) this.retrySoon();
    if (this.deps.onError) this.deps.onError(error);
    else
      queueMicrotask(() => {
        throw error;
      });
  }

  /**
   * A store outage failed work that no caller waits for: with one instance nothing else would wake
   * the conversation, so it wakes itself, with backoff (100 ms doubling to 2 s), until a drive gets
   * through.
   */
  private retrySoon(): void {
    if (this.retry !== null) return;
    const delayMs = Math.min(2_000, 100 * 2 ** Math.min(this.retries, 10));
    this.retries += 1;
    this.retry = this.deps.clock.setTimer(this.deps.clock.now() + delayMs, () => {
      this.retry = null;
      this.background(async () => {
        if (this.loaded) await this.reload();
        else await this.load();
        await this.drive();
        this.retries = 0;
      });
    });
  }

  private async load(): Promise<void> {
    if (this.loaded) return;
    await this.reload();
    this.loaded = true;
  }

  private async reload(): Promise<void> {
    const events = await this.deps.store.read(this.key, this.state.seq);
    for (const event of events) this.fold(event);
  }

  private fold(event: GraftEvent): void {
    this.state = evolve(this.state, event);
    this.hear(event, 'read');
  }

  /** Tells `onEvent` of an event once, however often the log is folded again. */
  private hear(event: GraftEvent, source: EventSource): void {
    if (event.seq <= this.heard) return;
    this.heard = event.seq;
    this.deps.onEvent?.(this.conversationId, event, this.state, source);
  }

  /**
   * Folds events into the state, then appends them at the seq the state had before (the gate),
   * with whether work is left once they are in — read off the state they built, so that there is
   * one fold of the events. If the append fails they never happened: the state is folded again
   * from the log, and the error is thrown. `onEvent` hears them once they are appended.
   */
  private async foldAndAppend(bodies: readonly EventBody[]): Promise<GraftEvent[]> {
    const expectedSeq = this.state.seq;
    const events = this.stamp(bodies);
    try {
      for (const event of events) this.state = evolve(this.state, event);
      this.deps.onCrashPoint?.('before-append');
      await this.deps.store.append(this.key, expectedSeq, events, { unfinished: unfinished(this.state) });
    } catch (error) {
      await this.refold().catch(() => undefined); // a store that is down: `load` tries again before the state is used
      throw error;
    }
    for (const event of events) this.hear(event, 'appended');
    return events;
  }

  /**
   * Folds the whole log again: events folded ahead of a failed append are void. Until the log has
   * been read, the actor is not loaded, and nothing decides on its state (`drive` and `appendFact`
   * load first): a decision made on a state that lacks the log's events could lose a write's result
   * and run the write again.
   */
  private async refold(): Promise<void> {
    this.loaded = false;
    this.state = initialState(this.conversationId);
    await this.load();
  }

  private stamp(bodies: readonly EventBody[]): GraftEvent[] {
    const at = this.deps.clock.now();
    return bodies.map((body, i) => ({ ...body, v: EVENT_VERSION, seq: this.state.seq + i + 1, at }));
  }

  /**
   * Appends a fact from the outside world, after whatever got in first — unless the state has
   * moved past it meanwhile (another instance took the call over, or recorded the effect).
   */
  private async appendFact(fact: EventBody, source: FactSource = 'other'): Promise<void> {
    for (let tries = 0; tries < MAX_CONFLICT_RETRIES; tries += 1) {
      await this.load();
      const body = news(this.state, fact, source, this.deps.clock.now() + this.deps.config.limits.leaseMs);
      if (body === null) return;
      try {
        await this.foldAndAppend([body]);
        return;
      } catch (error) {
        // Another event got in first (the state now holds it): see what the fact still tells.
        if (!(error instanceof ConflictError)) throw error;
      }
    }
    throw new InvariantViolation(
      `conversation ${this.conversationId}: ${MAX_CONFLICT_RETRIES} append conflicts in a row`,
    );
  }

  /** Decides and appends until the core asks only for I/O, then starts that I/O. */
  private async drive(): Promise<void> {
    // A draining instance records what its I/O in flight found, and decides nothing more: the
    // instance that takes the conversation over (or this one, restarted) decides on the same log.
    if (this.draining) return;
    for (let step = 0; step < MAX_DECISIONS_PER_DRIVE; step += 1) {
      await this.load();
      const next = plan(this.state, this.deps.config, this.deps.clock.now());
      if (next.kind === 'io') {
        next.commands.forEach((c) => this.execute(c));
        if (next.wakeAt === null) this.clearWake();
        else this.setWake(next.wakeAt);
        this.schedulePoll();
        return;
      }
      try {
        const events = await this.foldAndAppend(next.events);
        for (const e of events)
          if (e.type === 'effect.started') e.effects.forEach((x) => this.startedHere.add(x.effectId));
      } catch (error) {
        // The gate: another event got in first, so this decision is void. Decide again on the new state.
        if (!(error instanceof ConflictError)) throw error;
      }
    }
    throw new InvariantViolation(`conversation ${this.conversationId}: decisions did not settle`);
  }

  private execute(command: Command): void {
    switch (command.type) {
      case 'call-model':
        return this.once(`call:${command.callId}`, true, (signal) => this.callModel(command, signal));
      case 'abort-model':
        this.running.get(`call:${command.callId}`)?.abort(ABORTED);
        return;
      case 'run-write':
        // A write an earlier process with this instance id started (and died running) may have
        // happened: it is reconciled, never run again blindly.
        if (!this.startedHere.has(command.effectId))
          return this.once(`write:${command.effectId}`, false, () => this.orphanedWrite(command));
        if (this.unrecorded.has(command.effectId))
          return this.once(`write:${command.effectId}`, false, () => this.recordWrite(command.effectId));
        return this.once(`write:${command.effectId}`, false, () => this.runWrite(command));
      case 'run-read':
        return this.once(`read:${command.origin.callId}/${command.origin.toolCallId}`, false, () =>
          this.runRead(command),
        );
      case 'deliver':
        return this.once(`deliver:${command.replyId}`, false, () => this.deliver(command));
      case 'reconcile':
        return this.once(`reconcile:${command.effectId}`, false, () => this.reconcile(command));
    }
  }

  /** Starts I/O under `key` unless it already runs; tools are never aborted, model calls may be. */
  private once(key: string, abortable: boolean, work: (signal: AbortSignal) => Promise<void>): void {
    if (this.running.has(key)) return;
    const controller = abortable ? new AbortController() : null;
    this.running.set(key, controller);
    work(controller?.signal ?? NEVER_ABORTED)
      .catch((error: unknown) => this.fail(error))
      .finally(() => this.running.delete(key));
  }

  /**
   * With several instances on one store, another may append at any time (a message that
   * supersedes our attempt, a claim on it): re-read the log while anything is in flight or
   * owned elsewhere. Notifications (`watch`) make this faster; correctness needs only the poll.
   */
  private schedulePoll(): void {
    const pollMs = this.deps.pollMs;
    if (pollMs === null || this.poll !== null) return;
    const busy =
      this.running.size > 0 ||
      this.state.live !== null ||
      [...this.state.effects.values()].some(leased) ||
      this.state.replies.some(awaitingDelivery);
    if (!busy) return;
    this.poll = this.deps.clock.setTimer(this.deps.clock.now() + pollMs, () => {
      this.poll = null;
      this.background(async () => {
        await this.reload();
        await this.drive();
      });
    });
  }

  /**
   * Shuts the conversation down here: starts no more work, aborts model calls in flight, hands the
   * leases it can hand off back (`lease.released`: its live attempt, and the unknown writes it was
   * to check but is not checking now), and tries each of its undelivered replies once more. Writes
   * in flight cannot be handed off: they run on, and their outcome is recorded when they settle
   * (the caller waits for `idle` within its bound); a write that outlives the process keeps its
   * lease until it expires, and then another instance reconciles it (`owner-lost`).
   */
  async drain(): Promise<boolean> {
    this.draining = true;
    this.stop();
    for (const [key, controller] of this.running) if (key.startsWith('call:')) controller?.abort(ABORTED);
    for (const wake of this.backoffs) wake();
    return this.enqueue(async () => {
      if (!this.loaded) return false;
      const released = await this.release();
      this.flushDeliveries();
      return released;
    });
  }

  /** What I/O is in flight, by key (`call:…`, `write:…`, `deliver:…`). */
  get inFlight(): string[] {
    return [...this.running.keys()];
  }

  /** Appends `lease.released` for the leases this instance holds and may hand off; false when it holds none. */
  private async release(): Promise<boolean> {
    const me = this.deps.config.instanceId;
    for (let tries = 0; tries < MAX_CONFLICT_RETRIES; tries += 1) {
      const live = this.state.live === null ? undefined : this.state.attempts.get(this.state.live);
      const attempts = live && live.owner === me ? [live.attemptId] : [];
      const effects = [...this.state.effects.values()]
        .filter((e) => e.status === 'unknown' && leased(e) && e.owner === me)
        .filter((e) => !this.running.has(`reconcile:${e.effectId}`))
        .map((e) => e.effectId);
      if (attempts.length === 0 && effects.length === 0) return false;
      try {
        await this.foldAndAppend([{ type: 'lease.released', owner: me, attempts, effects }]);
        return true;
      } catch (error) {
        if (!(error instanceof ConflictError)) throw error;
      }
    }
    throw new InvariantViolation(
      `conversation ${this.conversationId}: ${MAX_CONFLICT_RETRIES} append conflicts in a row`,
    );
  }

  /**
   * Tries once more each undelivered reply of an attempt this instance owned (and each fallback
   * reply): the replies `plan` would have it deliver. Any instance delivers them once the attempt's
   * lease is over, so one that fails here is not lost.
   */
  private flushDeliveries(): void {
    const me = this.deps.config.instanceId;
    for (const reply of this.state.replies) {
      const attempt = reply.attemptId === null ? undefined : this.state.attempts.get(reply.attemptId);
      if (!awaitingDelivery(reply) || (attempt !== undefined && attempt.owner !== me)) continue;
      const { replyId, text, covers, kind } = reply;
      this.execute({ type: 'deliver', replyId, text, covers, kind });
    }
  }

  /**
   * Waits until `at` before a delivery's next try; false when the instance is draining and the
   * delivery has had its one more try (it is left undelivered, for another instance or a restart).
   */
  private async backoff(at: number): Promise<boolean> {
    if (this.draining) return false;
    await new Promise<void>((resolve) => {
      const wake = () => {
        this.backoffs.delete(wake);
        cancel();
        resolve();
      };
      const cancel = this.deps.clock.setTimer(at, wake);
      this.backoffs.add(wake);
    });
    return true;
  }

  /** Stops timers (the instance is shutting down); I/O in flight finishes on its own. */
  stop(): void {
    this.clearWake();
    this.poll?.();
    this.poll = null;
    this.retry?.();
    this.retry = null;
  }

  private clearWake(): void {
    this.timer?.cancel();
    this.timer = null;
  }

  private setWake(at: number): void {
    if (this.timer?.at === at) return;
    this.clearWake();
    const cancel = this.deps.clock.setTimer(at, () => {
      this.timer = null;
      this.background(() => this.drive());
    });
    this.timer = { at, cancel };
  }

  private async callModel(command: CommandOf<'call-model'>, signal: AbortSignal): Promise<void> {
    const { clock, modelTimeoutMs } = this.deps;
    let timedOut = false;
    const controller = this.running.get(`call:${command.callId}`);
    const cancelTimeout = clock.setTimer(clock.now() + modelTimeoutMs, () => {
      timedOut = true;
      controller?.abort(ABORTED);
    });
    let fact: EventBody;
    try {
      const pending = this.deps.model.create(command.request, { signal });
      this.deps.onCrashPoint?.('model-call');
      const result = await pending;
      const output = sanitizeOutput(result.output);
      fact = {
        type: 'model.responded',
        callId: command.callId,
        responseId: result.responseId,
        output,
        usage: result.usage,
        calls: this.classify(command.callId, output),
      };
    } catch (error) {
      fact = { type: 'model.failed', callId: command.callId, ...classifyFailure(error, timedOut) };
    } finally {
      cancelTimeout();
    }
    // Awaited, so the call counts as running until its outcome is in the state (else a drive
    // in between would see it pending and not running, and call the model a second time).
    await this.enqueue(async () => {
      await this.appendFact(fact);
      await this.drive();
    });
  }

  private classify(callId: string, output: OutputItem[]): ClassifiedCall[] {
    const call = this.state.calls.get(callId as never);
    invariant(call, `response for unknown call ${callId}`);
    const attempt = this.state.attempts.get(call.attemptId)!;
    const messageIds = this.state.messages
      .filter((m) => m.seq < attempt.startedSeq && m.coveredBy === null)
      .map((m) => m.messageId);
    const ctx = {
      tenantId: this.deps.tenantId,
      conversationId: this.conversationId,
      turn: attempt.turn,
      messageIds,
    };
    return output.flatMap((item) =>
      item.type === 'function_call'
        ? [
            this.deps.tools.classify(
              { toolCallId: item.call_id, name: item.name, arguments: item.arguments },
              ctx,
            ),
          ]
        : [],
    );
  }

  /**
   * Runs a write once. Its signal fires at the tool's time bound (the core records it as unknown
   * then); it is never killed. How it ends becomes a fact: done, failed (a rejection: nothing
   * happened) or unknown (it threw: reconcile).
   */
  private async runWrite(command: CommandOf<'run-write'>): Promise<void> {
    const { clock, config } = this.deps;
    this.deps.onCrashPoint?.('effect-started');
    const startedAt = this.state.effects.get(command.effectId)?.startedAt ?? clock.now();
    const bound = new AbortController();
    const cancel = clock.setTimer(startedAt + toolBounds(config, command.tool).timeoutMs, () =>
      bound.abort(TOOL_TIMED_OUT),
    );
    let result: ToolRunResult;
    try {
      result = await this.deps.tools.run(
        { tool: command.tool, arguments: command.arguments },
        {
          ...this.toolContext(command.origin, command.effectId, command.idempotencyKey),
          signal: bound.signal,
        },
      );
    } finally {
      cancel();
    }
    this.deps.onCrashPoint?.('tool-ran');
    const { effectId } = command;
    const fact: EventBody =
      result.outcome === 'done'
        ? {
            type: 'effect.settled',
            effectId,
            outcome: 'done',
            output: result.output,
            ...(result.warning ? { warning: result.warning } : {}),
          }
        : result.outcome === 'rejected'
          ? { type: 'effect.settled', effectId, outcome: 'failed', output: result.output }
          : {
              type: 'effect.unknown',
              effectId,
              reason: `the tool threw: ${result.message}`,
              cause: 'error',
              reconciler: config.instanceId,
              until: 0,
            };
    this.unrecorded.set(effectId, fact);
    await this.recordWrite(effectId);
  }

  /** Appends what a write that ran here returned; if the store fails, the next drive tries again. */
  private async recordWrite(effectId: string): Promise<void> {
    const fact = this.unrecorded.get(effectId);
    if (fact === undefined) return;
    await this.enqueue(async () => {
      await this.appendFact(fact, 'run');
      // Forgotten only once the store shows it: an append reported done that the store did not
      // keep (seen with PostgreSQL under connection resets) must be appended again — never the
      // write run again. Until then `run-write` for this effect re-records it (see `execute`).
      if (await this.recordedInStore(effectId)) this.unrecorded.delete(effectId);
      await this.drive();
    });
  }

  /** Whether the store's log holds how the effect ended (read from its start, not from memory). */
  private async recordedInStore(effectId: string): Promise<boolean> {
    const startedSeq = this.state.effects.get(effectId as never)?.startedSeq ?? 0;
    const events = await this.deps.store.read(this.key, Math.max(0, startedSeq - 1));
    return events.some(
      (e) =>
        (e.type === 'effect.settled' || e.type === 'effect.unknown') &&
        (e as { effectId?: string }).effectId === effectId,
    );
  }

  private async orphanedWrite(command: CommandOf<'run-write'>): Promise<void> {
    const reason = 'started by an earlier process of this instance, which stopped while it ran';
    const fact: EventBody = {
      type: 'effect.unknown',
      effectId: command.effectId,
      reason,
      cause: 'owner-lost',
      reconciler: this.deps.config.instanceId,
      until: 0,
    };
    await this.enqueue(async () => {
      await this.appendFact(fact);
      await this.drive();
    });
  }

  /** Runs a read; past the tool's time bound it is answered as failed (a late answer is dropped). */
  private async runRead(command: CommandOf<'run-read'>): Promise<void> {
    const { clock, config } = this.deps;
    const bound = new AbortController();
    const timeoutMs = toolBounds(config, command.tool).timeoutMs;
    let cancel = () => undefined as void;
    const timedOut = new Promise<ToolRunResult>((resolve) => {
      cancel = clock.setTimer(clock.now() + timeoutMs, () => {
        bound.abort(TOOL_TIMED_OUT);
        resolve({
          outcome: 'rejected',
          output: JSON.stringify({ error: `${command.tool} timed out after ${timeoutMs} ms` }),
        });
      });
    });
    const ran = this.deps.tools.run(
      { tool: command.tool, arguments: command.arguments },
      { ...this.toolContext(command.origin, null, null), signal: bound.signal },
    );
    const result = await Promise.race([ran, timedOut]).finally(() => cancel());
    const { callId, toolCallId } = command.origin;
    await this.enqueue(async () => {
      const call = this.state.calls.get(callId);
      if (call?.toolCalls.find((t) => t.toolCallId === toolCallId)?.outcome !== null) return;
      await this.appendFact({
        type: 'tool.read',
        callId,
        toolCallId,
        ok: result.outcome === 'done',
        output: result.output,
      });
      await this.drive();
    });
  }

  private toolContext(
    origin: CommandOf<'run-read'>['origin'],
    effectId: string | null,
    idempotencyKey: string | null,
  ) {
    return {
      tenantId: this.deps.tenantId,
      conversationId: this.conversationId,
      turn: origin.turn,
      messageIds: origin.messageIds,
      attemptId: origin.attemptId,
      toolCallId: origin.toolCallId,
      effectId,
      idempotencyKey,
    };
  }

  /** A write whose owner was lost: the tool's `reconcile` says whether it happened. */
  private async reconcile(command: CommandOf<'reconcile'>): Promise<void> {
    const ctx = {
      tenantId: this.deps.tenantId,
      conversationId: this.conversationId,
      turn: command.origin.turn,
      messageIds: command.origin.messageIds,
    };
    this.deps.onCrashPoint?.('reconciling');
    let fact: EventBody;
    try {
      const found = await this.deps.tools.reconcile(
        { tool: command.tool, idempotencyKey: command.idempotencyKey },
        ctx,
      );
      if (found === null)
        fact = {
          type: 'effect.checked',
          effectId: command.effectId,
          note: `${command.tool} has no reconcile: the outcome stays unknown`,
        };
      else if (found.happened)
        fact = { type: 'effect.settled', effectId: command.effectId, outcome: 'done', output: found.output };
      else
        fact = {
          type: 'effect.settled',
          effectId: command.effectId,
          outcome: 'failed',
          output: notices.notHappened,
          fenced: true,
        };
    } catch (error) {
      fact = {
        type: 'effect.checked',
        effectId: command.effectId,
        note: `reconcile failed: ${error instanceof Error ? error.message : String(error)}`,
      };
    }
    await this.enqueue(async () => {
      await this.appendFact(fact, 'check');
      await this.drive();
    });
  }

  /**
   * Delivers a reply, retrying with backoff within the delivery bounds; past them the delivery is
   * dead-lettered. The age bound counts from the state's `deliverySince` (durable), the tries from
   * this run (a restart tries again, within the age bound).
   */
  private async deliver(command: CommandOf<'deliver'>): Promise<void> {
    this.deps.onCrashPoint?.('reply-committed');
    const { clock } = this.deps;
    const { replyId } = command;
    const deliveryId = deliveryIdOf(this.key, replyId);
    const delivery = {
      deliveryId,
      tenantId: this.key.tenantId,
      conversationId: this.conversationId,
      replyId,
      text: command.text,
      covers: command.covers,
      kind: command.kind,
    };
    const since = this.state.replyIndex.get(replyId)?.deliverySince ?? clock.now();
    let fact: EventBody;
    for (let tries = 1; ; tries += 1) {
      try {
        const outcome = await this.deps.deliverer.deliver(delivery);
        fact =
          outcome === 'no-target'
            ? { type: 'reply.undelivered', replyId, deliveryId, reason: 'no-target' }
            : { type: 'reply.delivered', replyId, deliveryId };
        break;
      } catch (error) {
        this.deps.onError?.(error);
        const lastError = error instanceof Error ? error.message : String(error);
        const next = nextDelivery(this.deps.delivery, tries, since, clock.now());
        if (next.kind === 'give-up') {
          fact = {
            type: 'reply.dead-lettered',
            replyId,
            deliveryId,
            attempts: tries,
            lastError,
            reason: next.reason,
          };
          break;
        }
        if (!(await this.backoff(next.at))) return;
      }
    }
    await this.enqueue(async () => {
      await this.appendFact(fact);
      await this.drive();
    });
  }
}

/**
 * After the `tries`-th failed try of a delivery: give up (the count bound, or the age bound), or
 * try again at a time with backoff, never past the age bound (the last try is at the bound).
 */
export function nextDelivery(
  bounds: DeliveryBounds,
  tries: number,
  since: number,
  now: number,
): { kind: 'give-up'; reason: DeadLetterReason } | { kind: 'retry'; at: number } {
  if (tries >= bounds.attempts) return { kind: 'give-up', reason: 'attempts' };
  const deadline = since + bounds.maxAgeMs;
  if (now >= deadline) return { kind: 'give-up', reason: 'age' };
  const delayMs = Math.min(bounds.backoffMaxMs, bounds.backoffMs * 2 ** Math.min(tries - 1, 30));
  return { kind: 'retry', at: Math.min(now + delayMs, deadline) };
}

function classifyFailure(
  error: unknown,
  timedOut: boolean,
): { kind: FailureKind; message: string; retryAfterMs: number | null; usage?: Usage } {
  const message = error instanceof Error ? error.message : String(error);
  if (timedOut) return { kind: 'timeout', message: 'model call timed out', retryAfterMs: null };
  if (error instanceof ModelCallAborted)
    return { kind: 'aborted', message, retryAfterMs: null, ...(error.usage ? { usage: error.usage } : {}) };
  if (error instanceof ChainBrokenError) return { kind: 'chain-broken', message, retryAfterMs: null };
  if (error instanceof RetryableError)
    return { kind: 'retryable', message, retryAfterMs: error.retryAfterMs };
  if (error instanceof TerminalError) return { kind: 'terminal', message, retryAfterMs: null };
  if (error instanceof Error && error.name === 'AbortError')
    return { kind: 'aborted', message, retryAfterMs: null };
  // An error nobody classified (a network failure, a bug in a client): worth a bounded retry.
  return { kind: 'retryable', message, retryAfterMs: null };
}

/** Where a fact comes from: a tool's own run, a `reconcile` check, or anything else. */
type FactSource = 'run' | 'check' | 'other';

/**
 * What a fact still tells the state (it may have moved on while the I/O ran), as the event to
 * append, or null. A tool run that settles an effect already settled *differently* (a stalled
 * owner's write that outlived a reconcile) is the truth and is recorded as late, never dropped.
 */
function news(
  state: ConversationState,
  body: EventBody,
  source: FactSource,
  leaseUntil: number,
): EventBody | null {
  switch (body.type) {
    // A message already in the log: an append reported as failed that committed after all.
    case 'message.received':
      return state.messageIndex.has(body.messageId) ? null : body;
    case 'model.responded':
    case 'model.failed':
      return state.calls.get(body.callId)?.status === 'pending' ? body : null;
    case 'effect.settled': {
      const effect = state.effects.get(body.effectId);
      if (effect === undefined) return null;
      if (effect.status === 'running' || effect.status === 'unknown') return body;
      return source === 'run' && effect.status !== body.outcome ? { ...body, late: true } : null;
    }
    case 'effect.unknown': {
      // A thrown write goes to its reconciler, unless a check of it is already under way or done.
      const effect = state.effects.get(body.effectId);
      const open =
        effect !== undefined &&
        !effect.checked &&
        (effect.status === 'running' || (effect.status === 'unknown' && effect.checkBy === null));
      if (open) return { ...body, until: leaseUntil };
      // A run that throws after its effect was recorded as not done may have written: check again.
      return source === 'run' && effect?.status === 'failed'
        ? { ...body, until: leaseUntil, late: true }
        : null;
    }
    case 'effect.checked': {
      const effect = state.effects.get(body.effectId);
      return effect?.status === 'unknown' && !effect.checked ? body : null;
    }
    case 'tool.read':
      return state.calls.get(body.callId)?.toolCalls.find((t) => t.toolCallId === body.toolCallId)
        ?.outcome === null
        ? body
        : null;
    // A delivery that ended is news only while the reply still waits for one (another instance
    // may have delivered it meanwhile); a redelivery, only while it is dead-lettered.
    case 'reply.dead-lettered':
    case 'reply.undelivered': {
      const reply = state.replyIndex.get(body.replyId);
      return reply !== undefined && awaitingDelivery(reply) ? body : null;
    }
    case 'reply.redelivery-requested':
      return state.replyIndex.get(body.replyId)?.delivery === 'dead-lettered' ? body : null;
    default:
      return body;
  }
}
