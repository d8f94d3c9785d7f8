import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import Database from 'better-sqlite3';
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
  SCHEMA_MIGRATIONS_TABLE,
  SQLITE_MIGRATIONS,
  SQLITE_STATEMENTS,
  type SqliteMigration,
} from './migrations.js';
import {
  type EventRow,
  type LedgerRow,
  type OutboxRow,
  toEvent,
  toKey,
  toLedgerEntry,
  toOutboxEntry,
} from '../rows.js';

import { DEFAULT_SQLITE_PATH } from '../open.js';

export interface SqliteStoreOptions {
  /** The database file (its directory is created), or `:memory:`. Default `./data/graft.db`. */
  path?: string;
  /** How long a write waits for another connection's write lock before failing. Default 5 s. */
  busyTimeoutMs?: number;
  /** The schema steps to apply; tests pass a prefix to check upgrades. Default: all of them. */
  migrations?: readonly SqliteMigration[];
}

type Statements = { [K in keyof typeof SQLITE_STATEMENTS]: Database.Statement };

/**
 * The embedded, durable event store: one SQLite file in WAL mode, written by one process.
 *
 * Every append is one `BEGIN IMMEDIATE` transaction that checks the conversation's `last_seq`
 * (the fence), writes the events and their projections (message ids, effect ledger, outbox)
 * and commits with `synchronous = FULL`: a message is acknowledged only once it is on disk,
 * and a crash (or power loss) can never keep a ledger or outbox row without its event.
 *
 * @example
 * const store = new SqliteStore({ path: './data/graft.db' });
 * await store.append({ tenantId: 't', conversationId: 'c' }, 0, events);
 * store.database.exec('CREATE TABLE IF NOT EXISTS shop_orders (…)'); // the app's own tables
 */
export class SqliteStore implements EventStore {
  /** Which adapter this is (see `openStore`). */
  readonly kind = 'sqlite' as const;
  /** The better-sqlite3 handle, so that an application can keep its own tables in the same file. */
  readonly database: Database.Database;
  /** The database file (or `:memory:`). */
  readonly path: string;
  private readonly statements: Statements;
  private readonly listeners = new Set<(key: ConversationKey, seq: number) => void>();
  private readonly appendTx: Database.Transaction<
    (
      key: ConversationKey,
      expectedSeq: number,
      events: readonly GraftEvent[],
      options: AppendOptions,
    ) => number
  >;

  constructor(options: SqliteStoreOptions = {}) {
    this.path = options.path ?? DEFAULT_SQLITE_PATH;
    if (this.path !== ':memory:' && !this.path.startsWith('file:'))
      mkdirSync(dirname(this.path), { recursive: true });
    this.database = new Database(this.path);
    try {
      this.configure(options.busyTimeoutMs ?? 5_000);
      migrate(this.database, options.migrations ?? SQLITE_MIGRATIONS);
    } catch (error) {
      this.database.close();
      throw error;
    }
    this.statements = Object.fromEntries(
      Object.entries(SQLITE_STATEMENTS).map(([name, sql]) => [name, this.database.prepare(sql)]),
    ) as Statements;
    this.appendTx = this.database.transaction((key, expectedSeq, events, appendOptions) =>
      this.appendInTx(key, expectedSeq, events, appendOptions),
    );
  }

  private configure(busyTimeoutMs: number): void {
    // WAL lets readers go on while one writer commits. synchronous = FULL makes each commit
    // durable against power loss too (NORMAL in WAL mode survives a process crash but may lose
    // the last commits on power loss, and an acknowledged message must never be lost).
    this.database.pragma('journal_mode = WAL');
    this.database.pragma('synchronous = FULL');
    this.database.pragma(`busy_timeout = ${Math.max(0, Math.floor(busyTimeoutMs))}`);
    this.database.pragma('foreign_keys = ON');
  }

  append(
    key: ConversationKey,
    expectedSeq: number,
    events: readonly GraftEvent[],
    options: AppendOptions = {},
  ): Promise<void> {
    let seq: number;
    try {
      // `.immediate` takes the write lock at BEGIN, so the fence check and the writes see one state.
      seq = this.appendTx.immediate(key, expectedSeq, events, options);
    } catch (error) {
      return Promise.reject(classify(error));
    }
    // Committed: tell in-process watchers (SQLite has one writer process, so that is everyone).
    if (events.length > 0) {
      const copy = { ...key };
      for (const listener of this.listeners) queueMicrotask(() => listener(copy, seq));
    }
    return Promise.resolve();
  }

  /** Runs inside the write transaction: any throw rolls everything back. Returns the new last seq. */
  private appendInTx(
    key: ConversationKey,
    expectedSeq: number,
    events: readonly GraftEvent[],
    options: AppendOptions,
  ): number {
    const s = this.statements;
    const where = { tenant: key.tenantId, conversation: key.conversationId };
    const row = s.lastSeq.get(where) as { last_seq: number } | undefined;
    const actualSeq = row?.last_seq ?? 0;
    if (actualSeq !== expectedSeq) throw new ConflictError(key, expectedSeq, actualSeq);
    events.forEach((event, i) =>
      invariant(event.seq === expectedSeq + i + 1, `event seq ${event.seq} is not ${expectedSeq + i + 1}`),
    );
    const lastSeq = expectedSeq + events.length;
    if (events.length === 0 && !row) return lastSeq; // Nothing to write for a conversation that has no log.

    const unfinished = options.unfinished === undefined ? null : options.unfinished ? 1 : 0;
    const updatedAt = events.at(-1)?.at ?? null;
    if (row) {
      const changed = s.advanceConversation.run({
        ...where,
        lastSeq,
        unfinished,
        updatedAt,
        expectedSeq,
      }).changes;
      invariant(changed === 1, 'the conversation row moved inside the write transaction');
    } else {
      s.insertConversation.run({ ...where, lastSeq, unfinished: unfinished ?? 0, updatedAt: updatedAt ?? 0 });
    }
    for (const event of events) {
      s.insertEvent.run({
        ...where,
        seq: event.seq,
        type: event.type,
        at: event.at,
        body: JSON.stringify(event),
      });
    }
    for (const op of projectionOps(key, events)) this.project(key, op);
    return lastSeq;
  }

  private project(key: ConversationKey, op: ProjectionOp): void {
    const s = this.statements;
    const where = { tenant: key.tenantId, conversation: key.conversationId };
    switch (op.op) {
      case 'message':
        if (s.insertMessage.run({ ...where, messageId: op.messageId }).changes === 0)
          throw new DuplicateMessageError(key, op.messageId);
        return;
      case 'ledger-start': {
        const params = {
          ...where,
          idempotencyKey: op.idempotencyKey,
          requestHash: op.requestHash,
          effectId: op.effectId,
          tool: op.tool,
        };
        if (s.ledgerStart.run(params).changes === 0)
          throw new IdempotencyConflictError(key, op.idempotencyKey);
        return;
      }
      case 'ledger-status':
        s.ledgerStatus.run({
          ...where,
          effectId: op.effectId,
          status: op.status,
          output: op.output === null ? null : JSON.stringify(op.output),
        });
        return;
      case 'outbox-add':
        s.outboxAdd.run({
          ...where,
          replyId: op.replyId,
          deliveryId: op.deliveryId,
          text: JSON.stringify(op.text),
          covers: JSON.stringify(op.covers),
          kind: op.kind,
          committedAt: op.committedAt,
        });
        return;
      case 'outbox-delivered':
        s.outboxDelivered.run({ ...where, replyId: op.replyId, deliveredAt: op.deliveredAt });
        return;
    }
  }

  read(key: ConversationKey, afterSeq: number): Promise<GraftEvent[]> {
    try {
      const rows = this.statements.readEvents.all({
        tenant: key.tenantId,
        conversation: key.conversationId,
        afterSeq,
      }) as EventRow[];
      return Promise.resolve(rows.map((row, i) => toEvent(key, row, afterSeq + i + 1)));
    } catch (error) {
      return Promise.reject(error instanceof Error ? error : new Error(String(error)));
    }
  }

  conversations(
    options: { tenantId?: string; afterConversationId?: string; limit?: number } = {},
  ): Promise<ConversationKey[]> {
    const rows = this.statements.conversations.all({
      tenant: options.tenantId ?? null,
      after: options.afterConversationId ?? null,
      limit: options.limit ?? -1,
    });
    return Promise.resolve((rows as { tenant: string; conversation: string }[]).map(toKey));
  }

  unfinished(): Promise<ConversationKey[]> {
    return Promise.resolve(
      (this.statements.unfinished.all() as { tenant: string; conversation: string }[]).map(toKey),
    );
  }

  ledger(key: ConversationKey, idempotencyKey: string): Promise<LedgerEntry | null> {
    const row = this.statements.ledgerGet.get({
      tenant: key.tenantId,
      conversation: key.conversationId,
      idempotencyKey,
    }) as LedgerRow | undefined;
    return Promise.resolve(row ? toLedgerEntry(row) : null);
  }

  outbox(options: { all?: boolean; limit?: number } = {}): Promise<OutboxEntry[]> {
    const statement = options.all === true ? this.statements.outboxAll : this.statements.outboxUndelivered;
    return Promise.resolve((statement.all({ limit: options.limit ?? -1 }) as OutboxRow[]).map(toOutboxEntry));
  }

  watch(listener: (key: ConversationKey, seq: number) => void): Promise<() => Promise<void>> {
    this.listeners.add(listener);
    return Promise.resolve(() => {
      this.listeners.delete(listener);
      return Promise.resolve();
    });
  }

  /** Closes the file (idempotent). */
  close(): Promise<void> {
    this.listeners.clear();
    if (this.database.open) this.database.close();
    return Promise.resolve();
  }
}

/**
 * Brings the schema up to date: applies, in one write transaction, every migration newer than
 * the file's, and refuses a file written by a newer graft (whose schema this one cannot know).
 */
export function migrate(
  database: Database.Database,
  migrations: readonly SqliteMigration[] = SQLITE_MIGRATIONS,
): number[] {
  migrations.forEach((m, i) =>
    invariant(m.version === i + 1, `SQLite migration ${i} has version ${m.version}, expected ${i + 1}`),
  );
  const run = database.transaction(() => {
    database.exec(SCHEMA_MIGRATIONS_TABLE);
    const applied = (
      database.prepare(SQLITE_STATEMENTS.migrationVersions).all() as { version: number }[]
    ).map((r) => r.version);
    const newest = applied.at(-1) ?? 0;
    if (newest > migrations.length) {
      throw new Error(
        `the SQLite database is at schema version ${newest}, newer than this graft knows (${migrations.length}): upgrade graft`,
      );
    }
    const record = database.prepare(SQLITE_STATEMENTS.recordMigration);
    const done: number[] = [];
    for (const migration of migrations.slice(newest)) {
      database.exec(migration.sql);
      record.run({ version: migration.version, name: migration.name, appliedAt: new Date().toISOString() });
      done.push(migration.version);
    }
    return done;
  });
  return run.immediate();
}

/**
 * Another connection held the write lock past the busy timeout: nothing was written, and the same
 * append may succeed later. Everything else is passed on as it is.
 */
function classify(error: unknown): Error {
  const code = (error as { code?: unknown } | null)?.code;
  if (typeof code === 'string' && (code.startsWith('SQLITE_BUSY') || code.startsWith('SQLITE_LOCKED'))) {
    return Object.assign(new RetryableError(`SQLite: ${(error as Error).message}`, null, code), {
      cause: error,
    });
  }
  return error instanceof Error ? error : new Error(String(error));
}
