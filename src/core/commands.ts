import type { EventBody, ReplyKind } from './events.js';
import type { AttemptId, CallId, EffectId, IdempotencyKey, MessageId, ReplyId } from './ids.js';
import type { ModelRequest } from './model-port.js';

/** Who asked for a tool call: what a tool's idempotency key and run may depend on. */
export interface CallOrigin {
  attemptId: AttemptId;
  callId: CallId;
  toolCallId: string;
  turn: number;
  messageIds: MessageId[];
}

/**
 * The I/O the core asks the shell to run. Each is idempotent by its id: the shell runs it once
 * however often it is asked.
 */
export type Command =
  | { type: 'call-model'; callId: CallId; request: ModelRequest }
  | { type: 'abort-model'; callId: CallId }
  | {
      type: 'run-write';
      effectId: EffectId;
      tool: string;
      arguments: string;
      idempotencyKey: IdempotencyKey;
      origin: CallOrigin;
    }
  | { type: 'run-read'; tool: string; arguments: string; origin: CallOrigin }
  /** Ask the tool whether a write whose owner was lost happened (its `reconcile`). */
  | {
      type: 'reconcile';
      effectId: EffectId;
      tool: string;
      idempotencyKey: IdempotencyKey;
      origin: CallOrigin;
    }
  | {
      type: 'deliver';
      replyId: ReplyId;
      text: string;
      covers: MessageId[];
      kind: ReplyKind;
    };

export type CommandOf<T extends Command['type']> = Extract<Command, { type: T }>;

/**
 * What `plan` says to do at one moment. Decisions come first: while there are events to append,
 * there is no I/O (they take effect only once appended at the expected seq — that append is the
 * gate — and the next plan is made on the state they build). Otherwise the I/O the state asks for,
 * and the time to plan again at when the state is waiting for the clock (null when it is not).
 */
export type Plan =
  { kind: 'append'; events: EventBody[] } | { kind: 'io'; commands: Command[]; wakeAt: number | null };
