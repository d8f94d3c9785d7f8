import type { AttemptId, CallId, EffectId, IdempotencyKey, MessageId, ReplyId } from './ids.js';
import type { InputItem, OutputItem, Usage } from './items.js';

/** The version of the event log format. Bump it, and keep a reader for the old one, on any change. */
export const EVENT_VERSION = 1;

/** What a context was told about an effect. */
export type EffectStatus = 'running' | 'done' | 'failed' | 'unknown';

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
}

export type ModelCallReason = 'start' | 'continue' | 'rebase' | 'retry' | 'restart' | 'stateless' | 'follow-up';

export type FailureKind = 'retryable' | 'terminal' | 'chain-broken' | 'aborted' | 'timeout' | 'takeover';

export type RefusalReason = 'rebase' | 'invalid' | 'duplicate-key' | 'duplicate-call';

/** The events of a conversation's log, without the fields the log adds (seq, at, v). */
export type EventBody =
  | { type: 'message.received'; messageId: MessageId; text: string; metadata?: Record<string, unknown> }
  | { type: 'attempt.started'; attemptId: AttemptId; turn: number; reason: 'message' | 'follow-up'; owner: string; leaseUntil: number }
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
      effects: { effectId: EffectId; toolCallId: string; tool: string; arguments: string; idempotencyKey: IdempotencyKey }[];
    }
  | { type: 'effect.settled'; effectId: EffectId; outcome: 'done' | 'failed'; output: string }
  /**
   * The outcome of a write is unknown: it ran past the tool-time bound (it still runs, and will
   * settle), or its owner's lease expired (a crash): then `reconciler` asks the tool's `reconcile`,
   * holding a lease on that until `until` (another instance takes the check over once it expires;
   * logs written before `until` existed have none, and any instance may check at once).
   */
  | { type: 'effect.unknown'; effectId: EffectId; reason: string; cause: 'timeout' | 'owner-lost'; reconciler: string | null; until?: number }
  /** The tool has no `reconcile`: the outcome stays unknown (and is grafted as such). */
  | { type: 'effect.checked'; effectId: EffectId; note: string }
  /** The owner extends its leases on its live attempt, its running writes and the writes it must check. */
  | { type: 'lease.renewed'; owner: string; until: number; attempts: AttemptId[]; effects: EffectId[] }
  /** Another instance takes over a live attempt whose owner's lease expired. */
  | { type: 'lease.claimed'; attemptId: AttemptId; owner: string; until: number }
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
      kind: 'reply' | 'follow-up' | 'fallback';
      needsHuman: boolean;
    }
  | { type: 'reply.delivered'; replyId: ReplyId; deliveryId: string };

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
