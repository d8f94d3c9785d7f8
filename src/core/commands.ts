import type { EventBody } from './events.js';
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
 * What the core asks the shell to do. `append` carries decisions: they take effect only once
 * appended at the expected seq (that append is the gate). Every other command is idempotent by its
 * id: the shell runs it once however often it is asked.
 */
export type Command =
  | { type: 'append'; events: EventBody[] }
  | { type: 'call-model'; callId: CallId; request: ModelRequest }
  | { type: 'abort-model'; callId: CallId }
  | { type: 'run-write'; effectId: EffectId; tool: string; arguments: string; idempotencyKey: IdempotencyKey; origin: CallOrigin }
  | { type: 'run-read'; tool: string; arguments: string; origin: CallOrigin }
  /** Ask the tool whether a write whose owner was lost happened (its `reconcile`). */
  | { type: 'reconcile'; effectId: EffectId; tool: string; idempotencyKey: IdempotencyKey; origin: CallOrigin }
  | { type: 'deliver'; replyId: ReplyId; text: string; covers: MessageId[]; kind: 'reply' | 'follow-up' | 'fallback' }
  /** Call `decide` again at this time (the earliest deadline the state is waiting for). */
  | { type: 'wake'; at: number };

export type CommandOf<T extends Command['type']> = Extract<Command, { type: T }>;
