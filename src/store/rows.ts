import { z } from 'zod';
import { invariant, InvariantViolation } from '../core/errors.js';
import type { GraftEvent } from '../core/events.js';
import { parseConversationId, parseTenantId } from '../core/ids.js';
import type { ConversationKey, LedgerEntry, OutboxEntry } from '../core/ports.js';
import { parseEvent } from './event-schema.js';

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

/** A row of the SQL stores' events table. */
export interface EventRow {
  seq: number;
  type: string;
  /** The event as JSON text. */
  body: string;
}

/**
 * Decodes the event row that should be at `expectedSeq` of `key`'s log: parses its body with the
 * versioned schema (see event-schema.ts) and checks the row against it. Pair assertions: what was
 * checked before writing (contiguous seqs, a well-formed event) is checked again after reading.
 */
export function toEvent(key: ConversationKey, row: EventRow, expectedSeq: number): GraftEvent {
  invariant(
    row.seq === expectedSeq,
    `the log of ${key.tenantId}/${key.conversationId} has seq ${row.seq} where ${expectedSeq} was expected (a gap)`,
  );
  const where = { ...key, seq: row.seq };
  let json: unknown;
  try {
    json = JSON.parse(row.body);
  } catch (error) {
    throw new InvariantViolation(
      `event ${row.seq} of conversation ${key.tenantId}/${key.conversationId} is not JSON: ${(error as Error).message}`,
    );
  }
  const event = parseEvent(json, where);
  invariant(
    event.seq === row.seq && event.type === row.type,
    `event row ${row.seq} of ${key.tenantId}/${key.conversationId} does not match its body`,
  );
  return event;
}

/** JSON text of a string (a ledger output, an outbox text). */
const jsonText = z.string().transform((text, ctx) => {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    ctx.addIssue({ code: 'custom', message: 'is not JSON text' });
    return z.NEVER;
  }
});
/** Ms since the epoch: PostgreSQL's bigint arrives as text. */
const epochMs = z
  .union([z.number(), z.string().regex(/^-?\d+$/)])
  .transform(Number)
  .pipe(z.number().int());

/** A string that a core id parser accepts (its message becomes the issue). */
const parsedBy = <T>(parse: (value: unknown) => T) =>
  z.unknown().transform((value, ctx): T => {
    try {
      return parse(value);
    } catch (error) {
      ctx.addIssue({ code: 'custom', message: error instanceof Error ? error.message : String(error) });
      return z.NEVER;
    }
  });

const keyRow = z.object({ tenant: parsedBy(parseTenantId), conversation: parsedBy(parseConversationId) });

const ledgerRow = z.object({
  tenant: parsedBy(parseTenantId),
  conversation: parsedBy(parseConversationId),
  idempotency_key: z.string(),
  request_hash: z.string(),
  effect_id: z.string(),
  tool: z.string(),
  status: z.enum(['running', 'done', 'failed', 'unknown']),
  output: jsonText.pipe(z.string()).nullable(),
});

const outboxRow = z.object({
  tenant: parsedBy(parseTenantId),
  conversation: parsedBy(parseConversationId),
  reply_id: z.string(),
  delivery_id: z.string(),
  text: jsonText.pipe(z.string()),
  covers: jsonText.pipe(z.array(z.string())),
  kind: z.enum(['reply', 'follow-up', 'fallback', 'operator']),
  committed_at: epochMs,
  delivered_at: epochMs.nullable(),
});

/** Parses a row of a projection table, or throws naming the table and the column that is wrong. */
function parseRow<T extends z.ZodType>(schema: T, table: string, row: unknown): z.output<T> {
  const result = schema.safeParse(row);
  if (result.success) return result.data;
  const issues = result.error.issues
    .map((issue) => `${issue.path.join('.') || '(root)'}: ${issue.message}`)
    .join('; ');
  throw new InvariantViolation(`a row of ${table} does not parse: ${issues}`);
}

/** A store's announcement that a conversation's log grew (PostgreSQL's NOTIFY payload). */
const notification = z.object({
  schema: z.string(),
  tenant: parsedBy(parseTenantId),
  conversation: parsedBy(parseConversationId),
  seq: z.number().int(),
});

/** The JSON text of a notification, or null when it is not one of graft's (another user of the channel). */
export function toNotification(
  payload: string,
): { schema: string; key: ConversationKey; seq: number } | null {
  let json: unknown;
  try {
    json = JSON.parse(payload);
  } catch {
    return null;
  }
  const result = notification.safeParse(json);
  if (!result.success) return null;
  const { schema, tenant, conversation, seq } = result.data;
  return { schema, key: { tenantId: tenant, conversationId: conversation }, seq };
}

export const toKey = (row: unknown): ConversationKey => {
  const { tenant, conversation } = parseRow(keyRow, 'conversations', row);
  return { tenantId: tenant, conversationId: conversation };
};

export const toLedgerEntry = (row: LedgerRow): LedgerEntry => {
  const r = parseRow(ledgerRow, 'ledger', row);
  return {
    tenantId: r.tenant,
    conversationId: r.conversation,
    idempotencyKey: r.idempotency_key,
    requestHash: r.request_hash,
    effectId: r.effect_id,
    tool: r.tool,
    status: r.status,
    output: r.output,
  };
};

export const toOutboxEntry = (row: OutboxRow): OutboxEntry => {
  const r = parseRow(outboxRow, 'outbox', row);
  return {
    tenantId: r.tenant,
    conversationId: r.conversation,
    replyId: r.reply_id,
    deliveryId: r.delivery_id,
    text: r.text,
    covers: r.covers,
    kind: r.kind,
    committedAt: r.committed_at,
    deliveredAt: r.delivered_at,
  };
};
