import type { ConversationId, ReplyId, TenantId } from '../core/ids.js';
import { parseConversationId } from '../core/ids.js';
import type { EventStore } from '../core/ports.js';
import { deliveryIdOf } from '../core/ports.js';
import type { DeadLetterReason } from '../core/events.js';
import { replay } from '../core/state.js';

/** A delivery that was given up on (a `reply.dead-lettered` event not followed by a delivery or a redelivery). */
export interface DeadLetter {
  conversationId: ConversationId;
  deliveryId: string;
  replyId: ReplyId;
  /** The tries made before it was given up on. */
  attempts: number;
  lastError: string;
  reason: DeadLetterReason;
  /** When it was dead-lettered (ms since the epoch). */
  since: number;
}

/**
 * The dead letters of a tenant, oldest first. A dead-lettered reply is an undelivered row of the
 * store's outbox: those are read, and the logs of their conversations folded to see which of them
 * are dead-lettered (the others are being delivered, or had nowhere to go).
 */
export async function findDeadLetters(
  store: EventStore,
  tenantId: TenantId,
  options: { limit?: number } = {},
): Promise<DeadLetter[]> {
  const rows = (await store.outbox()).filter((row) => row.tenantId === tenantId);
  const conversations = [...new Set(rows.map((row) => row.conversationId))];
  const found: DeadLetter[] = [];
  for (const conversationId of conversations) {
    const key = { tenantId, conversationId };
    const state = replay(conversationId, await store.read(key, 0));
    for (const reply of state.replies) {
      if (reply.delivery !== 'dead-lettered' || reply.deadLetter === null) continue;
      found.push({
        conversationId,
        deliveryId: deliveryIdOf(key, reply.replyId),
        replyId: reply.replyId,
        attempts: reply.deadLetter.attempts,
        lastError: reply.deadLetter.lastError,
        reason: reply.deadLetter.reason,
        since: reply.deadLetter.at,
      });
    }
  }
  found.sort((a, b) => a.since - b.since);
  return found.slice(0, options.limit ?? found.length);
}

/**
 * The conversation and reply of one of a tenant's delivery ids (`<tenant>:<conversation>:<reply>`,
 * see `deliveryIdOf`; a conversation id may hold colons, a reply id never does), or null.
 */
export function parseDeliveryId(
  tenantId: TenantId,
  deliveryId: string,
): { conversationId: ConversationId; replyId: ReplyId } | null {
  const prefix = `${tenantId}:`;
  const last = deliveryId.lastIndexOf(':');
  if (!deliveryId.startsWith(prefix) || last < prefix.length) return null;
  const replyId = deliveryId.slice(last + 1);
  if (!/^rep_\d+$/.test(replyId)) return null;
  try {
    return {
      conversationId: parseConversationId(deliveryId.slice(prefix.length, last)),
      replyId: replyId as ReplyId,
    };
  } catch {
    return null;
  }
}
