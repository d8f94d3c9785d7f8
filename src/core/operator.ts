/**
 * What a person may do to a conversation, decided on its state: decide a request for approval,
 * take the conversation over, reply in it, hand it back. Each act is one event, appended at the
 * expected seq like the core's own decisions, so the gates see it in order; an act the state does
 * not allow is refused with an `OperatorError` that says why.
 */
import { GraftError } from './errors.js';
import type { EventBody } from './events.js';
import type { EffectId } from './ids.js';
import { replyIdAt } from './ids.js';
import type { ConversationState } from './state.js';

export type OperatorErrorCode =
  | 'request_not_found'
  | 'request_not_pending'
  | 'already_taken_over'
  | 'not_taken_over'
  | 'effect_not_found'
  | 'effect_not_blocked'
  | 'invalid_operator_input';

/** A person's act that the conversation's state does not allow (nothing was appended). */
export class OperatorError extends GraftError {
  override readonly name = 'OperatorError';
  readonly kind = 'terminal';
  constructor(
    readonly code: OperatorErrorCode,
    message: string,
  ) {
    super(message);
  }
}

export type Decision = 'approve' | 'reject';

const MAX_NOTE_CHARS = 2_000;
const MAX_OPERATOR_CHARS = 200;

function checkText(field: string, value: unknown, max: number, required: boolean): void {
  if (value === undefined && !required) return;
  if (typeof value !== 'string' || (required && value.trim() === ''))
    throw new OperatorError('invalid_operator_input', `${field} must be a non-empty string`);
  if (value.length > max)
    throw new OperatorError('invalid_operator_input', `${field} is longer than ${max} characters`);
}

/**
 * A decision on a request for approval. Approved, the write runs at once under its key, owned by
 * `owner` (the deciding instance). A request that is no longer pending (decided, expired, or
 * withdrawn because its attempt was superseded) is refused, naming what happened to it; so is one
 * past its bound at `owner.now` whose expiry no instance has recorded yet.
 */
export function decideRequest(
  state: ConversationState,
  effectId: EffectId,
  decision: { decision: Decision; operator: string; note?: string },
  owner: { instanceId: string; now: number; leaseUntil: number },
): EventBody {
  if (decision.decision !== 'approve' && decision.decision !== 'reject')
    throw new OperatorError('invalid_operator_input', 'decision must be "approve" or "reject"');
  checkText('operator', decision.operator, MAX_OPERATOR_CHARS, true);
  checkText('note', decision.note, MAX_NOTE_CHARS, false);
  const effect = state.effects.get(effectId);
  if (!effect?.approval)
    throw new OperatorError(
      'request_not_found',
      `conversation ${state.conversationId} has no request for approval ${effectId}`,
    );
  const { approval } = effect;
  if (approval.decision !== null) {
    const by = approval.operator ? ` by ${approval.operator}` : '';
    const what = {
      approved: `was already approved${by}`,
      rejected: `was already rejected${by}`,
      expired: 'expired: nobody decided on it in time',
      withdrawn: 'was withdrawn: the customer wrote again before it was decided, and the bot asked afresh',
    }[approval.decision];
    throw new OperatorError('request_not_pending', `request ${state.conversationId}:${effectId} ${what}`);
  }
  // Past its bound it has expired, even if no instance has recorded the expiry yet.
  if (owner.now >= approval.expiresAt)
    throw new OperatorError(
      'request_not_pending',
      `request ${state.conversationId}:${effectId} expired: nobody decided on it in time`,
    );
  const note = decision.note === undefined ? {} : { note: decision.note };
  if (decision.decision === 'reject')
    return { type: 'effect.rejected', effectId, cause: 'rejected', operator: decision.operator, ...note };
  return {
    type: 'effect.approved',
    effectId,
    operator: decision.operator,
    ...note,
    owner: owner.instanceId,
    leaseUntil: owner.leaseUntil,
    request: { tool: effect.tool, arguments: effect.arguments, idempotencyKey: effect.idempotencyKey },
  };
}

/** A person takes the conversation over (its live attempt is superseded by the event). */
export function takeOver(state: ConversationState, operator: string): EventBody {
  checkText('operator', operator, MAX_OPERATOR_CHARS, true);
  if (state.takenOver !== null)
    throw new OperatorError(
      'already_taken_over',
      `conversation ${state.conversationId} is already taken over by ${state.takenOver.operator}`,
    );
  return { type: 'conversation.taken-over', operator };
}

/**
 * A person's reply, committed like the bot's (same outbox, same delivery): it answers every
 * message not answered yet. Only while the person has the conversation.
 */
export function operatorReply(state: ConversationState, text: string, maxChars: number): EventBody {
  checkText('text', text, maxChars, true);
  if (state.takenOver === null)
    throw new OperatorError(
      'not_taken_over',
      `conversation ${state.conversationId} is not taken over: take it over before replying`,
    );
  return {
    type: 'reply.committed',
    attemptId: null,
    replyId: replyIdAt(state.seq + 1),
    text,
    covers: state.messages.filter((m) => m.coveredBy === null).map((m) => m.messageId),
    callId: null,
    kind: 'operator',
    needsHuman: false,
    operator: state.takenOver.operator,
  };
}

/** The person hands the conversation back: the bot answers what is left, knowing what was said. */
export function release(state: ConversationState): EventBody {
  if (state.takenOver === null)
    throw new OperatorError('not_taken_over', `conversation ${state.conversationId} is not taken over`);
  return { type: 'conversation.released', operator: state.takenOver.operator };
}

/**
 * A person says how a write of unknown outcome ended, after the tool's `reconcile` could not (the
 * write blocks every other write of the conversation until then). `done`: it happened; `failed`:
 * it did not, and may be asked for again (under a new key generation). A person's word is not a
 * fence: say `failed` only when the write can no longer land. Refused for a write that is not
 * blocked (running, being reconciled, or settled).
 */
export function resolveEffect(
  state: ConversationState,
  effectId: EffectId,
  resolution: { outcome: 'done' | 'failed'; operator: string; note?: string },
): EventBody {
  if (resolution.outcome !== 'done' && resolution.outcome !== 'failed')
    throw new OperatorError('invalid_operator_input', 'outcome must be "done" or "failed"');
  checkText('operator', resolution.operator, MAX_OPERATOR_CHARS, true);
  checkText('note', resolution.note, MAX_NOTE_CHARS, false);
  const effect = state.effects.get(effectId);
  if (!effect)
    throw new OperatorError(
      'effect_not_found',
      `conversation ${state.conversationId} has no effect ${effectId}`,
    );
  if (effect.status !== 'unknown' || !effect.checked) {
    const now =
      effect.status === 'unknown' ? 'is being reconciled by the tool' : `is ${effect.status}, not unknown`;
    throw new OperatorError(
      'effect_not_blocked',
      `effect ${state.conversationId}:${effectId} ${now}: only a write whose outcome the tool could not tell can be resolved by a person`,
    );
  }
  const said = resolution.note ? ` Their note: ${JSON.stringify(resolution.note)}.` : '';
  const output =
    resolution.outcome === 'done'
      ? { status: 'done', note: `A member of staff confirmed that this call happened.${said}` }
      : {
          status: 'not_executed',
          note: `A member of staff confirmed that this call did not happen. It may be repeated.${said}`,
        };
  return {
    type: 'effect.settled',
    effectId,
    outcome: resolution.outcome,
    output: JSON.stringify(output),
    operator: resolution.operator,
  };
}
