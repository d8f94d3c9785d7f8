/**
 * All of the SQLite adapter's SQL: the versioned schema migrations and the statements the store
 * prepares. Migrations are append-only: a released one is never edited, a change is a new one.
 *
 * Free text that comes from outside (event bodies, reply text, tool output) is stored as JSON
 * text, because a lone UTF-16 surrogate in a JavaScript string does not survive the conversion
 * to SQLite's UTF-8 text, while JSON escapes it.
 */

/** One step of the schema, applied once, in order, and recorded in `schema_migrations`. */
export interface SqliteMigration {
  version: number;
  name: string;
  sql: string;
}

export const SCHEMA_MIGRATIONS_TABLE = `
CREATE TABLE IF NOT EXISTS schema_migrations (
  version    INTEGER PRIMARY KEY,
  name       TEXT NOT NULL,
  applied_at TEXT NOT NULL
)`;

/** The schema, version by version. */
export const SQLITE_MIGRATIONS: readonly SqliteMigration[] = [
  {
    version: 1,
    name: 'event log with messages, ledger, outbox and conversations',
    sql: `
-- The log. body is the whole event as JSON; seq, type and at are copied out for queries and
-- checked against the body when read back.
CREATE TABLE events (
  tenant       TEXT    NOT NULL,
  conversation TEXT    NOT NULL,
  seq          INTEGER NOT NULL,
  type         TEXT    NOT NULL,
  at           INTEGER NOT NULL,
  body         TEXT    NOT NULL,
  PRIMARY KEY (tenant, conversation, seq)
) WITHOUT ROWID;

-- Inbound message de-duplication.
CREATE TABLE messages (
  tenant       TEXT    NOT NULL,
  conversation TEXT    NOT NULL,
  message_id   TEXT    NOT NULL,
  PRIMARY KEY (tenant, conversation, message_id)
) WITHOUT ROWID;

-- The effect ledger: the latest effect of each idempotency key. output is a JSON string.
CREATE TABLE ledger (
  tenant          TEXT NOT NULL,
  conversation    TEXT NOT NULL,
  idempotency_key TEXT NOT NULL,
  request_hash    TEXT NOT NULL,
  effect_id       TEXT NOT NULL,
  tool            TEXT NOT NULL,
  status          TEXT NOT NULL CHECK (status IN ('running', 'done', 'failed', 'unknown')),
  output          TEXT,
  PRIMARY KEY (tenant, conversation, idempotency_key)
);
CREATE INDEX ledger_by_effect ON ledger (tenant, conversation, effect_id);

-- The reply outbox. text is a JSON string and covers a JSON array; the rowid orders replies
-- committed in the same millisecond.
CREATE TABLE outbox (
  tenant       TEXT    NOT NULL,
  conversation TEXT    NOT NULL,
  reply_id     TEXT    NOT NULL,
  delivery_id  TEXT    NOT NULL UNIQUE,
  text         TEXT    NOT NULL,
  covers       TEXT    NOT NULL,
  kind         TEXT    NOT NULL CHECK (kind IN ('reply', 'follow-up', 'fallback')),
  committed_at INTEGER NOT NULL,
  delivered_at INTEGER,
  UNIQUE (tenant, conversation, reply_id)
);
CREATE INDEX outbox_undelivered ON outbox (committed_at) WHERE delivered_at IS NULL;

-- One row per conversation: where its log ends (the append fence) and whether work is left.
CREATE TABLE conversations (
  tenant       TEXT    NOT NULL,
  conversation TEXT    NOT NULL,
  last_seq     INTEGER NOT NULL,
  unfinished   INTEGER NOT NULL DEFAULT 0,
  updated_at   INTEGER NOT NULL,
  PRIMARY KEY (tenant, conversation)
) WITHOUT ROWID;
CREATE INDEX conversations_unfinished ON conversations (tenant, conversation) WHERE unfinished = 1;
`,
  },
  {
    version: 2,
    name: 'outbox kind operator (replies written by a person)',
    // SQLite cannot alter a CHECK constraint: the table is rebuilt, rowids kept (they order replies).
    sql: `
CREATE TABLE outbox_v2 (
  tenant       TEXT    NOT NULL,
  conversation TEXT    NOT NULL,
  reply_id     TEXT    NOT NULL,
  delivery_id  TEXT    NOT NULL UNIQUE,
  text         TEXT    NOT NULL,
  covers       TEXT    NOT NULL,
  kind         TEXT    NOT NULL CHECK (kind IN ('reply', 'follow-up', 'fallback', 'operator')),
  committed_at INTEGER NOT NULL,
  delivered_at INTEGER,
  UNIQUE (tenant, conversation, reply_id)
);
INSERT INTO outbox_v2 (rowid, tenant, conversation, reply_id, delivery_id, text, covers, kind, committed_at, delivered_at)
  SELECT rowid, tenant, conversation, reply_id, delivery_id, text, covers, kind, committed_at, delivered_at FROM outbox;
DROP TABLE outbox;
ALTER TABLE outbox_v2 RENAME TO outbox;
CREATE INDEX outbox_undelivered ON outbox (committed_at) WHERE delivered_at IS NULL;
`,
  },
];

/** The statements the store prepares once, by name. Parameters are named (`@tenant`, …). */
export const SQLITE_STATEMENTS = {
  migrationVersions: `SELECT version FROM schema_migrations ORDER BY version`,
  recordMigration: `INSERT INTO schema_migrations (version, name, applied_at) VALUES (@version, @name, @appliedAt)`,

  lastSeq: `SELECT last_seq FROM conversations WHERE tenant = @tenant AND conversation = @conversation`,
  insertConversation: `
    INSERT INTO conversations (tenant, conversation, last_seq, unfinished, updated_at)
    VALUES (@tenant, @conversation, @lastSeq, @unfinished, @updatedAt)`,
  advanceConversation: `
    UPDATE conversations
       SET last_seq = @lastSeq, unfinished = coalesce(@unfinished, unfinished), updated_at = coalesce(@updatedAt, updated_at)
     WHERE tenant = @tenant AND conversation = @conversation AND last_seq = @expectedSeq`,
  insertEvent: `
    INSERT INTO events (tenant, conversation, seq, type, at, body)
    VALUES (@tenant, @conversation, @seq, @type, @at, @body)`,
  readEvents: `
    SELECT seq, type, body FROM events
     WHERE tenant = @tenant AND conversation = @conversation AND seq > @afterSeq
     ORDER BY seq`,

  insertMessage: `
    INSERT INTO messages (tenant, conversation, message_id) VALUES (@tenant, @conversation, @messageId)
    ON CONFLICT DO NOTHING`,
  // A key may start again (after a failure) only for the same request: the WHERE makes a
  // different request update nothing, which the store reports as an IdempotencyConflictError.
  ledgerStart: `
    INSERT INTO ledger (tenant, conversation, idempotency_key, request_hash, effect_id, tool, status, output)
    VALUES (@tenant, @conversation, @idempotencyKey, @requestHash, @effectId, @tool, 'running', NULL)
    ON CONFLICT (tenant, conversation, idempotency_key) DO UPDATE
       SET effect_id = excluded.effect_id, tool = excluded.tool, status = 'running', output = NULL
     WHERE ledger.request_hash = excluded.request_hash`,
  ledgerStatus: `
    UPDATE ledger SET status = @status, output = coalesce(@output, output)
     WHERE tenant = @tenant AND conversation = @conversation AND effect_id = @effectId`,
  ledgerGet: `
    SELECT tenant, conversation, idempotency_key, request_hash, effect_id, tool, status, output FROM ledger
     WHERE tenant = @tenant AND conversation = @conversation AND idempotency_key = @idempotencyKey`,
  outboxAdd: `
    INSERT INTO outbox (tenant, conversation, reply_id, delivery_id, text, covers, kind, committed_at, delivered_at)
    VALUES (@tenant, @conversation, @replyId, @deliveryId, @text, @covers, @kind, @committedAt, NULL)`,
  outboxDelivered: `
    UPDATE outbox SET delivered_at = coalesce(delivered_at, @deliveredAt)
     WHERE tenant = @tenant AND conversation = @conversation AND reply_id = @replyId`,
  // Two statements rather than one with a flag, so that the undelivered one uses its partial index.
  outboxUndelivered: `
    SELECT tenant, conversation, reply_id, delivery_id, text, covers, kind, committed_at, delivered_at FROM outbox
     WHERE delivered_at IS NULL
     ORDER BY committed_at, rowid
     LIMIT @limit`,
  outboxAll: `
    SELECT tenant, conversation, reply_id, delivery_id, text, covers, kind, committed_at, delivered_at FROM outbox
     ORDER BY committed_at, rowid
     LIMIT @limit`,

  conversations: `
    SELECT tenant, conversation FROM conversations
     WHERE (@tenant IS NULL OR tenant = @tenant) AND (@after IS NULL OR conversation > @after)
     ORDER BY tenant, conversation
     LIMIT @limit`,
  unfinished: `SELECT tenant, conversation FROM conversations WHERE unfinished = 1 ORDER BY tenant, conversation`,
} as const;
