import type { AttemptId, CallId, EffectId, IdempotencyKey, MessageId, ReplyId } from './ids.js';
import type { InputItem, OutputItem, Usage } from './items.js';

/** The version of the event log format. Bump it, and keep a reader for the old one, on any change. */
export const EVENT_VERSION = 1;

/**
 * What a context was told about an effect. `awaiting`: a write that needs a person's approval was
 * requested and waits for the decision (it has not run).
 */
export type EffectStatus = 'awaiting' | 'running' | 'done' | 'failed' | 'unknown';

/**
 * One item of a model call's input, with what it carries into the context: a customer message,
 * a reply, or an effect at a status. Entries are self-contained (they hold the item's text), so a
 * request can be rebuilt from the log alone.
 */
export interface ContextEntry {
  item: InputItem;
  messageId?: MessageId;
  replyId?: ReplyId;
  effect?: { effectId: EffectId; status: EffectStatus };
  /** The tool call of the parent response that this output answers. */
  answers?: string;
}

/** A function call of a response, classified by the runtime (which knows the tools). */
export interface ClassifiedCall {
  toolCallId: string;
  name: string;
  arguments: string;
  kind: 'read' | 'write' | 'invalid';
  /** Why an invalid call is invalid (sent back to the model). */
  error?: string;
  idempotencyKey?: IdempotencyKey;
  /** A write that needs a person's approval before it runs, and how long the approval may take. */
  approval?: { timeoutMs: number };
}

/**
 * Why a model call was made. `steer`: messages that arrived past the attempts-per-turn bound join
 * the live attempt's next call (its draft missed them).
 */
export type ModelCallReason =
  'start' | 'continue' | 'rebase' | 'retry' | 'restart' | 'stateless' | 'follow-up' | 'steer';

export type FailureKind = 'retryable' | 'terminal' | 'chain-broken' | 'aborted' | 'timeout' | 'takeover';

/**
 * Why graft answered a call itself. `blocked`: a write of unknown outcome that no fenced answer
 * settled keeps every write of the conversation blocked until a person resolves it.
 */
export type RefusalReason =
  'rebase' | 'invalid' | 'duplicate-key' | 'duplicate-call' | 'blocked' | 'awaiting-approval';

/**
 * Why a request for approval ended without running: a person rejected it, nobody decided in time,
 * or the attempt that made it was superseded before the decision (`withdrawn`).
 */
export type RejectionCause = 'rejected' | 'expired' | 'withdrawn';

/**
 * Why a write's outcome became unknown.
 * - `timeout`: it ran past its time bound. It may still be in flight: every write gate stays
 *   closed, the reply gate stops waiting, and the model is told the outcome is not known yet.
 * - `hang`: it ran past its hang bound: its owner asks the tool's `reconcile` (a fence).
 * - `error`: the tool threw something other than a `ToolRejection`: it may have written.
 * - `owner-lost`: the instance that ran it lost its lease: another instance reconciles it.
 */
export type UnknownCause = 'timeout' | 'hang' | 'error' | 'owner-lost';

/** The events of a conversation's log, without the fields the log adds (seq, at, v). */
export type EventBody =
  | { type: 'message.received'; messageId: MessageId; text: string; metadata?: Record<string, unknown> }
  | {
      type: 'attempt.started';
      attemptId: AttemptId;
      turn: number;
      reason: 'message' | 'follow-up';
      owner: string;
      leaseUntil: number;
    }
  | { type: 'attempt.superseded'; attemptId: AttemptId; byMessageId: MessageId }
  /** A follow-up attempt that could not produce a reply ends quietly (no customer message waits). */
  | { type: 'attempt.failed'; attemptId: AttemptId; reason: string }
  | {
      type: 'model.requested';
      attemptId: AttemptId;
      callId: CallId;
      /** The call this one continues (its lineage parent); null starts from the empty context. */
      parent: CallId | null;
      entries: ContextEntry[];
      reason: ModelCallReason;
      stateless: boolean;
      owner: string;
    }
  | {
      type: 'model.responded';
      callId: CallId;
      responseId: string;
      output: OutputItem[];
      usage: Usage;
      calls: ClassifiedCall[];
    }
  | {
      type: 'model.failed';
      callId: CallId;
      kind: FailureKind;
      message: string;
      retryAfterMs: number | null;
      /** Output tokens generated before the failure (an aborted stream still bills them). */
      usage?: Usage;
    }
  | {
      type: 'effect.started';
      attemptId: AttemptId;
      callId: CallId;
      owner: string;
      leaseUntil: number;
      /**
       * `idempotencyKey` is the key the tool is given. A call whose key already failed runs under a
       * new generation (`generation` 2, 3, …; absent means 1) with the key `<key>#<generation>`:
       * a fenced key stays unusable in the tool's system. With `approval`, the write does not run:
       * it is a request that awaits a person's decision (`effect.approved`, `effect.rejected`)
       * until `expiresAt`.
       */
      effects: {
        effectId: EffectId;
        toolCallId: string;
        tool: string;
        arguments: string;
        idempotencyKey: IdempotencyKey;
        generation?: number;
        approval?: { expiresAt: number };
      }[];
    }
  /**
   * A person approved a request: the write runs now, owned by `owner` (the instance that took the
   * decision) under its key. `request` repeats what runs, for the effect ledger.
   */
  | {
      type: 'effect.approved';
      effectId: EffectId;
      operator: string;
      note?: string;
      owner: string;
      leaseUntil: number;
      request: { tool: string; arguments: string; idempotencyKey: IdempotencyKey };
    }
  /** A request ended without running (see `RejectionCause`): it did not happen. */
  | {
      type: 'effect.rejected';
      effectId: EffectId;
      cause: RejectionCause;
      operator?: string;
      note?: string;
    }
  /**
   * A write's outcome. `failed` means it did not happen: the tool threw a `ToolRejection`, or its
   * `reconcile` said `did-not-happen` (`fenced`: the key is now unusable in the tool's system).
   * `late`: the effect had already settled differently (a stalled owner's run that outlived a
   * reconcile); it is recorded, the new outcome is the truth, and the conversation is flagged.
   * `warning`: the result could not be serialised, so `output` is a placeholder.
   */
  | {
      type: 'effect.settled';
      effectId: EffectId;
      outcome: 'done' | 'failed';
      output: string;
      fenced?: true;
      late?: true;
      warning?: string;
      /** A person said how a write of unknown outcome ended (not a fence: see `resolveEffect`). */
      operator?: string;
    }
  /**
   * The outcome of a write is unknown (see `UnknownCause`). With a `reconciler`, that instance
   * asks the tool's `reconcile`, holding a lease on that until `until` (another instance takes the
   * check over once it expires; logs written before `until` existed have none, and any instance
   * may check at once). Without one (`timeout`), the write is still in flight. `late`: the run of
   * a write already recorded as failed threw after all (a tool that did not fence): it may have
   * happened, so it is reconciled again, and the conversation is flagged.
   */
  | {
      type: 'effect.unknown';
      effectId: EffectId;
      reason: string;
      cause: UnknownCause;
      reconciler: string | null;
      until?: number;
      late?: true;
    }
  /**
   * No fenced answer: the tool has no `reconcile`, or it failed. The outcome stays unknown (and is
   * grafted as such), every write of the conversation stays blocked, and a person is asked.
   */
  | { type: 'effect.checked'; effectId: EffectId; note: string }
  /** The owner extends its leases on its live attempt, its running writes and the writes it must check. */
  | { type: 'lease.renewed'; owner: string; until: number; attempts: AttemptId[]; effects: EffectId[] }
  /** Another instance takes over a live attempt whose owner's lease expired. */
  | { type: 'lease.claimed'; attemptId: AttemptId; owner: string; until: number }
  /**
   * An owner that shuts down hands its leases back at once: the listed live attempts and writes
   * it had to check end at the time of this event, so any instance may claim them now (as it
   * would once they expired). A running write is never released: it cannot be handed off.
   */
  | { type: 'lease.released'; owner: string; attempts: AttemptId[]; effects: EffectId[] }
  | {
      type: 'tool.refused';
      callId: CallId;
      refusals: { toolCallId: string; reason: RefusalReason; output: string }[];
    }
  | { type: 'tool.read'; callId: CallId; toolCallId: string; ok: boolean; output: string }
  | {
      type: 'reply.committed';
      attemptId: AttemptId | null;
      replyId: ReplyId;
      text: string;
      covers: MessageId[];
      /** The call whose response is the reply (the new head); null for a fallback reply. */
      callId: CallId | null;
      kind: ReplyKind;
      needsHuman: boolean;
      /** Who wrote an `operator` reply. */
      operator?: string;
    }
  /**
   * A person takes the conversation over: the live attempt is superseded, and until
   * `conversation.released` no model call starts, no write gate passes and the bot answers
   * nothing. The person's replies are `reply.committed` of kind `operator`.
   */
  | { type: 'conversation.taken-over'; operator: string }
  /** The person hands the conversation back to the bot. */
  | { type: 'conversation.released'; operator: string }
  | { type: 'reply.delivered'; replyId: ReplyId; deliveryId: string }
  /**
   * A reply's delivery gave up: it failed `attempts` times, or kept failing for longer than the
   * delivery's age bound (`reason`). The reply stays committed and undelivered; the conversation
   * can rest. `reply.redelivery-requested` tries it again.
   */
  | {
      type: 'reply.dead-lettered';
      replyId: ReplyId;
      deliveryId: string;
      attempts: number;
      lastError: string;
      reason: DeadLetterReason;
    }
  /** Someone asked to deliver a dead-lettered reply again: its bounds start over from here. */
  | { type: 'reply.redelivery-requested'; replyId: ReplyId; deliveryId: string }
  /**
   * There was nowhere to deliver the reply (no webhook): it is committed and readable (API, SSE)
   * but nobody was sent it, so it is not marked delivered. It is not retried.
   */
  | { type: 'reply.undelivered'; replyId: ReplyId; deliveryId: string; reason: 'no-target' };

/** Who wrote a reply: the bot (`reply`, `follow-up`), graft's fixed text (`fallback`), or a person (`operator`). */
export type ReplyKind = 'reply' | 'follow-up' | 'fallback' | 'operator';

/** Why a delivery was dead-lettered: it ran out of attempts, or out of time. */
export type DeadLetterReason = 'attempts' | 'age';

export type EventType = EventBody['type'];

/** An event as the log holds it. */
export type GraftEvent = EventBody & {
  v: typeof EVENT_VERSION;
  /** Position in the conversation's log: 1, 2, 3, … with no gaps. */
  seq: number;
  /** When it was appended, in ms since the epoch (from the injected clock). */
  at: number;
};

export type EventOf<T extends EventType> = Extract<GraftEvent, { type: T }>;
