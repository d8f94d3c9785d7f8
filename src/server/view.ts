import type { EffectStatus, GraftEvent, ReplyKind } from '../core/events.js';
import { parseConversationId } from '../core/ids.js';
import type { InputItem, OutputItem } from '../core/items.js';
import type {
  ApprovalState,
  ConversationState,
  EffectState,
  ModelCallState,
  ToolCallState,
} from '../core/state.js';
import { attentionNeeded, replay } from '../core/state.js';
import type { PendingApproval } from '../runtime/approvals.js';
import { approvalIdOf } from '../runtime/approvals.js';
import type { DeadLetter } from '../runtime/dead-letters.js';
import type { EffectStatusChange, LogTimes } from './view-times.js';
import { logTimes, toolCallKey } from './view-times.js';

/**
 * The conversation view of `GET /v1/conversations/{id}` (and of `graft inspect`): the folded state
 * in plain JSON, with what the state drops (who superseded an attempt, message metadata) read from
 * the log. Times are ISO 8601 strings.
 */
export interface ConversationView {
  id: string;
  tenantId: string;
  /** The seq of the last event: the view is the log up to it. */
  seq: number;
  /** The turn being answered (one past the number of committed replies). */
  turn: number;
  /** The model call whose response is the last committed reply. */
  head: { callId: string; responseId: string | null } | null;
  /** Set while a person has the conversation (the bot answers nothing until it is released). */
  takenOver: { operator: string; since: string } | null;
  messages: MessageView[];
  replies: ReplyView[];
  effects: EffectView[];
  attempts: AttemptView[];
}

export interface MessageView {
  id: string;
  text: string;
  receivedAt: string;
  seq: number;
  metadata?: Record<string, unknown>;
  /** The reply that answers it, once committed. */
  coveredBy: string | null;
}

export interface ReplyView {
  id: string;
  turn: number;
  text: string;
  /** The message ids it answers. */
  covers: string[];
  kind: ReplyKind;
  /**
   * `committed`: being delivered (or to be); `delivered`; `dead-lettered`: delivery gave up (see
   * `deadLetter`; `POST /v1/dead-letters/{deliveryId}/redeliver` tries again, and a person's queue
   * can pick these up); `no-target`: there was nowhere to deliver it (no webhook), so it was only
   * readable here and over SSE.
   */
  status: 'committed' | 'delivered' | 'dead-lettered' | 'no-target';
  committedAt: string;
  deliveredAt: string | null;
  deliveryId: string | null;
  /** Why and since when delivery gave up, while dead-lettered; else null. */
  deadLetter: { attempts: number; lastError: string; reason: 'attempts' | 'age'; since: string } | null;
  /** How many times delivery was asked for again after a dead letter. */
  redeliveries: number;
  needsHuman: boolean;
  /** The bot's attempt that wrote it; null for a fallback or a person's reply. */
  attemptId: string | null;
  /** Who wrote a reply of kind `operator`; else null. */
  operator: string | null;
}

export interface EffectView {
  id: string;
  tool: string;
  /** The arguments, parsed (or the raw text when they are not JSON). */
  arguments: unknown;
  status: EffectStatus;
  idempotencyKey: string;
  attemptId: string;
  callId: string;
  /** The tool's output, parsed; null until it settles. */
  result: unknown;
  /** When it began to run; for a write that needed approval, when it was requested, then approved. */
  startedAt: string;
  /** For a write that needs a person's approval: the request and its decision; else null. */
  approval: ApprovalView | null;
  /**
   * Its status over time, oldest first: each status it took and when (`awaiting` → `running` on
   * approval, `running` → `done`, `unknown` → `failed`…).
   */
  history: { status: EffectStatus; at: string }[];
  /**
   * What a person should know beyond the status: why an outcome is unknown, that `reconcile`
   * fenced it, that it settled late, that its result could not be serialised. Null when nothing.
   */
  note: string | null;
}

/** A request for approval in the effect ledger (status `awaiting` until it is decided). */
export interface ApprovalView {
  requestedAt: string;
  /** When it expires unless decided (it is then recorded as `expired`, and did not run). */
  expiresAt: string;
  /** Null while it waits. `withdrawn`: the customer wrote again and the bot asked afresh. */
  decision: ApprovalState['decision'];
  operator: string | null;
  note: string | null;
  decidedAt: string | null;
}

export interface AttemptView {
  id: string;
  turn: number;
  reason: 'message' | 'follow-up';
  status: 'live' | 'superseded' | 'committed' | 'failed';
  startedAt: string;
  /** The response the attempt forked from (its first call's parent), or null: from the empty context. */
  basedOn: { callId: string; responseId: string | null } | null;
  /** The message that superseded it. */
  supersededBy: string | null;
  /** When it stopped being live (superseded, taken over, failed, or its reply committed); null while live. */
  endedAt: string | null;
  rebases: number;
  modelCalls: ModelCallView[];
}

export interface ModelCallView {
  id: string;
  parent: string | null;
  reason: string;
  stateless: boolean;
  status: 'pending' | 'responded' | 'failed';
  responseId: string | null;
  usage: {
    inputTokens: number;
    cachedInputTokens: number;
    outputTokens: number;
    reasoningTokens: number;
  } | null;
  failure: { kind: string; message: string } | null;
  requestedAt: string;
  respondedAt: string | null;
  /** The customer messages this call added to its context. */
  messages: string[];
  /** Effects of other branches put into this call's context, with the status it was told. */
  grafts: { effectId: string; status: string }[];
  toolCalls: ToolCallView[];
}

/**
 * One model call in full (`GET /v1/conversations/{id}/calls/{callId}`): what the conversation view
 * says of it, and the items it sent and received. Items are as the Responses API has them.
 */
export interface ModelCallDetail extends ModelCallView {
  conversationId: string;
  attemptId: string;
  turn: number;
  /** The calls from the first of its lineage to this one: whose responses its context continues. */
  lineage: string[];
  /**
   * The items this call added to its context, each with what it carries: a customer message
   * (`messageId`), a reply (`replyId`), an effect at the status it was told (`effect`, for a graft
   * or a tool's output), or the answer to a tool call of the parent response (`answers`). In chain
   * mode these are exactly the items sent (after `previous_response_id`); a stateless call sent the
   * whole lineage's items, these last.
   */
  input: {
    item: InputItem;
    messageId: string | null;
    replyId: string | null;
    effect: { effectId: string; status: string } | null;
    answers: string | null;
  }[];
  /** The response's output items (empty until it responds, and for a failed call). */
  output: OutputItem[];
  /** Milliseconds from request to response or failure; null while pending. */
  durationMs: number | null;
}

export interface ToolCallView {
  id: string;
  name: string;
  arguments: unknown;
  kind: 'read' | 'write' | 'invalid';
  /** `effect` (see `effectId`), `read`, `refused`, or null while unanswered. */
  outcome: 'effect' | 'read' | 'refused' | null;
  effectId: string | null;
  /** Why a call was refused, or a read's output. */
  detail: string | null;
  /** When graft answered it (the write started, the read ran, the refusal); null while unanswered. */
  answeredAt: string | null;
}

const iso = (ms: number): string => new Date(ms).toISOString();

function parsed(text: string | null): unknown {
  if (text === null) return null;
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return text;
  }
}

/** Builds the view of a conversation from its whole log (null when the log is empty). */
export function conversationView(
  tenantId: string,
  conversationId: string,
  events: readonly GraftEvent[],
): ConversationView | null {
  if (events.length === 0) return null;
  const state = replay(parseConversationId(conversationId), events);
  const times = logTimes(events);
  const supersededBy = new Map<string, string>();
  const metadata = new Map<string, Record<string, unknown>>();
  for (const event of events) {
    if (event.type === 'attempt.superseded') supersededBy.set(event.attemptId, event.byMessageId);
    if (event.type === 'message.received' && event.metadata) metadata.set(event.messageId, event.metadata);
  }
  const head =
    state.head === null
      ? null
      : { callId: state.head, responseId: state.calls.get(state.head)?.responseId ?? null };
  return {
    id: conversationId,
    tenantId,
    seq: state.seq,
    turn: state.turn,
    head,
    takenOver:
      state.takenOver === null
        ? null
        : { operator: state.takenOver.operator, since: iso(state.takenOver.since) },
    messages: state.messages.map((m) => ({
      id: m.messageId,
      text: m.text,
      receivedAt: iso(m.at),
      seq: m.seq,
      ...(metadata.has(m.messageId) ? { metadata: metadata.get(m.messageId)! } : {}),
      coveredBy: m.coveredBy,
    })),
    replies: state.replies.map((r, i) => ({
      id: r.replyId,
      turn: i + 1,
      text: r.text,
      covers: [...r.covers],
      kind: r.kind,
      status: r.delivery === 'pending' ? 'committed' : r.delivery,
      committedAt: iso(r.committedAt),
      deliveredAt: r.deliveredAt === null ? null : iso(r.deliveredAt),
      deliveryId: r.deliveryId,
      deadLetter:
        r.deadLetter === null
          ? null
          : {
              attempts: r.deadLetter.attempts,
              lastError: r.deadLetter.lastError,
              reason: r.deadLetter.reason,
              since: iso(r.deadLetter.at),
            },
      redeliveries: r.redeliveries,
      needsHuman: r.needsHuman,
      attemptId: r.attemptId,
      operator: r.operator,
    })),
    effects: state.effectOrder.map((id) => effectView(state.effects.get(id)!, times.effects.get(id))),
    attempts: [...state.attempts.values()].map((a) => ({
      id: a.attemptId,
      turn: a.turn,
      reason: a.reason,
      status: a.status,
      startedAt: iso(events[a.startedSeq - 1]?.at ?? 0),
      basedOn: basedOn(state, a.calls[0]),
      supersededBy: supersededBy.get(a.attemptId) ?? null,
      endedAt: times.attemptsEnded.has(a.attemptId) ? iso(times.attemptsEnded.get(a.attemptId)!) : null,
      rebases: a.rebases,
      modelCalls: a.calls.map((id) => modelCallView(state.calls.get(id)!, times)),
    })),
  };
}

function basedOn(state: ConversationState, firstCall: string | undefined): AttemptView['basedOn'] {
  const parent = firstCall === undefined ? null : (state.calls.get(firstCall as never)?.parent ?? null);
  return parent === null ? null : { callId: parent, responseId: state.calls.get(parent)?.responseId ?? null };
}

/**
 * An entry of the effect ledger, with its status over time as `logTimes` read it from the log.
 */
export function effectView(effect: EffectState, history: readonly EffectStatusChange[] = []): EffectView {
  return {
    id: effect.effectId,
    tool: effect.tool,
    arguments: parsed(effect.arguments),
    status: effect.status,
    idempotencyKey: effect.idempotencyKey,
    attemptId: effect.attemptId,
    callId: effect.callId,
    result: parsed(effect.output),
    startedAt: iso(effect.startedAt),
    approval: effect.approval === null ? null : approvalView(effect.approval),
    history: history.map((h) => ({
      status: h.status,
      at: iso(h.at),
    })),
    note: effectNote(effect),
  };
}

function approvalView(approval: ApprovalState): ApprovalView {
  return {
    requestedAt: iso(approval.requestedAt),
    expiresAt: iso(approval.expiresAt),
    decision: approval.decision,
    operator: approval.operator,
    note: approval.note,
    decidedAt: approval.decidedAt === null ? null : iso(approval.decidedAt),
  };
}

function effectNote(effect: EffectState): string | null {
  const notes: string[] = [];
  if (effect.generation > 1) notes.push(`run ${effect.generation} of its key`);
  if (effect.status === 'awaiting') notes.push("awaits a person's approval: it has not run");
  if (effect.approval?.decision === 'rejected' || effect.approval?.decision === 'expired')
    notes.push(`${effect.approval.decision}: it did not run`);
  if (effect.approval?.decision === 'withdrawn')
    notes.push('withdrawn before a decision (the customer wrote again): it did not run');
  if (effect.status === 'unknown' && effect.cause === 'timeout')
    notes.push('past its time bound, may still be in flight');
  if (effect.status === 'unknown' && effect.cause !== 'timeout' && effect.cause !== null)
    notes.push(`${effect.cause}: reconciling`);
  if (effect.status === 'unknown' && effect.checked)
    notes.push('not reconciled: writes are blocked until a person resolves it');
  if (effect.resolvedBy !== null) notes.push(`resolved as ${effect.status} by ${effect.resolvedBy}`);
  if (effect.fenced) notes.push('did not happen (fenced by reconcile)');
  if (effect.late) notes.push('settled late, after it had been recorded otherwise');
  if (effect.warning !== null) notes.push(effect.warning);
  return notes.length === 0 ? null : notes.join('; ');
}

function modelCallView(call: ModelCallState, times: LogTimes): ModelCallView {
  const grafts: ModelCallView['grafts'] = [];
  const messages: string[] = [];
  for (const entry of call.entries) {
    if (entry.messageId !== undefined) messages.push(entry.messageId);
    const item = entry.item;
    if (entry.effect && item.type === 'function_call_output' && item.call_id.startsWith('graft_')) {
      grafts.push({ effectId: entry.effect.effectId, status: entry.effect.status });
    }
  }
  return {
    id: call.callId,
    parent: call.parent,
    reason: call.reason,
    stateless: call.stateless,
    status: call.status,
    responseId: call.responseId,
    usage: call.usage ? { ...call.usage } : null,
    failure: call.failure ? { kind: call.failure.kind, message: call.failure.message } : null,
    requestedAt: iso(call.requestedAt),
    respondedAt: call.respondedAt === null ? null : iso(call.respondedAt),
    messages,
    grafts,
    toolCalls: call.toolCalls.map((t) =>
      toolCallView(t, times.toolCalls.get(toolCallKey(call.callId, t.toolCallId))),
    ),
  };
}

function toolCallView(call: ToolCallState, answeredAt: number | undefined): ToolCallView {
  const outcome = call.outcome;
  return {
    id: call.toolCallId,
    name: call.name,
    arguments: parsed(call.arguments),
    kind: call.kind,
    outcome: outcome?.kind ?? null,
    effectId: outcome?.kind === 'effect' ? outcome.effectId : null,
    detail:
      outcome === null
        ? null
        : outcome.kind === 'refused'
          ? `${outcome.reason}: ${outcome.output}`
          : outcome.kind === 'read'
            ? outcome.output
            : null,
    answeredAt: answeredAt === undefined ? null : iso(answeredAt),
  };
}

/** A line of `GET /v1/dead-letters`. */
export interface DeadLetterView {
  conversationId: string;
  deliveryId: string;
  replyId: string;
  attempts: number;
  lastError: string;
  reason: 'attempts' | 'age';
  /** When delivery gave up. */
  since: string;
}

export function deadLetterView(letter: DeadLetter): DeadLetterView {
  return {
    conversationId: letter.conversationId,
    deliveryId: letter.deliveryId,
    replyId: letter.replyId,
    attempts: letter.attempts,
    lastError: letter.lastError,
    reason: letter.reason,
    since: iso(letter.since),
  };
}

/** A line of `GET /v1/approvals` (and of a queue entry): a write that waits for a person's decision. */
export interface PendingApprovalView {
  /** `<conversationId>:<effectId>`: URL-encode it in `POST /v1/approvals/{id}`. */
  id: string;
  conversationId: string;
  effectId: string;
  attemptId: string;
  tool: string;
  /** The call's arguments, parsed (or the raw text when they are not JSON). */
  arguments: unknown;
  /** When it was requested, and when it expires unless decided. */
  since: string;
  expiresAt: string;
}

export function pendingApprovalView(request: PendingApproval): PendingApprovalView {
  return {
    id: request.id,
    conversationId: request.conversationId,
    effectId: request.effectId,
    attemptId: request.attemptId,
    tool: request.tool,
    arguments: parsed(request.arguments),
    since: iso(request.since),
    expiresAt: iso(request.expiresAt),
  };
}

/** Why a conversation needs a person (`GET /v1/queue`). */
export type QueueReason = 'fallback' | 'effect' | 'dead-letter' | 'takeover' | 'approval';

/** A line of `GET /v1/queue`: a conversation that needs a person, and why. */
export interface QueueEntry {
  conversationId: string;
  /** Each reason with a line that says what is wrong. */
  reasons: { reason: QueueReason; detail: string }[];
  /** Who has the conversation, while a person has taken it over. */
  takenOver: { operator: string; since: string } | null;
  /** Its requests for approval that wait for a decision, oldest first. */
  approvals: PendingApprovalView[];
  lastActivityAt: string | null;
}

/**
 * What in a conversation needs a person, if anything: its last reply is one flagged for a human
 * (the fallback, or a reply written while a write's outcome stayed unknown), a write's outcome is
 * unknown and not reconciled or it settled late (`attentionNeeded`), a reply was dead-lettered, a
 * person has taken it over (it stays theirs until released), or a write waits for approval.
 */
export function queueEntry(conversationId: string, events: readonly GraftEvent[]): QueueEntry | null {
  const state = replay(parseConversationId(conversationId), events);
  const reasons: QueueEntry['reasons'] = [];
  const last = state.replies.at(-1);
  if (last?.needsHuman)
    reasons.push({
      reason: 'fallback',
      detail: `reply ${last.replyId} (${last.kind}) was flagged for a person`,
    });
  const attention = attentionNeeded(state);
  if (attention !== null) reasons.push({ reason: 'effect', detail: attention });
  for (const reply of state.replies)
    if (reply.delivery === 'dead-lettered')
      reasons.push({
        reason: 'dead-letter',
        detail: `reply ${reply.replyId} could not be delivered (${reply.deliveryId ?? 'no delivery id'})`,
      });
  const takenOver =
    state.takenOver === null
      ? null
      : { operator: state.takenOver.operator, since: iso(state.takenOver.since) };
  if (takenOver !== null) {
    const waiting = state.messages.filter((m) => m.coveredBy === null).length;
    reasons.push({
      reason: 'takeover',
      detail: `taken over by ${takenOver.operator}; ${waiting} message${waiting === 1 ? '' : 's'} not answered yet`,
    });
  }
  const approvals = pendingApprovals(state);
  for (const request of approvals)
    reasons.push({
      reason: 'approval',
      detail: `${request.tool} (${request.effectId}) awaits approval until ${request.expiresAt}`,
    });
  if (reasons.length === 0) return null;
  const at = events.at(-1)?.at;
  return { conversationId, reasons, takenOver, approvals, lastActivityAt: at === undefined ? null : iso(at) };
}

/** A conversation's requests that wait for a decision, as `GET /v1/approvals` lists them. */
function pendingApprovals(state: ConversationState): PendingApprovalView[] {
  return state.effectOrder.flatMap((id) => {
    const effect = state.effects.get(id)!;
    if (effect.status !== 'awaiting' || effect.approval === null) return [];
    return [
      pendingApprovalView({
        id: approvalIdOf(state.conversationId, effect.effectId),
        conversationId: state.conversationId,
        effectId: effect.effectId,
        attemptId: effect.attemptId,
        tool: effect.tool,
        arguments: effect.arguments,
        since: effect.approval.requestedAt,
        expiresAt: effect.approval.expiresAt,
      }),
    ];
  });
}

/** A line of `GET /v1/conversations`. */
export interface ConversationSummary {
  id: string;
  messages: number;
  replies: number;
  /** True when a message waits for a reply or a reply for delivery. */
  open: boolean;
  needsHuman: boolean;
  /** The person who has the conversation, while it is taken over; else null. */
  takenOver: string | null;
  lastActivityAt: string | null;
  /**
   * Who must act next: `bot` (a message waits for its reply, or a follow-up is being written),
   * `person` (taken over, or its last reply was flagged, or a write's outcome is unknown and not
   * reconciled), `approval` (a write waits for a person's decision), or null (the customer).
   */
  waitingFor: 'bot' | 'person' | 'approval' | null;
  /** The last message of either side: a customer's, the bot's reply or a person's. */
  last: { from: 'customer' | 'bot' | 'operator'; text: string; at: string } | null;
  attempts: number;
  modelCalls: number;
  /** The effect ledger by status: `unknown` counts writes whose outcome is not known. */
  effects: { total: number; running: number; unknown: number; awaiting: number };
}

export function conversationSummary(
  conversationId: string,
  events: readonly GraftEvent[],
): ConversationSummary {
  let messages = 0;
  let replies = 0;
  // A reply's delivery has ended once it is delivered, dead-lettered or had nowhere to go; a
  // redelivery request opens it again.
  const ended = new Set<string>();
  let covered = 0;
  let needsHuman = false;
  let takenOver: string | null = null;
  for (const event of events) {
    if (event.type === 'message.received') messages += 1;
    if (event.type === 'conversation.taken-over') takenOver = event.operator;
    if (event.type === 'conversation.released') takenOver = null;
    if (
      event.type === 'reply.delivered' ||
      event.type === 'reply.dead-lettered' ||
      event.type === 'reply.undelivered'
    )
      ended.add(event.replyId);
    if (event.type === 'reply.redelivery-requested') ended.delete(event.replyId);
    if (event.type === 'reply.committed') {
      replies += 1;
      covered += event.covers.length;
      needsHuman ||= event.needsHuman;
    }
  }
  const last = events.at(-1);
  return {
    id: conversationId,
    messages,
    replies,
    open: covered < messages || ended.size < replies,
    needsHuman,
    takenOver,
    lastActivityAt: last ? iso(last.at) : null,
    ...summaryOfState(replay(parseConversationId(conversationId), events)),
  };
}

/** The fields of a summary that the folded state answers. */
function summaryOfState(
  state: ConversationState,
): Pick<ConversationSummary, 'waitingFor' | 'last' | 'attempts' | 'modelCalls' | 'effects'> {
  const effects = { total: state.effectOrder.length, running: 0, unknown: 0, awaiting: 0 };
  for (const effect of state.effects.values()) {
    if (effect.status === 'running') effects.running += 1;
    if (effect.status === 'unknown') effects.unknown += 1;
    if (effect.status === 'awaiting') effects.awaiting += 1;
  }
  const message = state.messages.at(-1);
  const reply = state.replies.at(-1);
  const last =
    reply && (!message || reply.committedSeq > message.seq)
      ? {
          from: reply.kind === 'operator' ? ('operator' as const) : ('bot' as const),
          text: reply.text,
          at: iso(reply.committedAt),
        }
      : message
        ? { from: 'customer' as const, text: message.text, at: iso(message.at) }
        : null;
  const waiting = state.messages.some((m) => m.coveredBy === null);
  const waitingFor =
    state.takenOver !== null
      ? 'person'
      : effects.awaiting > 0
        ? 'approval'
        : waiting || state.live !== null
          ? 'bot'
          : reply?.needsHuman || attentionNeeded(state) !== null
            ? 'person'
            : null;
  return { waitingFor, last, attempts: state.attempts.size, modelCalls: state.calls.size, effects };
}
