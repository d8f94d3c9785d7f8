import type { ContextEntry, GraftEvent } from '../core/events.js';
import { parseConversationId } from '../core/ids.js';
import { replay } from '../core/state.js';
import type { ModelCallDetail } from './view.js';
import { conversationView } from './view.js';

const entryView = (entry: ContextEntry): ModelCallDetail['input'][number] => ({
  item: entry.item,
  messageId: entry.messageId ?? null,
  replyId: entry.replyId ?? null,
  effect: entry.effect ? { effectId: entry.effect.effectId, status: entry.effect.status } : null,
  answers: entry.answers ?? null,
});

/** The detail of a model call of a conversation, from its whole log (null when there is no such call). */
export function modelCallDetail(
  tenantId: string,
  conversationId: string,
  events: readonly GraftEvent[],
  callId: string,
): ModelCallDetail | null {
  const view = conversationView(tenantId, conversationId, events);
  const attempt = view?.attempts.find((a) => a.modelCalls.some((call) => call.id === callId));
  const summary = attempt?.modelCalls.find((call) => call.id === callId);
  if (!attempt || !summary) return null;
  const state = replay(parseConversationId(conversationId), events);
  const call = state.calls.get(callId as never)!;
  const lineage: string[] = [];
  for (let id: string | null = call.callId; id !== null; id = state.calls.get(id as never)?.parent ?? null)
    lineage.unshift(id);
  const ended = call.respondedAt ?? call.failure?.at ?? null;
  return {
    conversationId,
    attemptId: attempt.id,
    turn: attempt.turn,
    ...summary,
    lineage,
    input: call.entries.map(entryView),
    output: call.output,
    durationMs: ended === null ? null : ended - call.requestedAt,
  };
}
