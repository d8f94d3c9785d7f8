/**
 * All of the PostgreSQL adapter's SQL: the versioned schema migrations and the statements the
 * store runs, for one schema (its name is checked by `quoteSchema` before it is spliced in).
 * Migrations are append-only: a released one is never edited, a change is a new one.
 *
 * Free text that comes from outside (event bodies, reply text, tool output) is kept in `json`
 * columns, not `text` or `jsonb`: PostgreSQL's `text` cannot hold U+0000 and `jsonb` refuses the
 * `\u0000` escape, while `json` keeps JSON text as it was written.
 */

/** One step of the schema, applied once, in order, and recorded in `schema_migrations`. */
export interface PostgresMigration {
  version: number;
  name: string;
  sql: (schema: string) => string;
}

/** The channel that appends are announced on (payload: JSON `{ schema, tenant, conversation, seq }`). */
export const NOTIFY_CHANNEL = 'graft_events';

/** Quotes a schema name, after checking it is a plain identifier (it is spliced into SQL). */
export function quoteSchema(schema: string): string {
  if (!/^[A-Za-z_][A-Za-z0-9_]{0,62}$/.test(schema))
    throw new Error(`bad PostgreSQL schema name ${JSON.stringify(schema)}: use letters, digits and _`);
  return `"${schema}"`;
}

export const createSchema = (s: string): string => `
CREATE SCHEMA IF NOT EXISTS ${s};
CREATE TABLE IF NOT EXISTS ${s}.schema_migrations (
  version    integer PRIMARY KEY,
  name       text NOT NULL,
  applied_at timestamptz NOT NULL DEFAULT now()
)`;

/** Serialises migrations of one schema across instances that start at the same time. */
export const MIGRATION_LOCK = `SELECT pg_advisory_xact_lock(hashtext($1))`;
export const migrationVersions = (s: string): string =>
  `SELECT version FROM ${s}.schema_migrations ORDER BY version`;
export const recordMigration = (s: string): string =>
  `INSERT INTO ${s}.schema_migrations (version, name) VALUES ($1, $2)`;

/** The schema, version by version. */
export const POSTGRES_MIGRATIONS: readonly PostgresMigration[] = [
  {
    version: 1,
    name: 'event log with messages, ledger, outbox and conversations',
    sql: (s) => `
-- The log. body is the whole event; seq, type and at are copied out for queries and checked
-- against the body when read back. The primary key is the fence between instances: two appends
-- at the same seq cannot both commit.
CREATE TABLE ${s}.events (
  tenant       text    NOT NULL,
  conversation text    NOT NULL,
  seq          integer NOT NULL,
  type         text    NOT NULL,
  at           bigint  NOT NULL,
  body         json    NOT NULL,
  CONSTRAINT events_fence PRIMARY KEY (tenant, conversation, seq)
);

-- Inbound message de-duplication.
CREATE TABLE ${s}.messages (
  tenant       text NOT NULL,
  conversation text NOT NULL,
  message_id   text NOT NULL,
  CONSTRAINT messages_unique PRIMARY KEY (tenant, conversation, message_id)
);

-- The effect ledger: the latest effect of each idempotency key. output is a JSON string.
CREATE TABLE ${s}.ledger (
  tenant          text NOT NULL,
  conversation    text NOT NULL,
  idempotency_key text NOT NULL,
  request_hash    text NOT NULL,
  effect_id       text NOT NULL,
  tool            text NOT NULL,
  status          text NOT NULL CHECK (status IN ('running', 'done', 'failed', 'unknown')),
  output          json,
  CONSTRAINT ledger_unique PRIMARY KEY (tenant, conversation, idempotency_key)
);
CREATE INDEX ledger_by_effect ON ${s}.ledger (tenant, conversation, effect_id);

-- The reply outbox. text is a JSON string, covers a JSON array; position orders replies
-- committed in the same millisecond.
CREATE TABLE ${s}.outbox (
  position     bigint GENERATED ALWAYS AS IDENTITY,
  tenant       text   NOT NULL,
  conversation text   NOT NULL,
  reply_id     text   NOT NULL,
  delivery_id  text   NOT NULL,
  text         json   NOT NULL,
  covers       json   NOT NULL,
  kind         text   NOT NULL CHECK (kind IN ('reply', 'follow-up', 'fallback')),
  committed_at bigint NOT NULL,
  delivered_at bigint,
  CONSTRAINT outbox_unique PRIMARY KEY (tenant, conversation, reply_id),
  CONSTRAINT outbox_delivery_unique UNIQUE (delivery_id)
);
CREATE INDEX outbox_undelivered ON ${s}.outbox (committed_at, position) WHERE delivered_at IS NULL;

-- One row per conversation: where its log ends and whether work is left. Its row lock
-- serialises appends to one conversation; the events primary key backs it up.
-- COLLATE "C" orders conversations by code point, as the other stores do, whatever the
-- database's locale.
CREATE TABLE ${s}.conversations (
  tenant       text COLLATE "C" NOT NULL,
  conversation text COLLATE "C" NOT NULL,
  last_seq     integer NOT NULL,
  unfinished   boolean NOT NULL DEFAULT false,
  updated_at   bigint  NOT NULL,
  CONSTRAINT conversations_unique PRIMARY KEY (tenant, conversation)
);
CREATE INDEX conversations_unfinished ON ${s}.conversations (tenant, conversation) WHERE unfinished;
`,
  },
  {
    version: 2,
    name: 'outbox kind operator (replies written by a person)',
    sql: (s) => `
ALTER TABLE ${s}.outbox DROP CONSTRAINT outbox_kind_check;
ALTER TABLE ${s}.outbox ADD CONSTRAINT outbox_kind_check
  CHECK (kind IN ('reply', 'follow-up', 'fallback', 'operator'));
`,
  },
];

/**
 * The statements the store runs (prepared, with positional parameters), for one schema. json
 * values go in and out as text (`$n::text::json`, `column::text`), serialised and parsed by the
 * store: postgres.js would otherwise JSON-encode a json parameter once more after it learns its
 * type, and parses json results of some prepared statements and not of others.
 */
export function postgresStatements(s: string) {
  return {
    lastSeq: `SELECT last_seq FROM ${s}.conversations WHERE tenant = $1 AND conversation = $2`,
    // The fence, first of the append's statements: a stale expected seq matches no row.
    // A concurrent append waits for this row's lock, then finds last_seq moved.
    startConversation: `
      INSERT INTO ${s}.conversations (tenant, conversation, last_seq, unfinished, updated_at)
      VALUES ($1, $2, $3, coalesce($4::boolean, false), $5)
      ON CONFLICT DO NOTHING RETURNING tenant, conversation, last_seq`,
    advanceConversation: `
      UPDATE ${s}.conversations SET last_seq = $3, unfinished = coalesce($4::boolean, unfinished), updated_at = coalesce($5::bigint, updated_at)
       WHERE tenant = $1 AND conversation = $2 AND last_seq = $6 RETURNING tenant, conversation, last_seq`,
    insertEvent: `INSERT INTO ${s}.events (tenant, conversation, seq, type, at, body) VALUES ($1, $2, $3, $4, $5, $6::text::json) RETURNING tenant, conversation, seq`,
    readEvents: `SELECT tenant, conversation, seq, type, body::text AS body FROM ${s}.events WHERE tenant = $1 AND conversation = $2 AND seq > $3 ORDER BY seq`,
    notify: `SELECT pg_notify('${NOTIFY_CHANNEL}', $1)`,

    insertMessage: `INSERT INTO ${s}.messages (tenant, conversation, message_id) VALUES ($1, $2, $3)`,
    // A key may start again (after a failure) only for the same request: the WHERE makes a
    // different request update nothing, which the store reports as an IdempotencyConflictError.
    ledgerStart: `
      INSERT INTO ${s}.ledger AS l (tenant, conversation, idempotency_key, request_hash, effect_id, tool, status, output)
      VALUES ($1, $2, $3, $4, $5, $6, 'running', NULL)
      ON CONFLICT (tenant, conversation, idempotency_key) DO UPDATE
         SET effect_id = excluded.effect_id, tool = excluded.tool, status = 'running', output = NULL
       WHERE l.request_hash = excluded.request_hash
      RETURNING 1`,
    ledgerStatus: `
      UPDATE ${s}.ledger SET status = $4, output = coalesce($5::text::json, output)
       WHERE tenant = $1 AND conversation = $2 AND effect_id = $3`,
    ledgerGet: `
      SELECT tenant, conversation, idempotency_key, request_hash, effect_id, tool, status, output::text AS output FROM ${s}.ledger
       WHERE tenant = $1 AND conversation = $2 AND idempotency_key = $3`,
    outboxAdd: `
      INSERT INTO ${s}.outbox (tenant, conversation, reply_id, delivery_id, text, covers, kind, committed_at)
      VALUES ($1, $2, $3, $4, $5::text::json, $6::text::json, $7, $8)`,
    outboxDelivered: `
      UPDATE ${s}.outbox SET delivered_at = coalesce(delivered_at, $4)
       WHERE tenant = $1 AND conversation = $2 AND reply_id = $3`,
    outboxUndelivered: `
      SELECT tenant, conversation, reply_id, delivery_id, text::text AS text, covers::text AS covers, kind, committed_at, delivered_at FROM ${s}.outbox
       WHERE delivered_at IS NULL ORDER BY committed_at, position LIMIT $1`,
    outboxAll: `
      SELECT tenant, conversation, reply_id, delivery_id, text::text AS text, covers::text AS covers, kind, committed_at, delivered_at FROM ${s}.outbox
       ORDER BY committed_at, position LIMIT $1`,

    conversations: `
      SELECT tenant, conversation FROM ${s}.conversations
       WHERE ($1::text IS NULL OR tenant = $1) AND ($2::text IS NULL OR conversation > $2)
       ORDER BY tenant, conversation LIMIT $3`,
    unfinished: `SELECT tenant, conversation FROM ${s}.conversations WHERE unfinished ORDER BY tenant, conversation`,
  } as const;
}

export type PostgresStatements = ReturnType<typeof postgresStatements>;
