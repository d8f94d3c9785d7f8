import postgres from 'postgres';
import { invariant, RetryableError } from '../../core/errors.js';
import type { GraftEvent } from '../../core/events.js';
import type {
  AppendOptions,
  ConversationKey,
  EventStore,
  LedgerEntry,
  OutboxEntry,
} from '../../core/ports.js';
import { ConflictError, DuplicateMessageError, IdempotencyConflictError } from '../../core/ports.js';
import { projectionOps, type ProjectionOp } from '../projection.js';
import {
  describeTarget,
  STORE_TIMEOUT,
  storeTimeout,
  watchedSocketFactory,
  withDeadline,
} from './deadline.js';
import {
  createSchema,
  MIGRATION_LOCK,
  migrationVersions,
  NOTIFY_CHANNEL,
  POSTGRES_MIGRATIONS,
  postgresStatements,
  quoteSchema,
  recordMigration,
  type PostgresMigration,
  type PostgresStatements,
} from './migrations.js';
import {
  type EventRow,
  type LedgerRow,
  type OutboxRow,
  toEvent,
  toKey,
  toLedgerEntry,
  toNotification,
  toOutboxEntry,
} from '../rows.js';

/** The postgres.js handle (`sql` tagged template) the store runs on. */
import type { PostgresSettings } from './settings.js';

export type Sql = postgres.Sql;

export interface PostgresStoreOptions extends PostgresSettings {
  /** `postgres://user@host:port/database`. */
  url: string;
  /** The schema steps to apply; tests pass a prefix to check upgrades. Default: all of them. */
  migrations?: readonly PostgresMigration[];
}

type KeyRow = { tenant: string; conversation: string };

/** pg_notify refuses payloads of 8000 bytes or more; an append never fails for a wake-up. */
const MAX_NOTIFY_PAYLOAD_BYTES = 7_900;

/** Thrown inside the append transaction when the fence matched no row; mapped outside it. */
class StaleSeq extends Error {}

/**
 * The event store for several instances: PostgreSQL through postgres.js.
 *
 * An append is one transaction: it advances the conversation's `last_seq` only if it equals the
 * expected seq (the row lock serialises concurrent appenders; the unique `(tenant, conversation,
 * seq)` of the events is the fence behind it), inserts the events and their projections, and
 * announces the new seq with `pg_notify` (sent on commit). Its statements are pipelined, so an
 * append costs about one round trip plus the commit.
 *
 * @example
 * const store = await PostgresStore.open({ url: 'postgres://postgres@127.0.0.1:5432/app' });
 * const stop = await store.watch((key, seq) => wake(key, seq)); // other instances' appends
 * await store.sql`CREATE TABLE IF NOT EXISTS shop_orders (…)`; // the app's own tables
 */
export class PostgresStore implements EventStore {
  /** Which adapter this is (see `openStore`). */
  readonly kind = 'postgres' as const;
  /** The schema graft's tables are in. */
  readonly schema: string;
  /** Whether appends are announced with NOTIFY. */
  readonly notify: boolean;
  /** The client-side deadline of every query and transaction (see `PostgresStoreOptions.queryDeadlineMs`). */
  readonly queryDeadlineMs: number;
  private readonly q: PostgresStatements;
  private readonly target: string;
  private closed = false;

  private constructor(
    /** The postgres.js handle, so that an application can keep its own tables in the same database. */
    readonly sql: Sql,
    schema: string,
    notify: boolean,
    target: string,
    queryDeadlineMs: number,
  ) {
    this.schema = schema;
    this.notify = notify;
    this.target = target;
    this.queryDeadlineMs = queryDeadlineMs;
    this.q = postgresStatements(quoteSchema(schema));
  }

  /** Connects, brings the schema up to date (safe when several instances start at once), and returns the store. */
  static async open(options: PostgresStoreOptions): Promise<PostgresStore> {
    const schema = options.schema ?? 'graft';
    quoteSchema(schema);
    const target = describeTarget(options.url);
    const connectTimeoutMs = options.connectTimeoutMs ?? 10_000;
    const statementTimeoutMs = options.statementTimeoutMs ?? 30_000;
    const queryDeadlineMs = options.queryDeadlineMs ?? statementTimeoutMs + 5_000;
    // postgres.js takes a `socket` hook that its types do not declare.
    const socket = {
      socket: watchedSocketFactory(queryDeadlineMs, () =>
        storeTimeout(target, 'on a connection', queryDeadlineMs, 'queryDeadlineMs'),
      ),
    } as object;
    const sql = postgres(options.url, {
      ...socket,
      max: options.max ?? 10,
      // In seconds; fractions of one work too (the fault tests use them).
      connect_timeout: connectTimeoutMs / 1000,
      // Reconnect soon after a lost connection (postgres.js's default backs off up to 20 s).
      backoff: (retries: number) => Math.min(1, 0.05 * 2 ** retries) * (0.5 + Math.random() / 2),
      // postgres.js reads the array types on every new connection, and a connection killed during
      // that read rejects a promise nobody holds (an unhandled rejection takes the process down).
      // The store sends no arrays; an application passing arrays on `sql` names their type.
      fetch_types: false,
      onnotice: () => {}, // "schema already exists, skipping" and the like are not news.
      connection: {
        application_name: options.applicationName ?? 'graft',
        statement_timeout: statementTimeoutMs,
        lock_timeout: options.lockTimeoutMs ?? 10_000,
        idle_in_transaction_session_timeout: options.idleInTransactionTimeoutMs ?? 60_000,
      },
    });
    const startupMs = connectTimeoutMs + queryDeadlineMs;
    try {
      await withDeadline(
        migratePostgres(sql, schema, options.migrations ?? POSTGRES_MIGRATIONS),
        startupMs,
        () =>
          storeTimeout(
            target,
            'at start-up (connect and migrate)',
            startupMs,
            'connectTimeoutMs + queryDeadlineMs',
          ),
      );
    } catch (error) {
      await sql.end({ timeout: 0 });
      throw startupError(error, target, connectTimeoutMs);
    }
    return new PostgresStore(sql, schema, options.notify ?? true, target, queryDeadlineMs);
  }

  /** Runs `work` under the client-side deadline; its failures are classified. */
  private async bounded<T>(what: string, work: () => Promise<T>): Promise<T> {
    try {
      return await withDeadline(work(), this.queryDeadlineMs, () =>
        storeTimeout(this.target, what, this.queryDeadlineMs, 'queryDeadlineMs'),
      );
    } catch (error) {
      throw classify(error, this.target);
    }
  }

  /**
   * Runs a prepared statement. postgres.js sends a query when it is first awaited; `execute()`
   * sends it now, so that the statements of an append go out in the order they were made.
   */
  private run<T extends readonly object[]>(
    sql: Sql | postgres.TransactionSql,
    query: string,
    params: unknown[],
  ): Promise<T> {
    return sql
      .unsafe(query, params as postgres.ParameterOrJSON<never>[], { prepare: true })
      .execute() as unknown as Promise<T>;
  }

  async append(
    key: ConversationKey,
    expectedSeq: number,
    events: readonly GraftEvent[],
    options: AppendOptions = {},
  ): Promise<void> {
    events.forEach((event, i) =>
      invariant(event.seq === expectedSeq + i + 1, `event seq ${event.seq} is not ${expectedSeq + i + 1}`),
    );
    try {
      await this.bounded('to an append', () =>
        this.sql.begin((tx) => quietOnLostConnection(this.appendInTx(tx, key, expectedSeq, events, options))),
      );
    } catch (error) {
      if (error instanceof StaleSeq) throw new ConflictError(key, expectedSeq, await this.lastSeq(key));
      if (isUniqueViolation(error, 'events_fence'))
        throw new ConflictError(key, expectedSeq, await this.lastSeq(key));
      throw error;
    }
  }

  /**
   * Sends every statement of the append at once (postgres.js pipelines them on the transaction's
   * connection); the first failure aborts the transaction and is what the caller sees.
   */
  private async appendInTx(
    tx: postgres.TransactionSql,
    key: ConversationKey,
    expectedSeq: number,
    events: readonly GraftEvent[],
    options: AppendOptions,
  ): Promise<void> {
    const { tenantId, conversationId } = key;
    const lastSeq = expectedSeq + events.length;
    const unfinished = options.unfinished ?? null;
    const updatedAt = events.at(-1)?.at ?? null;
    const fence =
      expectedSeq === 0 && events.length > 0
        ? this.run<AppendedRow[]>(tx, this.q.startConversation, [
            tenantId,
            conversationId,
            lastSeq,
            unfinished,
            updatedAt,
          ])
        : this.run<AppendedRow[]>(tx, this.q.advanceConversation, [
            tenantId,
            conversationId,
            lastSeq,
            unfinished,
            updatedAt,
            expectedSeq,
          ]);
    const inserts = events.map((event) =>
      this.run<AppendedRow[]>(tx, this.q.insertEvent, [
        tenantId,
        conversationId,
        event.seq,
        event.type,
        event.at,
        JSON.stringify(event),
      ]),
    );
    const writes: Promise<unknown>[] = [...inserts];
    for (const op of projectionOps(key, events)) writes.push(this.project(tx, key, op));
    if (this.notify && events.length > 0) {
      const payload = JSON.stringify({
        schema: this.schema,
        tenant: tenantId,
        conversation: conversationId,
        seq: lastSeq,
      });
      if (Buffer.byteLength(payload) < MAX_NOTIFY_PAYLOAD_BYTES)
        writes.push(this.run(tx, this.q.notify, [payload]));
    }
    try {
      await Promise.all([fence, ...writes]);
    } catch (error) {
      // A stale seq explains any later failure (say, a message id that the winner appended).
      if ((await fence.catch(() => null))?.length === 0 && events.length > 0) throw new StaleSeq();
      throw error;
    }
    if ((await fence).length === 0) {
      // An append of no events to a conversation with no log writes nothing, as in memory.
      if (
        events.length === 0 &&
        expectedSeq === 0 &&
        (await this.run<object[]>(tx, this.q.lastSeq, [tenantId, conversationId])).length === 0
      )
        return;
      throw new StaleSeq();
    }
    // Each statement must have answered for itself. Under connections reset mid-transaction the
    // driver has been seen to hand a statement another's result: taken at its word, an append that
    // did not happen (its insert failed, and COMMIT quietly rolled back) looked done, and a write
    // ran with no durable `effect started`. A result that is not this statement's own fails the
    // append (rolled back, retryable): reported failed, it is read back before anything is decided.
    const answered = (rows: unknown, seq: number) =>
      Array.isArray(rows) &&
      rows.length === 1 &&
      isAppendedRow(rows[0]) &&
      rows[0].tenant === tenantId &&
      rows[0].conversation === conversationId &&
      Number(rows[0].seq ?? rows[0].last_seq) === seq;
    const own =
      answered(await fence, lastSeq) &&
      (await Promise.all(inserts)).every((rows, i) => answered(rows, events[i]!.seq));
    if (!own) {
      throw new RetryableError(
        `PostgreSQL answered an append to ${tenantId}/${conversationId} at seq ${expectedSeq} with another statement's result: not recorded, append again`,
        null,
        'store_result_mismatch',
      );
    }
  }

  /** One projection row; errors that belong to the caller become the port's typed errors. */
  private async project(tx: postgres.TransactionSql, key: ConversationKey, op: ProjectionOp): Promise<void> {
    const k = [key.tenantId, key.conversationId];
    switch (op.op) {
      case 'message':
        try {
          await this.run(tx, this.q.insertMessage, [...k, op.messageId]);
        } catch (error) {
          throw isUniqueViolation(error, 'messages_unique')
            ? new DuplicateMessageError(key, op.messageId)
            : error;
        }
        return;
      case 'ledger-start': {
        const rows = await this.run<object[]>(tx, this.q.ledgerStart, [
          ...k,
          op.idempotencyKey,
          op.requestHash,
          op.effectId,
          op.tool,
        ]);
        if (rows.length === 0) throw new IdempotencyConflictError(key, op.idempotencyKey);
        return;
      }
      case 'ledger-status':
        await this.run(tx, this.q.ledgerStatus, [
          ...k,
          op.effectId,
          op.status,
          op.output === null ? null : JSON.stringify(op.output),
        ]);
        return;
      case 'outbox-add':
        await this.run(tx, this.q.outboxAdd, [
          ...k,
          op.replyId,
          op.deliveryId,
          JSON.stringify(op.text),
          JSON.stringify(op.covers),
          op.kind,
          op.committedAt,
        ]);
        return;
      case 'outbox-delivered':
        await this.run(tx, this.q.outboxDelivered, [...k, op.replyId, op.deliveredAt]);
        return;
    }
  }

  private async lastSeq(key: ConversationKey): Promise<number> {
    const [row] = await this.query<{ last_seq: number }[]>(this.q.lastSeq, [
      key.tenantId,
      key.conversationId,
    ]);
    return row?.last_seq ?? 0;
  }

  async read(key: ConversationKey, afterSeq: number): Promise<GraftEvent[]> {
    const rows = await this.query<(EventRow & { tenant: string; conversation: string })[]>(
      this.q.readEvents,
      [key.tenantId, key.conversationId, afterSeq],
    );
    // The rows must answer this query: under connections reset mid-query, the driver has been
    // seen to hand one query the rows of another, or to run on into them (seq 1 again after seq
    // 21). Rows the query could not have given — another conversation's, at or before `afterSeq`,
    // or out of its order — are the connection's fault, not the log's: read again. A gap among
    // rows that do answer it is a corrupt log, and `toEvent` stops on it.
    const foreign = rows.some(
      (row, i) =>
        typeof row !== 'object' ||
        row === null ||
        (i > 0 && (typeof rows[i - 1] !== 'object' || rows[i - 1] === null)) ||
        row.tenant !== key.tenantId ||
        row.conversation !== key.conversationId ||
        row.seq <= (i === 0 ? afterSeq : rows[i - 1]!.seq),
    );
    if (foreign)
      throw new RetryableError(
        `PostgreSQL answered a read of ${key.tenantId}/${key.conversationId} after seq ${afterSeq} with another query's rows: reading again`,
        null,
        'store_result_mismatch',
      );
    return rows.map((row, i) => toEvent(key, row, afterSeq + i + 1));
  }

  async conversations(
    options: { tenantId?: string; afterConversationId?: string; limit?: number } = {},
  ): Promise<ConversationKey[]> {
    const rows = await this.query<KeyRow[]>(this.q.conversations, [
      options.tenantId ?? null,
      options.afterConversationId ?? null,
      options.limit ?? null,
    ]);
    return rows.map(toKey);
  }

  async unfinished(): Promise<ConversationKey[]> {
    return (await this.query<KeyRow[]>(this.q.unfinished, [])).map(toKey);
  }

  async ledger(key: ConversationKey, idempotencyKey: string): Promise<LedgerEntry | null> {
    const [row] = await this.query<LedgerRow[]>(this.q.ledgerGet, [
      key.tenantId,
      key.conversationId,
      idempotencyKey,
    ]);
    return row ? toLedgerEntry(row) : null;
  }

  async outbox(options: { all?: boolean; limit?: number } = {}): Promise<OutboxEntry[]> {
    const rows = await this.query<OutboxRow[]>(
      options.all === true ? this.q.outboxAll : this.q.outboxUndelivered,
      [options.limit ?? null],
    );
    return rows.map(toOutboxEntry);
  }

  private query<T extends readonly object[]>(query: string, params: unknown[]): Promise<T> {
    return this.bounded('to a query', () => this.run<T>(this.sql, query, params));
  }

  /**
   * LISTENs for appends to this schema by any instance (on a connection of its own, which
   * postgres.js re-subscribes after a reconnect; notifications sent while it was away are lost,
   * which polling makes up for). With `notify: false` nothing is announced, so nothing is heard.
   */
  async watch(listener: (key: ConversationKey, seq: number) => void): Promise<() => Promise<void>> {
    const subscription = await this.sql.listen(NOTIFY_CHANNEL, (payload) => {
      const note = toNotification(payload);
      if (note && note.schema === this.schema) listener(note.key, note.seq);
    });
    return () => subscription.unlisten();
  }

  /** Closes the pool and the LISTEN connection (idempotent). */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.sql.end({ timeout: 5 });
  }
}

/**
 * Brings `schema` up to date: creates it if missing and applies every newer migration, in one
 * transaction under an advisory lock, so instances that start together migrate once; refuses a
 * schema written by a newer graft. Returns the versions it applied.
 */
export async function migratePostgres(
  sql: Sql,
  schema: string,
  migrations: readonly PostgresMigration[] = POSTGRES_MIGRATIONS,
): Promise<number[]> {
  migrations.forEach((m, i) =>
    invariant(m.version === i + 1, `PostgreSQL migration ${i} has version ${m.version}, expected ${i + 1}`),
  );
  const s = quoteSchema(schema);
  return sql.begin(async (tx) => {
    await tx.unsafe(MIGRATION_LOCK, [`graft.migrate.${schema}`]);
    await tx.unsafe(createSchema(s));
    const applied = (await tx.unsafe<{ version: number }[]>(migrationVersions(s))).map((r) => r.version);
    const newest = applied.at(-1) ?? 0;
    if (newest > migrations.length) {
      throw new Error(
        `PostgreSQL schema ${schema} is at version ${newest}, newer than this graft knows (${migrations.length}): upgrade graft`,
      );
    }
    const done: number[] = [];
    for (const migration of migrations.slice(newest)) {
      await tx.unsafe(migration.sql(s));
      await tx.unsafe(recordMigration(s), [migration.version, migration.name]);
      done.push(migration.version);
    }
    return done;
  });
}

/** What postgres.js and the server say when a connection is gone (or going): nothing more can be sent on it. */
const CONNECTION_LOST = new Set([
  'CONNECTION_CLOSED',
  'CONNECTION_DESTROYED',
  'CONNECTION_ENDED',
  '57P01', // terminating connection due to administrator command (pg_terminate_backend)
  '57P02',
  '57P03',
  'ECONNRESET',
  'EPIPE',
  'ETIMEDOUT',
  STORE_TIMEOUT,
]);

/**
 * A transaction's work that failed because its connection was lost is left unsettled, so that
 * postgres.js's `begin` does not send ROLLBACK on the dead connection: in postgres.js 3.4.9 that
 * write throws an uncatchable TypeError from a `setImmediate` and takes the process down
 * (porsager/postgres#1154, #1208). `begin` rejects on its own when the connection closes, and the
 * caller's deadline bounds the wait if it never does; the server rolls back a transaction whose
 * connection is gone.
 */
/** What the fence (`last_seq`) and each event insert (`seq`) return. */
interface AppendedRow {
  tenant: string;
  conversation: string;
  seq?: number | string;
  last_seq?: number | string;
}

const isAppendedRow = (row: unknown): row is AppendedRow => typeof row === 'object' && row !== null;

function quietOnLostConnection<T>(work: Promise<T>): Promise<T> {
  return work.catch((error: unknown) => {
    const code = (error as { code?: unknown } | null)?.code;
    if (typeof code === 'string' && CONNECTION_LOST.has(code)) return new Promise<T>(() => {});
    throw error;
  });
}

function isUniqueViolation(error: unknown, constraint: string): boolean {
  return (
    error instanceof postgres.PostgresError && error.code === '23505' && error.constraint_name === constraint
  );
}

/** SQLSTATEs and client codes after which the same call may succeed later. */
const RETRYABLE = new Set([
  '40001',
  '40P01',
  '55P03',
  '57014',
  '57P01',
  '08000',
  '08003',
  '08006',
  'CONNECTION_CLOSED',
  'CONNECTION_ENDED',
  'CONNECTION_DESTROYED',
  'CONNECT_TIMEOUT',
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EPIPE',
  'EHOSTUNREACH',
  'ENETUNREACH',
]);

/**
 * Marks transient failures (lock or statement timeout, deadlock, lost connection) retryable; a
 * client-side deadline that passed is `store_timeout`. After a lost connection or a deadline an
 * append may or may not have committed: the caller re-reads the log.
 */
function classify(error: unknown, target: string): unknown {
  if (error instanceof RetryableError) return error;
  const code = (error as { code?: unknown } | null)?.code;
  if (code === STORE_TIMEOUT)
    return Object.assign(new RetryableError((error as Error).message, null, 'store_timeout'), {
      cause: error,
    });
  if (typeof code === 'string' && RETRYABLE.has(code)) {
    return Object.assign(
      new RetryableError(`PostgreSQL at ${target}: ${(error as Error).message}`, null, code),
      { cause: error },
    );
  }
  return error;
}

/**
 * Start-up failed: a server that does not answer or cannot be reached becomes a `RetryableError`
 * whose message names the server and the timeout that passed; anything else (a refused password,
 * a schema from a newer graft) is thrown as it was.
 */
function startupError(error: unknown, target: string, connectTimeoutMs: number): unknown {
  const code = (error as { code?: unknown } | null)?.code;
  if (code === 'CONNECT_TIMEOUT')
    return Object.assign(
      new RetryableError(
        `PostgreSQL at ${target} did not answer within ${connectTimeoutMs} ms (connectTimeoutMs) while graft started`,
        null,
        'store_timeout',
      ),
      { cause: error },
    );
  const classified = classify(error, target);
  if (classified instanceof RetryableError && classified.code !== 'store_timeout')
    return Object.assign(
      new RetryableError(
        `cannot reach PostgreSQL at ${target} while graft started: ${(error as Error).message}`,
        null,
        'store_unavailable',
      ),
      { cause: error },
    );
  return classified;
}
