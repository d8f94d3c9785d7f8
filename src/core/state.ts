import { invariant } from './errors.js';
import type {
  ClassifiedCall,
  ContextEntry,
  DeadLetterReason,
  EffectStatus,
  FailureKind,
  GraftEvent,
  ModelCallReason,
  RefusalReason,
  RejectionCause,
  ReplyKind,
  UnknownCause,
} from './events.js';
import { EVENT_VERSION } from './events.js';
import type {
  AttemptId,
  CallId,
  ConversationId,
  EffectId,
  IdempotencyKey,
  MessageId,
  ReplyId,
} from './ids.js';
import type { OutputItem, Usage } from './items.js';

export interface MessageState {
  messageId: MessageId;
  text: string;
  seq: number;
  at: number;
  coveredBy: ReplyId | null;
}

export interface AttemptState {
  attemptId: AttemptId;
  turn: number;
  reason: 'message' | 'follow-up';
  startedSeq: number;
  status: 'live' | 'superseded' | 'committed' | 'failed';
  calls: CallId[];
  rebases: number;
  /** The instance that drives it, until `leaseUntil` (then another may claim it). */
  owner: string;
  leaseUntil: number;
}

/** How a function call of a response was answered. */
export type ToolCallOutcome =
  | { kind: 'effect'; effectId: EffectId }
  | { kind: 'refused'; reason: RefusalReason; output: string }
  | { kind: 'read'; ok: boolean; output: string };

export interface ToolCallState extends ClassifiedCall {
  outcome: ToolCallOutcome | null;
}

export interface ModelCallState {
  callId: CallId;
  attemptId: AttemptId;
  parent: CallId | null;
  entries: ContextEntry[];
  reason: ModelCallReason;
  stateless: boolean;
  owner: string;
  requestedSeq: number;
  requestedAt: number;
  status: 'pending' | 'responded' | 'failed';
  responseId: string | null;
  output: OutputItem[];
  usage: Usage | null;
  toolCalls: ToolCallState[];
  respondedSeq: number | null;
  respondedAt: number | null;
  failure: { kind: FailureKind; message: string; retryAfterMs: number | null; at: number } | null;
}

export interface EffectState {
  effectId: EffectId;
  attemptId: AttemptId;
  callId: CallId;
  toolCallId: string;
  tool: string;
  arguments: string;
  idempotencyKey: IdempotencyKey;
  owner: string;
  leaseUntil: number;
  status: EffectStatus;
  output: string | null;
  /** Why the outcome is (or was) unknown. */
  cause: UnknownCause | null;
  /** The key without its generation suffix: the key the tool derived. */
  baseKey: IdempotencyKey;
  /** 1 for a key's first run; n for the n-th run of a key whose earlier runs failed. */
  generation: number;
  /** The instance that must ask the tool's `reconcile`, until checked. */
  checkBy: string | null;
  /** `reconcile` gave no fenced answer: the outcome stays unknown until a person resolves it. */
  checked: boolean;
  /** `reconcile` said it did not happen, and fenced the key. */
  fenced: boolean;
  /** A settle arrived after the effect had settled differently (recorded, and flagged). */
  late: boolean;
  /** Why the output is a placeholder (the result could not be serialised). */
  warning: string | null;
  /** The person who said how it ended, when the tool's `reconcile` could not. */
  resolvedBy: string | null;
  startedSeq: number;
  /** When it began to run (for a request, when it was approved): its time bounds count from here. */
  startedAt: number;
  /** The seq of the last status change (start, settle, unknown). */
  changedSeq: number;
  /** Set when the write needed a person's approval: the request and its decision. */
  approval: ApprovalState | null;
}

/** A request for approval: when it was made, until when it may wait, and how it was decided. */
export interface ApprovalState {
  requestedAt: number;
  expiresAt: number;
  /** Null while it waits. */
  decision: 'approved' | RejectionCause | null;
  operator: string | null;
  note: string | null;
  decidedAt: number | null;
}

export interface ReplyState {
  replyId: ReplyId;
  attemptId: AttemptId | null;
  callId: CallId | null;
  text: string;
  covers: MessageId[];
  kind: ReplyKind;
  needsHuman: boolean;
  /** Who wrote an `operator` reply. */
  operator: string | null;
  committedSeq: number;
  committedAt: number;
  deliveryId: string | null;
  deliveredAt: number | null;
  /**
   * Where its delivery stands: `pending` (being delivered, or to be), `delivered`,
   * `dead-lettered` (it gave up; see `deadLetter`) or `no-target` (there was nowhere to send it).
   * Only `pending` is work left.
   */
  delivery: DeliveryStatus;
  /** When the current round of delivery began (the commit, or the last redelivery request): its age bound counts from here. */
  deliverySince: number;
  /** Why and when delivery gave up, while dead-lettered. */
  deadLetter: DeadLetterState | null;
  /** How many times delivery was asked for again after a dead letter. */
  redeliveries: number;
}

export type DeliveryStatus = 'pending' | 'delivered' | 'dead-lettered' | 'no-target';

export interface DeadLetterState {
  attempts: number;
  lastError: string;
  reason: DeadLetterReason;
  at: number;
}

/**
 * A conversation, folded from its log. One actor owns a state value; `evolve` updates it in place
 * (the simulator folds millions of events), and nothing else may touch it.
 */
export interface ConversationState {
  conversationId: ConversationId;
  /** The seq of the last event folded in (0 for an empty log). */
  seq: number;
  /** The time of the last event folded in. */
  now: number;
  messages: MessageState[];
  messageIndex: Map<MessageId, MessageState>;
  attempts: Map<AttemptId, AttemptState>;
  live: AttemptId | null;
  calls: Map<CallId, ModelCallState>;
  effects: Map<EffectId, EffectState>;
  /** Effects in the order they started. */
  effectOrder: EffectId[];
  /** The latest effect of each idempotency key (without its generation suffix). */
  keys: Map<IdempotencyKey, EffectId>;
  replies: ReplyState[];
  replyIndex: Map<ReplyId, ReplyState>;
  /** The call whose response is the last committed reply: the conversation's chain tip. */
  head: CallId | null;
  /** The number of the turn being answered (1 until the first reply is committed). */
  turn: number;
  /** Model calls requested in the current turn, over all its attempts. */
  modelCallsThisTurn: number;
  /**
   * The seq of the last reply the bot committed (a person's reply does not count: it came from no
   * model context, so it told the model nothing). Effects that changed after it may owe a follow-up.
   */
  lastCommitSeq: number;
  /**
   * The seq at which the last follow-up attempt that ended without a reply (failed, or superseded
   * by a message, whose attempt then tells the news) started. One superseded by a takeover does
   * not count: it told nobody, so the follow-up is still owed after the release.
   */
  lastFollowUpSeq: number;
  /** Set while a person has the conversation: the bot answers nothing and writes nothing. */
  takenOver: { operator: string; since: number; seq: number } | null;
}

export function initialState(conversationId: ConversationId): ConversationState {
  return {
    conversationId,
    seq: 0,
    now: 0,
    messages: [],
    messageIndex: new Map(),
    attempts: new Map(),
    live: null,
    calls: new Map(),
    effects: new Map(),
    effectOrder: [],
    keys: new Map(),
    replies: [],
    replyIndex: new Map(),
    head: null,
    turn: 1,
    modelCallsThisTurn: 0,
    lastCommitSeq: 0,
    lastFollowUpSeq: 0,
    takenOver: null,
  };
}

export function getCall(state: ConversationState, callId: CallId): ModelCallState {
  const call = state.calls.get(callId);
  invariant(call, `unknown model call ${callId}`);
  return call;
}

export function getEffect(state: ConversationState, effectId: EffectId): EffectState {
  const effect = state.effects.get(effectId);
  invariant(effect, `unknown effect ${effectId}`);
  return effect;
}

export function getAttempt(state: ConversationState, attemptId: AttemptId): AttemptState {
  const attempt = state.attempts.get(attemptId);
  invariant(attempt, `unknown attempt ${attemptId}`);
  return attempt;
}

function toolCall(state: ConversationState, callId: CallId, toolCallId: string): ToolCallState {
  const found = getCall(state, callId).toolCalls.find((t) => t.toolCallId === toolCallId);
  invariant(found, `unknown tool call ${toolCallId} of ${callId}`);
  return found;
}

/**
 * The fold's step: folds one event into the state and returns it. It updates the state in place
 * (the simulator folds millions of events; a copy per event would cost more than the rest of the
 * core), so the caller owns the state it passes. Events must come in seq order. `replay` folds a
 * whole log; `plan` decides on the result.
 */
export function evolve(state: ConversationState, event: GraftEvent): ConversationState {
  invariant(event.v === EVENT_VERSION, `event format v${String(event.v)} is not supported`);
  invariant(event.seq === state.seq + 1, `event seq ${event.seq} does not follow ${state.seq}`);
  state.seq = event.seq;
  state.now = Math.max(state.now, event.at);
  applyEvent(state, event);
  return state;
}

function applyEvent(state: ConversationState, event: GraftEvent): void {
  switch (event.type) {
    case 'message.received': {
      invariant(!state.messageIndex.has(event.messageId), `message ${event.messageId} appended twice`);
      const message = {
        messageId: event.messageId,
        text: event.text,
        seq: event.seq,
        at: event.at,
        coveredBy: null,
      };
      state.messages.push(message);
      state.messageIndex.set(message.messageId, message);
      return;
    }
    case 'attempt.started':
      invariant(state.live === null, `attempt ${event.attemptId} started while ${state.live} is live`);
      state.attempts.set(event.attemptId, {
        attemptId: event.attemptId,
        turn: event.turn,
        reason: event.reason,
        startedSeq: event.seq,
        status: 'live',
        calls: [],
        rebases: 0,
        owner: event.owner,
        leaseUntil: event.leaseUntil,
      });
      state.live = event.attemptId;
      return;
    case 'attempt.superseded':
    case 'attempt.failed': {
      const attempt = getAttempt(state, event.attemptId);
      invariant(attempt.status === 'live', `ending ${attempt.status} attempt ${attempt.attemptId}`);
      attempt.status = event.type === 'attempt.failed' ? 'failed' : 'superseded';
      if (attempt.reason === 'follow-up') state.lastFollowUpSeq = attempt.startedSeq;
      if (state.live === event.attemptId) state.live = null;
      return;
    }
    case 'model.requested':
      return applyModelRequested(state, event);
    case 'model.responded': {
      const call = getCall(state, event.callId);
      invariant(call.status === 'pending', `response for ${call.status} call ${call.callId}`);
      Object.assign(call, {
        status: 'responded',
        responseId: event.responseId,
        output: event.output,
        usage: event.usage,
        toolCalls: event.calls.map((c) => ({ ...c, outcome: null })),
        respondedSeq: event.seq,
        respondedAt: event.at,
      });
      return;
    }
    case 'model.failed': {
      const call = getCall(state, event.callId);
      invariant(call.status === 'pending', `failure for ${call.status} call ${call.callId}`);
      call.status = 'failed';
      call.usage = event.usage ?? null;
      call.failure = {
        kind: event.kind,
        message: event.message,
        retryAfterMs: event.retryAfterMs,
        at: event.at,
      };
      return;
    }
    default:
      return applyEffectOrReplyEvent(state, event);
  }
}

function applyModelRequested(
  state: ConversationState,
  event: Extract<GraftEvent, { type: 'model.requested' }>,
): void {
  const attempt = getAttempt(state, event.attemptId);
  invariant(!state.calls.has(event.callId), `model call ${event.callId} requested twice`);
  invariant(
    event.parent === null || state.calls.get(event.parent)?.status === 'responded',
    `parent of ${event.callId} has no response`,
  );
  state.calls.set(event.callId, {
    callId: event.callId,
    attemptId: event.attemptId,
    parent: event.parent,
    entries: event.entries,
    reason: event.reason,
    stateless: event.stateless,
    owner: event.owner,
    requestedSeq: event.seq,
    requestedAt: event.at,
    status: 'pending',
    responseId: null,
    output: [],
    usage: null,
    toolCalls: [],
    respondedSeq: null,
    respondedAt: null,
    failure: null,
  });
  attempt.calls.push(event.callId);
  if (event.reason === 'rebase') attempt.rebases += 1;
  state.modelCallsThisTurn += 1;
}

function applyEffectOrReplyEvent(state: ConversationState, event: GraftEvent): void {
  switch (event.type) {
    case 'effect.started':
      for (const spec of event.effects) {
        invariant(!state.effects.has(spec.effectId), `effect ${spec.effectId} started twice`);
        const call = toolCall(state, event.callId, spec.toolCallId);
        invariant(call.outcome === null, `tool call ${spec.toolCallId} answered twice`);
        call.outcome = { kind: 'effect', effectId: spec.effectId };
        const generation = spec.generation ?? 1;
        state.effects.set(spec.effectId, {
          ...spec,
          attemptId: event.attemptId,
          callId: event.callId,
          owner: event.owner,
          leaseUntil: event.leaseUntil,
          status: spec.approval ? 'awaiting' : 'running',
          output: null,
          cause: null,
          baseKey: baseKeyOf(spec.idempotencyKey, generation),
          generation,
          checkBy: null,
          checked: false,
          fenced: false,
          late: false,
          warning: null,
          resolvedBy: null,
          startedSeq: event.seq,
          startedAt: event.at,
          changedSeq: event.seq,
          approval: spec.approval
            ? {
                requestedAt: event.at,
                expiresAt: spec.approval.expiresAt,
                decision: null,
                operator: null,
                note: null,
                decidedAt: null,
              }
            : null,
        });
        state.effectOrder.push(spec.effectId);
        state.keys.set(baseKeyOf(spec.idempotencyKey, generation), spec.effectId);
      }
      return;
    case 'effect.approved':
    case 'effect.rejected':
      return applyDecision(state, event);
    case 'conversation.taken-over': {
      invariant(state.takenOver === null, `taking over a conversation that ${state.takenOver?.operator} has`);
      state.takenOver = { operator: event.operator, since: event.at, seq: event.seq };
      // The live attempt is superseded: it starts nothing more, and its model call is aborted.
      if (state.live !== null) {
        getAttempt(state, state.live).status = 'superseded';
        state.live = null;
      }
      return;
    }
    case 'conversation.released':
      invariant(state.takenOver !== null, 'releasing a conversation nobody took over');
      state.takenOver = null;
      return;
    case 'effect.settled': {
      const effect = getEffect(state, event.effectId);
      const open = effect.status === 'running' || effect.status === 'unknown';
      invariant(
        event.late === true ? !open && effect.status !== event.outcome : open,
        `settling ${effect.status} effect ${effect.effectId}${event.late ? ' late' : ''}`,
      );
      Object.assign(effect, { status: event.outcome, output: event.output, changedSeq: event.seq });
      if (event.fenced) effect.fenced = true;
      if (event.late) effect.late = true;
      if (event.warning !== undefined) effect.warning = event.warning;
      if (event.operator !== undefined) effect.resolvedBy = event.operator;
      return;
    }
    case 'effect.unknown': {
      const effect = getEffect(state, event.effectId);
      // A write in flight past its time bound goes on to a reconciler; a lost reconciler is replaced.
      invariant(
        effect.status === 'running' ||
          (effect.status === 'unknown' &&
            !effect.checked &&
            (effect.checkBy !== null || event.reconciler !== null)) ||
          (event.late === true && effect.status === 'failed' && event.reconciler !== null),
        `effect ${effect.effectId} is ${effect.status}, not running or waiting for a check`,
      );
      if (event.late) Object.assign(effect, { late: true, checked: false });
      if (effect.status !== 'unknown') Object.assign(effect, { status: 'unknown', changedSeq: event.seq });
      effect.cause = event.cause;
      effect.checkBy = event.reconciler;
      if (event.reconciler !== null)
        Object.assign(effect, { owner: event.reconciler, leaseUntil: event.until ?? effect.leaseUntil });
      return;
    }
    case 'effect.checked':
      getEffect(state, event.effectId).checked = true;
      return;
    case 'lease.renewed':
      for (const id of event.attempts) {
        const attempt = getAttempt(state, id);
        if (attempt.owner === event.owner) attempt.leaseUntil = Math.max(attempt.leaseUntil, event.until);
      }
      for (const id of event.effects) {
        const effect = getEffect(state, id);
        if (effect.owner === event.owner) effect.leaseUntil = Math.max(effect.leaseUntil, event.until);
      }
      return;
    case 'lease.released':
      // Only the owner's own leases end, and never later than they would have.
      for (const id of event.attempts) {
        const attempt = getAttempt(state, id);
        if (attempt.owner === event.owner) attempt.leaseUntil = Math.min(attempt.leaseUntil, event.at);
      }
      for (const id of event.effects) {
        const effect = getEffect(state, id);
        if (effect.owner === event.owner) effect.leaseUntil = Math.min(effect.leaseUntil, event.at);
      }
      return;
    case 'lease.claimed': {
      const attempt = getAttempt(state, event.attemptId);
      invariant(attempt.status === 'live', `claiming ${attempt.status} attempt ${attempt.attemptId}`);
      Object.assign(attempt, { owner: event.owner, leaseUntil: event.until });
      // The lost owner's call in flight will never be answered here: the new owner calls again.
      for (const callId of attempt.calls) {
        const call = getCall(state, callId);
        if (call.status !== 'pending') continue;
        call.status = 'failed';
        call.failure = {
          kind: 'takeover',
          message: `owner ${call.owner} lost its lease`,
          retryAfterMs: null,
          at: event.at,
        };
      }
      return;
    }
    case 'tool.refused':
      for (const refusal of event.refusals) {
        const call = toolCall(state, event.callId, refusal.toolCallId);
        invariant(call.outcome === null, `tool call ${refusal.toolCallId} answered twice`);
        call.outcome = { kind: 'refused', reason: refusal.reason, output: refusal.output };
      }
      return;
    case 'tool.read': {
      const call = toolCall(state, event.callId, event.toolCallId);
      invariant(call.outcome === null, `tool call ${event.toolCallId} answered twice`);
      call.outcome = { kind: 'read', ok: event.ok, output: event.output };
      return;
    }
    case 'reply.committed':
      return applyReplyCommitted(state, event);
    case 'reply.delivered': {
      const reply = state.replyIndex.get(event.replyId);
      invariant(reply, `delivered unknown reply ${event.replyId}`);
      reply.deliveryId = event.deliveryId;
      reply.deliveredAt ??= event.at;
      // A delivery that got through after all (another instance's) is the truth.
      Object.assign(reply, { delivery: 'delivered', deadLetter: null });
      return;
    }
    case 'reply.dead-lettered':
    case 'reply.undelivered':
    case 'reply.redelivery-requested':
      return applyDeliveryOutcome(state, event);
    default:
      throw new Error(`unhandled event type ${(event as { type: string }).type}`);
  }
}

function applyReplyCommitted(
  state: ConversationState,
  event: Extract<GraftEvent, { type: 'reply.committed' }>,
): void {
  const reply: ReplyState = {
    replyId: event.replyId,
    attemptId: event.attemptId,
    callId: event.callId,
    text: event.text,
    covers: event.covers,
    kind: event.kind,
    needsHuman: event.needsHuman,
    operator: event.operator ?? null,
    committedSeq: event.seq,
    committedAt: event.at,
    deliveryId: null,
    deliveredAt: null,
    delivery: 'pending',
    deliverySince: event.at,
    deadLetter: null,
    redeliveries: 0,
  };
  state.replies.push(reply);
  state.replyIndex.set(reply.replyId, reply);
  for (const messageId of event.covers) {
    const message = state.messageIndex.get(messageId);
    invariant(message && message.coveredBy === null, `reply ${reply.replyId} covers ${messageId} again`);
    message.coveredBy = reply.replyId;
  }
  if (event.attemptId !== null) {
    const attempt = getAttempt(state, event.attemptId);
    invariant(attempt.status === 'live', `committing ${attempt.status} attempt ${attempt.attemptId}`);
    attempt.status = 'committed';
    state.live = null;
  }
  if (event.callId !== null) state.head = event.callId;
  state.turn += 1;
  state.modelCallsThisTurn = 0;
  if (event.kind !== 'operator') state.lastCommitSeq = event.seq;
}

/** A person's decision on a request for approval (or its expiry, or its withdrawal). */
function applyDecision(
  state: ConversationState,
  event: Extract<GraftEvent, { type: 'effect.approved' | 'effect.rejected' }>,
): void {
  const effect = getEffect(state, event.effectId);
  const approval = effect.approval;
  invariant(
    approval !== null && effect.status === 'awaiting',
    `deciding effect ${effect.effectId}, which does not await approval`,
  );
  Object.assign(approval, {
    operator: event.operator ?? null,
    note: event.note ?? null,
    decidedAt: event.at,
  });
  if (event.type === 'effect.approved') {
    approval.decision = 'approved';
    Object.assign(effect, {
      status: 'running',
      owner: event.owner,
      leaseUntil: event.leaseUntil,
      startedAt: event.at,
      changedSeq: event.seq,
    });
    return;
  }
  approval.decision = event.cause;
  Object.assign(effect, {
    status: 'failed',
    output: rejectionOutput(event.cause, event.note),
    changedSeq: event.seq,
  });
}

/** What a context is told about a request that ended without running. */
export function rejectionOutput(cause: RejectionCause, note: string | undefined): string {
  const said = note ? ` Their note: ${JSON.stringify(note)}.` : '';
  const text = {
    rejected: `Not executed: a member of staff rejected this request.${said}`,
    expired: 'Not executed: no member of staff decided on this request in time.',
    withdrawn:
      'Not executed: this request was withdrawn before a member of staff decided on it, because the customer wrote again. Ask for it again only if the customer still wants it.',
  }[cause];
  return JSON.stringify({ status: 'not_executed', note: text });
}

/** A delivery that ended without reaching anyone, or a request to try it again. */
function applyDeliveryOutcome(
  state: ConversationState,
  event: Extract<
    GraftEvent,
    { type: 'reply.dead-lettered' | 'reply.undelivered' | 'reply.redelivery-requested' }
  >,
): void {
  const reply = state.replyIndex.get(event.replyId);
  invariant(reply, `${event.type} for unknown reply ${event.replyId}`);
  reply.deliveryId = event.deliveryId;
  if (event.type === 'reply.redelivery-requested') {
    invariant(reply.delivery === 'dead-lettered', `redelivering ${reply.delivery} reply ${reply.replyId}`);
    Object.assign(reply, { delivery: 'pending', deadLetter: null, deliverySince: event.at });
    reply.redeliveries += 1;
    return;
  }
  invariant(reply.delivery === 'pending', `${event.type} for ${reply.delivery} reply ${reply.replyId}`);
  if (event.type === 'reply.undelivered') {
    reply.delivery = 'no-target';
    return;
  }
  reply.delivery = 'dead-lettered';
  reply.deadLetter = {
    attempts: event.attempts,
    lastError: event.lastError,
    reason: event.reason,
    at: event.at,
  };
}

/** Whether a reply is still to be delivered: not delivered, not given up on, and with somewhere to go. */
export function awaitingDelivery(reply: ReplyState): boolean {
  return reply.delivery === 'pending';
}

/** Folds a whole log. */
export function replay(conversationId: ConversationId, events: Iterable<GraftEvent>): ConversationState {
  let state = initialState(conversationId);
  for (const event of events) state = evolve(state, event);
  return state;
}

/**
 * A write whose owner holds a lease on it: it runs (past its time bound too), or its owner must
 * check how it ended.
 */
export function leased(effect: EffectState): boolean {
  return effect.status === 'running' || (effect.status === 'unknown' && !effect.checked);
}

/** The key a tool derived, from the key of one of its generations (`<key>#<n>` for n > 1). */
export function baseKeyOf(key: IdempotencyKey, generation: number): IdempotencyKey {
  return generation <= 1 ? key : (key.slice(0, key.length - `#${generation}`.length) as IdempotencyKey);
}

/** The key the n-th run of a key is given. */
export function generationKey(baseKey: IdempotencyKey, generation: number): IdempotencyKey {
  return generation <= 1 ? baseKey : (`${baseKey}#${generation}` as IdempotencyKey);
}

/**
 * Why a person should look at the conversation: a write whose outcome no fenced answer settled
 * (its writes are blocked), or a settle that contradicted an earlier one. Null when none.
 */
export function attentionNeeded(state: ConversationState): string | null {
  for (const id of state.effectOrder) {
    const effect = getEffect(state, id);
    if (effect.status === 'unknown' && effect.checked)
      return `the outcome of ${effect.tool} (${effect.effectId}) is unknown and was not reconciled`;
    if (effect.late)
      return `${effect.tool} (${effect.effectId}) settled late as ${effect.status}, after it had been recorded otherwise`;
  }
  return null;
}

/**
 * Whether the conversation has work left: a live attempt, a write that may be in flight (or whose
 * owner must check how it ended), a request for approval (it expires), a reply still being delivered (a dead-lettered one, or one with
 * nowhere to go, is not work: the conversation can rest) or an unanswered message. Stores keep it
 * with each append, to list the conversations to resume after a restart: the shell folds the
 * events it appends first and reads this off the state they build.
 */
export function unfinished(state: ConversationState): boolean {
  return (
    state.live !== null ||
    state.effectOrder.some((id) => {
      const effect = getEffect(state, id);
      return leased(effect) || effect.status === 'awaiting';
    }) ||
    state.replies.some(awaitingDelivery) ||
    // While a person has the conversation, its messages wait for them, not for the bot.
    (state.takenOver === null && state.messages.some((m) => m.coveredBy === null))
  );
}
