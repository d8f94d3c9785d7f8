import { randomUUID } from 'node:crypto';
import type { CoreConfig, Limits } from '../core/config.js';
import { coreConfig } from '../core/config.js';
import { InvalidInputError, RetryableError, TerminalError } from '../core/errors.js';
import type { EventOf, GraftEvent } from '../core/events.js';
import type { Decision } from '../core/operator.js';
import {
  OperatorError,
  decideRequest,
  operatorReply,
  release,
  resolveEffect,
  takeOver,
} from '../core/operator.js';
import type { PendingApproval } from './approvals.js';
import { findApprovals, parseApprovalId } from './approvals.js';
import type { ConversationId, EffectId } from '../core/ids.js';
import { parseConversationId, parseMessageId, parseTenantId } from '../core/ids.js';
import type {
  Clock,
  Deliverer,
  Delivery,
  DeliveryBounds,
  DeliveryOutcome,
  EventStore,
  ModelClient,
} from '../core/ports.js';
import { defaultDeliveryBounds } from '../core/ports.js';
import type { ConversationState } from '../core/state.js';
import type { DeadLetter } from './dead-letters.js';
import { findDeadLetters, parseDeliveryId } from './dead-letters.js';
import type { ToolDefinition } from '../tools/define-tool.js';
import { toolSpec } from '../tools/define-tool.js';
import type { CrashPoint, EventSource } from './actor.js';
export type { EventSource } from './actor.js';
import { ConversationActor } from './actor.js';
import { systemClock } from './clock.js';
import { logged, loggedDeliverer, loggedOnEvent, loggedStore } from './log.js';
import type { Logger, LogSettings } from './logger.js';
import { servedElsewhere, sweepCheck } from './sweep.js';
import { createToolRunner } from './tool-runner.js';

export interface GraftOptions {
  store: EventStore;
  model: ModelClient;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- each tool has its own argument type
  tools: readonly ToolDefinition<any>[];
  /**
   * Sends a committed reply to the customer. Receives each delivery id at least once. Throw to have
   * it retried (within `delivery`'s bounds); return `'no-target'` when there is nowhere to send it
   * (the reply is then not marked delivered, nor retried).
   */
  deliver: (delivery: Delivery) => Promise<DeliveryOutcome | void> | DeliveryOutcome | void;
  /**
   * When a failing delivery is given up on and dead-lettered (a `reply.dead-lettered` event; see
   * `deadLetters()` and `redeliver()`): by default after 20 tries or 24 hours, whichever comes
   * first, backing off from 0.5 s to 10 minutes between tries.
   */
  delivery?: Partial<DeliveryBounds>;
  /** The model name sent with every call. */
  modelName?: string;
  instructions?: string;
  mode?: 'chain' | 'stateless';
  reasoning?: boolean;
  limits?: Partial<Limits>;
  onSettleDuringFirstCall?: CoreConfig['onSettleDuringFirstCall'];
  fallbackText?: string;
  /** A model call running longer than this is aborted and retried (default 60 s). */
  modelTimeoutMs?: number;
  tenantId?: string;
  clock?: Clock;
  /** This process's id (default: random). Two processes must never share one. */
  instanceId?: string;
  /**
   * Several instances share the store: re-read a conversation's log this often while work is in
   * flight, and listen to the store's notifications. Leave unset for one process per store.
   */
  pollMs?: number;
  /**
   * Conversations kept in memory at most (default 10,000). Beyond it, the least recently used
   * conversations that are at rest (no work, no timer) are dropped, and read from the store again
   * when they are next needed.
   */
  maxLoaded?: number;
  /** Called at the points where the crash tests kill the process. */
  onCrashPoint?: (point: CrashPoint) => void;
  /**
   * Called once for every event of each loaded conversation's log, as it is folded in: `source` is
   * `appended` when this instance appended it just now, `read` when it was read from the store
   * (another instance's append, or one made before this process loaded the conversation). Count
   * only `appended` events to count each event once over several instances.
   */
  onEvent?: (
    conversationId: string,
    event: GraftEvent,
    state: ConversationState,
    source: EventSource,
  ) => void;
  onError?: (error: unknown) => void;
  /**
   * Where graft logs model call failures and retries, store failures, failed deliveries, fallback
   * replies and conversations flagged for a person (a pino logger fits). Silent without one.
   */
  logger?: Logger;
  /** Put customer messages and reply text in log records (default false: only their length). */
  logText?: boolean;
}

export interface InboundMessage {
  conversationId: string;
  /** The channel's id of the message: the same id twice is processed once. */
  messageId: string;
  text: string;
  metadata?: Record<string, unknown>;
}

export interface Graft {
  /** Appends a customer message durably and starts answering it; resolves once it is appended. */
  receive(message: InboundMessage): Promise<{ status: 'accepted' | 'duplicate' }>;
  /** The conversation as graft knows it (loaded from the store if needed). */
  conversation(conversationId: string): Promise<ConversationState>;
  /** Resumes every conversation in the store (run at start). */
  recover(): Promise<void>;
  /** Resolves when no conversation has queued work or I/O in flight. */
  idle(): Promise<void>;
  /** Stops listening and polling; work in flight finishes on its own. */
  close(): Promise<void>;
  /** The number of conversations held in memory now. */
  readonly loaded: number;
  /**
   * Shuts down gracefully: new messages are refused (`ShuttingDownError`, retryable), model calls
   * in flight are aborted and their attempts handed off (`lease.released`, so another instance
   * claims them at once instead of after `limits.leaseMs`), undelivered replies are tried once
   * more, and writes and deliveries in flight are waited for, up to `timeoutMs` (default 10 s).
   * Then it stops as `close()` does. `settled` is false when I/O was still running at the bound:
   * a write that outlives the process keeps its lease until it expires, and is then reconciled.
   * The store is the caller's to close.
   *
   * @example
   * const { settled } = await graft.shutdown({ timeoutMs: 5_000 });
   * await store.close();
   */
  shutdown(options?: { timeoutMs?: number }): Promise<ShutdownReport>;
  /** The dead-lettered deliveries of this tenant, oldest first. */
  deadLetters(options?: { limit?: number }): Promise<DeadLetter[]>;
  /**
   * Delivers a dead-lettered reply again, by its delivery id: `redelivering`, or `not-found` when
   * no dead letter of this tenant has that id.
   */
  redeliver(deliveryId: string): Promise<'redelivering' | 'not-found'>;
  /** The tenant's writes that wait for a person's approval, oldest first. */
  approvals(options?: { limit?: number }): Promise<PendingApproval[]>;
  /**
   * Decides a request for approval, by its id (`PendingApproval.id`). Approved, the write runs at
   * once under its key (on this instance); rejected, it is recorded as not done with the note.
   * Either way the model hears of it, and the customer gets a follow-up. Throws `OperatorError`
   * (`request_not_found`, or `request_not_pending` naming what happened to it: decided, expired,
   * or withdrawn because the customer wrote again before the decision).
   *
   * @example
   * for (const request of await graft.approvals()) await graft.decide(request.id, { decision: 'approve', operator: 'ana' });
   */
  decide(
    approvalId: string,
    decision: { decision: Decision; operator?: string; note?: string },
  ): Promise<void>;
  /**
   * Hands a conversation to a person: the bot's live attempt is superseded, and until `release` no
   * model call starts, no write gate passes and the bot answers nothing (messages are recorded).
   * Writes already running settle and are recorded. Throws `OperatorError` (`already_taken_over`).
   */
  takeOver(conversationId: string, operator: string): Promise<void>;
  /**
   * Sends a person's reply (through the same outbox and delivery as the bot's): it answers every
   * message not answered yet. Throws `OperatorError` (`not_taken_over`) unless taken over.
   */
  operatorReply(conversationId: string, text: string): Promise<{ replyId: string }>;
  /**
   * Hands the conversation back to the bot. Its next model call holds the person's replies (as
   * assistant messages written by a person), and it answers any message the person did not.
   */
  release(conversationId: string): Promise<void>;
  /**
   * A person says how a write of unknown outcome ended when the tool's `reconcile` could not (such
   * a write blocks every other write of the conversation): `done` (it happened) or `failed` (it did
   * not; it may be asked for again). Not a fence: say `failed` only when the write can no longer
   * land. Throws `OperatorError` (`effect_not_found`, `effect_not_blocked`).
   */
  resolveEffect(
    conversationId: string,
    effectId: string,
    resolution: { outcome: 'done' | 'failed'; operator?: string; note?: string },
  ): Promise<void>;
}

/** How a graceful shutdown ended. */
export interface ShutdownReport {
  /** True when no work was left running at the bound. */
  settled: boolean;
  /** Conversations whose leases were handed off to other instances. */
  released: number;
  /** What was still running at the bound (`write:eff_…`, `deliver:rep_…`, …), per conversation. */
  running: { conversationId: string; work: string[] }[];
}

/** The bound of a graceful shutdown when none is given. */
export const DEFAULT_SHUTDOWN_TIMEOUT_MS = 10_000;

/**
 * Background failures, logged (unless logged where they happened) and then passed on; without an
 * `onError` they are thrown, as they are without a logger.
 */
function loggedOnError(
  log: LogSettings,
  onError: ((error: unknown) => void) | undefined,
): (error: unknown) => void {
  return (error) => {
    if (!(typeof error === 'object' && error !== null && logged.has(error))) {
      log.logger.error({ event: 'background.failed', err: error }, 'background work failed');
    }
    if (onError) onError(error);
    else
      queueMicrotask(() => {
        throw error;
      });
  };
}

/** The delivery bounds, defaults filled in; a bound that is not a positive number is a usage error. */
function deliveryBounds(given: Partial<DeliveryBounds> | undefined): DeliveryBounds {
  const bounds = { ...defaultDeliveryBounds, ...given };
  for (const [name, value] of Object.entries(bounds))
    if (!(typeof value === 'number' && value > 0))
      throw new TerminalError(`delivery.${name} must be a positive number`, 'invalid_delivery_bounds');
  return bounds;
}

/**
 * Creates a graft instance.
 *
 * @example
 * const graft = createGraft({ store: new MemoryStore(), model, tools, deliver: (r) => console.log(r.text) });
 * await graft.receive({ conversationId: 'c1', messageId: 'm1', text: "I'd like 2 pizzas" });
 */
export function createGraft(options: GraftOptions): Graft {
  const limits = { ...options.limits };
  const config = coreConfig({
    instanceId: options.instanceId ?? `inst_${randomUUID()}`,
    tools: options.tools.map((t) => toolSpec(t as ToolDefinition)),
    toolBounds: Object.fromEntries(
      options.tools.map((t) => [
        t.name,
        {
          ...(t.timeoutMs !== undefined ? { timeoutMs: t.timeoutMs } : {}),
          ...(t.hangMs !== undefined ? { hangMs: t.hangMs } : {}),
        },
      ]),
    ),
    limits: limits as Limits,
    ...(options.modelName ? { model: options.modelName } : {}),
    ...(options.instructions ? { instructions: options.instructions } : {}),
    ...(options.mode ? { mode: options.mode } : {}),
    ...(options.reasoning !== undefined ? { reasoning: options.reasoning } : {}),
    ...(options.onSettleDuringFirstCall ? { onSettleDuringFirstCall: options.onSettleDuringFirstCall } : {}),
    ...(options.fallbackText ? { fallbackText: options.fallbackText } : {}),
  });
  const log: LogSettings | null = options.logger
    ? { logger: options.logger, includeText: options.logText ?? false }
    : null;
  const plain: Deliverer = {
    deliver: async (d) => ((await options.deliver(d)) === 'no-target' ? 'no-target' : 'delivered'),
  };
  const deliverer = log ? loggedDeliverer(log, plain) : plain;
  const onError = log ? loggedOnError(log, options.onError) : options.onError;
  const tenantId = parseTenantId(options.tenantId ?? 'default');
  const deps = {
    tenantId,
    store: log ? loggedStore(log, options.store) : options.store,
    model: options.model,
    tools: createToolRunner(options.tools as ToolDefinition[]),
    deliverer,
    delivery: deliveryBounds(options.delivery),
    clock: options.clock ?? systemClock,
    config,
    modelTimeoutMs: options.modelTimeoutMs ?? 60_000,
    pollMs: options.pollMs ?? null,
    ...(options.onCrashPoint ? { onCrashPoint: options.onCrashPoint } : {}),
    ...(log
      ? { onEvent: loggedOnEvent(log, tenantId, options.onEvent) }
      : options.onEvent
        ? { onEvent: options.onEvent }
        : {}),
    ...(onError ? { onError } : {}),
  };
  let shuttingDown = false;
  // In least recently used order: a Map iterates in insertion order, and each use re-inserts.
  const actors = new Map<ConversationId, ConversationActor>();
  const maxLoaded = Math.max(1, options.maxLoaded ?? 10_000);
  const actor = (id: ConversationId): ConversationActor => {
    let found = actors.get(id);
    if (found) actors.delete(id);
    else found = new ConversationActor(id, deps);
    actors.set(id, found);
    if (actors.size > maxLoaded) evict();
    return found;
  };
  const evict = () => {
    for (const [id, a] of actors) {
      if (actors.size <= maxLoaded) return;
      if (a.atRest) actors.delete(id);
    }
  };
  // Another instance appended: the actor that holds the conversation reads on (and may abort).
  const unwatch =
    options.pollMs !== undefined && options.store.watch
      ? options.store.watch((key, seq) => {
          const found = key.tenantId === deps.tenantId ? actors.get(key.conversationId) : undefined;
          if (found && found.snapshot.seq < seq)
            void found.wake().catch((error: unknown) => deps.onError?.(error));
        })
      : Promise.resolve(() => Promise.resolve());

  // With several instances, a conversation only another (now dead) instance held must still be
  // resumed when its leases expire: sweep the store's unfinished conversations now and then. One
  // not loaded here is read first, and loaded only if this instance has something to do in it now
  // (see `sweepCheck`); while a live peer's leases cover its work it is looked at again when the
  // core would next wake for it (a lease's expiry), and at each sweep. One process alone on its
  // store (no `pollMs`) has no peers and no sweep: it loads them all.
  let sweep: (() => void) | null = null;
  const rechecks = new Map<ConversationId, () => void>();
  const resume = async (id: ConversationId): Promise<void> => {
    const found = actors.get(id);
    if (found || options.pollMs === undefined) return (found ?? actor(id)).wake();
    const finding = await sweepCheck(deps.store, { tenantId, conversationId: id }, config, deps.clock.now());
    rechecks.get(id)?.();
    rechecks.delete(id);
    if (finding.kind === 'act' || actors.has(id)) return actor(id).wake();
    if (finding.recheckAt === null || options.pollMs === undefined) return;
    // Never sooner than a poll from now: a peer's lease is watched, not spun on.
    const at = Math.max(finding.recheckAt, deps.clock.now() + options.pollMs);
    const cancel = deps.clock.setTimer(at, () => {
      rechecks.delete(id);
      resume(id).catch((error: unknown) => deps.onError?.(error));
    });
    rechecks.set(id, cancel);
  };
  // A conversation loaded here that a peer serves now (see `servedElsewhere`) is dropped while
  // dormant; if it is unfinished, the sweep below reads it as any other it has not loaded.
  const dropServedElsewhere = () => {
    const now = deps.clock.now();
    for (const [id, a] of actors)
      if (a.dormant && servedElsewhere(a.snapshot, config, now)) {
        a.stop();
        actors.delete(id);
      }
  };
  const recover = async () => {
    if (options.pollMs !== undefined) dropServedElsewhere();
    const keys = await deps.store.unfinished();
    const mine = keys.filter((k) => k.tenantId === deps.tenantId);
    await Promise.all(mine.map((k) => resume(parseConversationId(k.conversationId))));
  };
  const scheduleSweep = () => {
    if (options.pollMs === undefined) return;
    const everyMs = Math.max(options.pollMs * 5, config.limits.leaseMs / 2);
    sweep = deps.clock.setTimer(deps.clock.now() + everyMs, () => {
      recover()
        .catch((error: unknown) => deps.onError?.(error))
        .finally(scheduleSweep);
    });
  };
  scheduleSweep();

  return {
    async receive(message) {
      if (shuttingDown) throw new ShuttingDownError();
      const conversationId = parseConversationId(message.conversationId);
      const messageId = parseMessageId(message.messageId);
      if (typeof message.text !== 'string' || message.text.trim() === '')
        throw new InvalidInputError('text', 'text must be a non-empty string');
      if (message.text.length > config.limits.messageChars) {
        throw new InvalidInputError(
          'text',
          `text is longer than ${config.limits.messageChars} characters`,
          'too-long',
        );
      }
      const status = await actor(conversationId).receive(messageId, message.text, message.metadata);
      return { status };
    },
    async conversation(conversationId) {
      const found = actor(parseConversationId(conversationId));
      await found.wake();
      return found.snapshot;
    },
    recover,
    get loaded() {
      return actors.size;
    },
    deadLetters: (listOptions) => findDeadLetters(deps.store, deps.tenantId, listOptions),
    async redeliver(deliveryId) {
      const found = parseDeliveryId(deps.tenantId, deliveryId);
      if (!found) return 'not-found';
      const outcome = await actor(found.conversationId).redeliver(found.replyId);
      return outcome === 'redelivering' ? 'redelivering' : 'not-found';
    },
    approvals: (listOptions) => findApprovals(deps.store, deps.tenantId, deps.clock.now(), listOptions),
    async decide(approvalId, decision) {
      const found = typeof approvalId === 'string' ? parseApprovalId(approvalId) : null;
      if (!found)
        throw new OperatorError(
          'request_not_found',
          `${JSON.stringify(approvalId)} is not a request id (<conversationId>:<effectId>)`,
        );
      const { effectId } = found;
      const by = { decision: decision.decision, operator: decision.operator ?? 'operator' };
      const note = decision.note === undefined ? {} : { note: decision.note };
      await actor(found.conversationId).operate((state) =>
        decideRequest(
          state,
          effectId,
          { ...by, ...note },
          {
            instanceId: config.instanceId,
            now: deps.clock.now(),
            leaseUntil: deps.clock.now() + config.limits.leaseMs,
          },
        ),
      );
    },
    async takeOver(conversationId, operator) {
      await actor(parseConversationId(conversationId)).operate((state) => takeOver(state, operator));
    },
    async operatorReply(conversationId, text) {
      const event = await actor(parseConversationId(conversationId)).operate((state) =>
        operatorReply(state, text, config.limits.messageChars),
      );
      return { replyId: (event as EventOf<'reply.committed'>).replyId };
    },
    async release(conversationId) {
      await actor(parseConversationId(conversationId)).operate(release);
    },
    async resolveEffect(conversationId, effectId, resolution) {
      const by = { outcome: resolution.outcome, operator: resolution.operator ?? 'operator' };
      const note = resolution.note === undefined ? {} : { note: resolution.note };
      await actor(parseConversationId(conversationId)).operate((state) =>
        resolveEffect(state, effectId as EffectId, { ...by, ...note }),
      );
    },
    async shutdown(shutdownOptions) {
      shuttingDown = true;
      const timeoutMs = shutdownOptions?.timeoutMs ?? DEFAULT_SHUTDOWN_TIMEOUT_MS;
      const drained = [...actors.values()];
      let released = 0;
      const drain = async (a: ConversationActor) => {
        try {
          if (await a.drain()) released += 1;
        } catch (error) {
          deps.onError?.(error);
        }
      };
      const settled = await withinMs(deps.clock, timeoutMs, async () => {
        await Promise.all(drained.map(drain));
        while (!drained.every((a) => a.idle)) await new Promise((resolve) => setTimeout(resolve, 5));
      });
      await this.close();
      return {
        settled,
        released,
        running: drained
          .filter((a) => !a.idle)
          .map((a) => ({ conversationId: a.conversationId, work: a.inFlight })),
      };
    },
    async close() {
      sweep?.();
      sweep = null;
      for (const cancel of rechecks.values()) cancel();
      rechecks.clear();
      options.pollMs = undefined;
      for (const a of actors.values()) a.stop();
      await (
        await unwatch
      )();
    },
    async idle() {
      for (;;) {
        await new Promise((resolve) => setImmediate(resolve));
        if ([...actors.values()].every((a) => a.idle)) return;
        await new Promise((resolve) => setTimeout(resolve, 2));
      }
    },
  };
}

/** `receive` while the instance shuts down: send the message to another instance, or again later. */
export class ShuttingDownError extends RetryableError {
  constructor() {
    super('graft is shutting down: send the message again', 1_000, 'shutting_down');
  }
}

/** Runs `work`, waiting for it at most `timeoutMs` on `clock`; false if the bound came first. */
async function withinMs(clock: Clock, timeoutMs: number, work: () => Promise<void>): Promise<boolean> {
  let cancel = () => undefined as void;
  const bound = new Promise<false>((resolve) => {
    cancel = clock.setTimer(clock.now() + timeoutMs, () => resolve(false));
  });
  try {
    return await Promise.race([work().then(() => true as const), bound]);
  } finally {
    cancel();
  }
}
