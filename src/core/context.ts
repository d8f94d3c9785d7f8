import { invariant } from './errors.js';
import type { ContextEntry, EffectStatus } from './events.js';
import type { CallId, EffectId, MessageId, ReplyId } from './ids.js';
import type { InputItem, OutputItem } from './items.js';
import { outputText } from './items.js';
import type { ConversationState, EffectState, ModelCallState, ToolCallState } from './state.js';
import { getCall, getEffect } from './state.js';

/** What a context holds: the messages, replies and effects (at a status) that are in it. */
export interface Knowledge {
  messages: Set<MessageId>;
  replies: Set<ReplyId>;
  effects: Map<EffectId, EffectStatus>;
  /** How many graft pairs of each effect the context has (names the next one). */
  grafts: Map<EffectId, number>;
  /** Assistant text in the context that the customer never saw. */
  undeliveredText: boolean;
}

/** The calls from the root to `callId`, oldest first. */
export function lineage(state: ConversationState, callId: CallId | null): ModelCallState[] {
  const calls: ModelCallState[] = [];
  for (let id = callId; id !== null;) {
    const call = getCall(state, id);
    calls.push(call);
    id = call.parent;
  }
  return calls.reverse();
}

/** What the context of a response holds: its lineage's inputs and outputs. */
export function knowledgeOf(state: ConversationState, callId: CallId | null): Knowledge {
  const known: Knowledge = {
    messages: new Set(),
    replies: new Set(),
    effects: new Map(),
    grafts: new Map(),
    undeliveredText: false,
  };
  const committed = new Set(state.replies.map((r) => r.callId));
  for (const call of lineage(state, callId)) {
    learn(known, call.entries);
    if (outputText(call.output) !== '' && !committed.has(call.callId)) known.undeliveredText = true;
  }
  return known;
}

function learn(known: Knowledge, entries: readonly ContextEntry[]): void {
  for (const entry of entries) {
    if (entry.messageId !== undefined) known.messages.add(entry.messageId);
    if (entry.replyId !== undefined) known.replies.add(entry.replyId);
    if (entry.effect) {
      known.effects.set(entry.effect.effectId, entry.effect.status);
      // The output of a graft pair carries the effect (the call item does not): count pairs by it.
      if (entry.item.type === 'function_call_output' && entry.item.call_id.startsWith('graft_')) {
        known.grafts.set(entry.effect.effectId, (known.grafts.get(entry.effect.effectId) ?? 0) + 1);
      }
    }
  }
}

/** Output texts that graft writes for calls it answers itself. */
export const notices = {
  running: JSON.stringify({
    status: 'running',
    note: 'This call was made by another branch of this conversation and is still running. Do not repeat it; its result will follow.',
  }),
  unknown: JSON.stringify({
    status: 'unknown',
    note: 'This call may have completed, but its outcome is unknown. Check before repeating it.',
  }),
  stillRunning: JSON.stringify({
    status: 'unknown',
    note: 'This call is still running past its time bound: its outcome is not known yet. Do not repeat it; its result will follow.',
  }),
  awaiting: JSON.stringify({
    status: 'awaiting_approval',
    note: 'Not executed yet: a member of staff must approve this first. Do not repeat it. Tell the customer that a colleague will confirm it; the decision will follow.',
  }),
  awaitingOther: (tool: string) =>
    JSON.stringify({
      status: 'not_executed',
      note: `Not executed: an earlier ${tool} call awaits a member of staff's approval, and no other change can be made until it is decided. Tell the customer that this will be done once a colleague has decided.`,
    }),
  blocked: (tool: string) =>
    JSON.stringify({
      status: 'not_executed',
      note: `Not executed: the outcome of an earlier ${tool} call is unknown and could not be checked, so no change can be made until a member of staff confirms it. Tell the customer that a colleague will follow up.`,
    }),
  notExecuted: JSON.stringify({
    status: 'not_executed',
    note: 'Not executed: the conversation changed before this call could run. Decide again with the updated context.',
  }),
  notHappened: JSON.stringify({
    status: 'not_executed',
    note: 'This call did not happen: the tool confirmed it, and made sure that it never will. It may be repeated.',
  }),
  duplicateCall: JSON.stringify({
    status: 'not_executed',
    note: 'Not executed: it repeats another call of the same response.',
  }),
};

/** The text a context is given for an effect at its current status. */
export function effectOutput(effect: EffectState): string {
  if (effect.status === 'awaiting') return notices.awaiting;
  if (effect.status === 'running') return notices.running;
  if (effect.status === 'unknown') return effect.cause === 'timeout' ? notices.stillRunning : notices.unknown;
  invariant(effect.output !== null, `settled effect ${effect.effectId} has no output`);
  return effect.output;
}

/** The answer to each function call of a responded call, as context entries (all must be answered). */
export function answerEntries(state: ConversationState, call: ModelCallState): ContextEntry[] {
  return call.toolCalls.map((toolCall) => answerEntry(state, toolCall));
}

function answerEntry(state: ConversationState, toolCall: ToolCallState): ContextEntry {
  const outcome = toolCall.outcome;
  invariant(outcome !== null, `tool call ${toolCall.toolCallId} is not answered`);
  const item = (output: string): InputItem => ({
    type: 'function_call_output',
    call_id: toolCall.toolCallId,
    output,
  });
  if (outcome.kind !== 'effect') return { item: item(outcome.output), answers: toolCall.toolCallId };
  const effect = getEffect(state, outcome.effectId);
  return {
    item: item(effectOutput(effect)),
    answers: toolCall.toolCallId,
    effect: { effectId: effect.effectId, status: effect.status },
  };
}

/** True when every function call of the response has an answer that is not a running write. */
export function allAnswered(state: ConversationState, call: ModelCallState): boolean {
  return call.toolCalls.every((t) => {
    if (t.outcome === null) return false;
    return t.outcome.kind !== 'effect' || getEffect(state, t.outcome.effectId).status !== 'running';
  });
}

/** Effects whose current status the context does not hold (it lacks them or knows an older status). */
export function missingEffects(state: ConversationState, known: Knowledge): EffectState[] {
  const missing: EffectState[] = [];
  for (const effectId of state.effectOrder) {
    const effect = getEffect(state, effectId);
    if (known.effects.get(effectId) !== effect.status) missing.push(effect);
  }
  return missing;
}

/** The pair of items that grafts an effect, at its current status, into a context. */
export function graftEntries(effect: EffectState, n: number): ContextEntry[] {
  const callId = `graft_${effect.effectId}_${n}`;
  const status = { effectId: effect.effectId, status: effect.status };
  return [
    { item: { type: 'function_call', call_id: callId, name: effect.tool, arguments: effect.arguments } },
    { item: { type: 'function_call_output', call_id: callId, output: effectOutput(effect) }, effect: status },
  ];
}

const developer = (text: string): ContextEntry => ({
  item: { type: 'message', role: 'developer', content: text },
});

export const notes = {
  grafts: (after: string | null, before: string | null): ContextEntry => {
    const quote = (text: string) => `"${text.length > 80 ? `${text.slice(0, 77)}...` : text}"`;
    const where = [
      after && `after the customer wrote ${quote(after)}`,
      before && `before ${quote(before)} was read`,
    ].filter(Boolean);
    const place = where.length > 0 ? ` (issued ${where.join(', ')})` : '';
    return developer(
      `The tool calls that follow were made by another branch of this conversation${place}. They and their results are real: take them into account and do not repeat them.`,
    );
  },
  undelivered: developer('The assistant text above was a draft: it was never shown to the customer.'),
  answerAgain: developer(
    'The conversation changed while you were answering (see above). Your previous answer was not sent: answer the customer again.',
  ),
  byOperator: (operator: string) =>
    developer(
      `The next assistant message was written and sent to the customer by a member of staff (${operator}), not by you. Take what it says into account.`,
    ),
  followUp: developer(
    'News since your last reply is above. If it changes what the customer should know, tell them in one short message.',
  ),
};

interface NewInputOptions {
  /** Messages received at or after this seq are not for this attempt (they wait for the next turn). */
  messagesBeforeSeq: number;
  /** Whether the parent is a response of another branch or the head (marks undelivered text). */
  fromFrontier: boolean;
}

/**
 * The input items that bring the context of `parent` up to date: answers to the parent's own calls,
 * then, in the order they happened, the customer messages and fallback replies it lacks and grafts
 * for every effect it does not hold at its current status.
 */
export function newInput(
  state: ConversationState,
  parent: CallId | null,
  options: NewInputOptions,
): ContextEntry[] {
  const known = knowledgeOf(state, parent);
  const entries: ContextEntry[] = [];
  if (parent !== null) {
    const answers = answerEntries(state, getCall(state, parent));
    learn(known, answers);
    entries.push(...answers);
  }
  if (options.fromFrontier && known.undeliveredText) entries.push(notes.undelivered);
  entries.push(...chronological(state, known, options.messagesBeforeSeq));
  return entries;
}

function chronological(state: ConversationState, known: Knowledge, beforeSeq: number): ContextEntry[] {
  type Placed = { seq: number; entries: ContextEntry[]; graft?: true; text?: string };
  const placed: Placed[] = [];
  for (const m of state.messages) {
    if (
      m.seq >= beforeSeq ||
      known.messages.has(m.messageId) ||
      (m.coveredBy !== null && !notFromModel(state, m.coveredBy))
    )
      continue;
    placed.push({
      seq: m.seq,
      text: m.text,
      entries: [{ item: { type: 'message', role: 'user', content: m.text }, messageId: m.messageId }],
    });
  }
  for (const r of state.replies) {
    if (r.callId !== null || known.replies.has(r.replyId)) continue;
    const reply: ContextEntry = {
      item: { type: 'message', role: 'assistant', content: r.text },
      replyId: r.replyId,
    };
    placed.push({
      seq: r.committedSeq,
      entries: r.kind === 'operator' ? [notes.byOperator(r.operator ?? 'a member of staff'), reply] : [reply],
    });
  }
  for (const effect of missingEffects(state, known)) {
    placed.push({
      seq: effect.startedSeq,
      graft: true,
      entries: graftEntries(effect, (known.grafts.get(effect.effectId) ?? 0) + 1),
    });
  }
  placed.sort((a, b) => a.seq - b.seq);
  const firstGraft = placed.findIndex((p) => p.graft);
  if (firstGraft >= 0) {
    const after =
      placed.slice(0, firstGraft).findLast((p) => p.text !== undefined)?.text ??
      lastMessageBefore(state, placed[firstGraft]!.seq);
    const before = placed.slice(firstGraft).find((p) => p.text !== undefined)?.text ?? null;
    placed.splice(firstGraft, 0, { seq: -1, entries: [notes.grafts(after, before)] });
  }
  return placed.flatMap((p) => p.entries);
}

/**
 * Messages answered by a fallback reply or by a person were never seen by the model: they are
 * brought in, with that reply.
 */
function notFromModel(state: ConversationState, replyId: ReplyId): boolean {
  const kind = state.replyIndex.get(replyId)?.kind;
  return kind === 'fallback' || kind === 'operator';
}

function lastMessageBefore(state: ConversationState, seq: number): string | null {
  return state.messages.findLast((m) => m.seq < seq)?.text ?? null;
}

/** An output item as it is replayed in a later request: without output-only fields. */
export function replayItem(item: OutputItem): InputItem {
  switch (item.type) {
    case 'message':
      return { type: 'message', role: 'assistant', content: outputText([item]) };
    case 'function_call':
      return { type: 'function_call', call_id: item.call_id, name: item.name, arguments: item.arguments };
    case 'reasoning':
      return {
        type: 'reasoning',
        id: item.id,
        summary: item.summary,
        ...(item.encrypted_content ? { encrypted_content: item.encrypted_content } : {}),
      };
  }
}

/** The whole transcript of a lineage, as stateless mode sends it. */
export function transcript(
  state: ConversationState,
  callId: CallId | null,
  withReasoning: boolean,
): InputItem[] {
  const items: InputItem[] = [];
  for (const call of lineage(state, callId)) {
    for (const entry of call.entries) items.push(entry.item);
    for (const item of call.output) {
      if (item.type === 'reasoning' && !withReasoning) continue;
      items.push(replayItem(item));
    }
  }
  return items;
}
