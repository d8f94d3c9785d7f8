import type { ConversationKey, LedgerEntry, OutboxEntry } from '../core/ports.js';

/** Rows of the SQL stores' ledger and outbox tables (text is stored as JSON, see the migrations). */
export interface LedgerRow {
  tenant: string;
  conversation: string;
  idempotency_key: string;
  request_hash: string;
  effect_id: string;
  tool: string;
  status: LedgerEntry['status'];
  /** JSON text of a string. */
  output: string | null;
}

export interface OutboxRow {
  tenant: string;
  conversation: string;
  reply_id: string;
  delivery_id: string;
  /** JSON text of a string. */
  text: string;
  /** JSON text of an array of message ids. */
  covers: string;
  kind: OutboxEntry['kind'];
  /** Ms since the epoch (PostgreSQL's bigint arrives as text). */
  committed_at: number | string;
  delivered_at: number | string | null;
}

export const toKey = (row: { tenant: string; conversation: string }): ConversationKey => ({ tenantId: row.tenant, conversationId: row.conversation });

export const toLedgerEntry = (row: LedgerRow): LedgerEntry => ({
  tenantId: row.tenant,
  conversationId: row.conversation,
  idempotencyKey: row.idempotency_key,
  requestHash: row.request_hash,
  effectId: row.effect_id,
  tool: row.tool,
  status: row.status,
  output: row.output === null ? null : (JSON.parse(row.output) as string),
});

export const toOutboxEntry = (row: OutboxRow): OutboxEntry => ({
  tenantId: row.tenant,
  conversationId: row.conversation,
  replyId: row.reply_id,
  deliveryId: row.delivery_id,
  text: JSON.parse(row.text) as string,
  covers: JSON.parse(row.covers) as string[],
  kind: row.kind,
  committedAt: Number(row.committed_at),
  deliveredAt: row.delivered_at === null ? null : Number(row.delivered_at),
});
