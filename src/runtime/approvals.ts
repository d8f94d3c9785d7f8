import type { AttemptId, ConversationId, EffectId, TenantId } from '../core/ids.js';
import { parseConversationId } from '../core/ids.js';
import type { EventStore } from '../core/ports.js';
import { getEffect, replay } from '../core/state.js';

/** A write that waits for a person's decision (`graft.decide`). */
export interface PendingApproval {
  /** Names the request across the tenant's conversations: `<conversationId>:<effectId>`. */
  id: string;
  conversationId: ConversationId;
  effectId: EffectId;
  attemptId: AttemptId;
  tool: string;
  /** The call's arguments, as the model wrote them (JSON text). */
  arguments: string;
  /** When it was requested, and when it expires unless decided (ms since the epoch). */
  since: number;
  expiresAt: number;
}

/** The id of a request for approval (an effect id never holds a colon, a conversation id may). */
export const approvalIdOf = (conversationId: string, effectId: string): string =>
  `${conversationId}:${effectId}`;

/** The conversation and effect an approval id names, or null when it is not one. */
export function parseApprovalId(id: string): { conversationId: ConversationId; effectId: EffectId } | null {
  const last = id.lastIndexOf(':');
  const effectId = id.slice(last + 1);
  if (last <= 0 || !/^eff_\d+_\d+$/.test(effectId)) return null;
  try {
    return { conversationId: parseConversationId(id.slice(0, last)), effectId: effectId as EffectId };
  } catch {
    return null;
  }
}

/**
 * The tenant's requests that wait for a decision at `now`, oldest first. A request keeps its conversation
 * unfinished (it expires), so the store's unfinished conversations are read and folded.
 */
export async function findApprovals(
  store: EventStore,
  tenantId: TenantId,
  now: number,
  options: { limit?: number } = {},
): Promise<PendingApproval[]> {
  const keys = (await store.unfinished()).filter((k) => k.tenantId === tenantId);
  const found: PendingApproval[] = [];
  for (const key of keys) {
    const state = replay(key.conversationId, await store.read(key, 0));
    for (const effectId of state.effectOrder) {
      const effect = getEffect(state, effectId);
      // Past its bound a request has expired, whether or not an instance recorded it yet.
      if (effect.status !== 'awaiting' || effect.approval === null || now >= effect.approval.expiresAt)
        continue;
      found.push({
        id: approvalIdOf(key.conversationId, effectId),
        conversationId: key.conversationId,
        effectId,
        attemptId: effect.attemptId,
        tool: effect.tool,
        arguments: effect.arguments,
        since: effect.approval.requestedAt,
        expiresAt: effect.approval.expiresAt,
      });
    }
  }
  found.sort((a, b) => a.since - b.since);
  return found.slice(0, options.limit ?? found.length);
}
