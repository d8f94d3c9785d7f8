import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, describe, expect, it } from 'vitest';
import { RetryableError } from '../../src/core/errors.js';
import type { EventBody } from '../../src/core/events.js';
import { ConflictError, conversationKey } from '../../src/core/ports.js';
import { DEFAULT_STORE_SPEC, openStore, parseStoreSpec } from '../../src/store/index.js';
import { SQLITE_MIGRATIONS } from '../../src/store/sqlite/migrations.js';
import { migrate, SqliteStore } from '../../src/store/sqlite/sqlite-store.js';
import { describeEventStore, stamp } from './event-store-contract.js';

const dir = mkdtempSync(join(tmpdir(), 'graft-sqlite-'));
let n = 0;
const freshPath = () => join(dir, `store-${++n}.db`);
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describeEventStore('sqlite', () => Promise.resolve(new SqliteStore({ path: freshPath() })));
describeEventStore('sqlite (:memory:)', () => Promise.resolve(new SqliteStore({ path: ':memory:' })));

const key = conversationKey('t1', 'c1');
const message = (id: string): EventBody => ({ type: 'message.received', messageId: id as never, text: id });

describe('SqliteStore', () => {
  it('keeps everything across a close and a reopen of the file', async () => {
    const path = freshPath();
    const first = new SqliteStore({ path });
    const reply: EventBody = {
      type: 'reply.committed',
      attemptId: null,
      replyId: 'rep_1' as never,
      text: 'hi',
      covers: ['m1' as never],
      callId: null,
      kind: 'reply',
      needsHuman: false,
    };
    await first.append(key, 0, stamp(0, [message('m1'), reply]), { unfinished: true });
    await first.close();
    await first.close(); // Closing twice is harmless.

    const second = new SqliteStore({ path });
    expect((await second.read(key, 0)).map((e) => e.type)).toEqual(['message.received', 'reply.committed']);
    expect(await second.unfinished()).toEqual([key]);
    expect((await second.outbox()).map((r) => r.replyId)).toEqual(['rep_1']);
    await expect(second.append(key, 0, stamp(0, [message('m2')]))).rejects.toBeInstanceOf(ConflictError);
    await second.append(key, 2, stamp(2, [message('m2')]));
    expect(second.database.prepare('SELECT version FROM schema_migrations').all()).toEqual([
      { version: 1 },
      { version: 2 },
    ]);
    await second.close();
  });

  it('runs in WAL mode with synchronous = FULL and a busy timeout', async () => {
    const store = new SqliteStore({ path: freshPath(), busyTimeoutMs: 1_234 });
    expect(store.database.pragma('journal_mode', { simple: true })).toBe('wal');
    expect(store.database.pragma('synchronous', { simple: true })).toBe(2);
    expect(store.database.pragma('busy_timeout', { simple: true })).toBe(1_234);
    await store.close();
  });

  it('fences appends between two connections to the same file', async () => {
    const path = freshPath();
    const [a, b] = [new SqliteStore({ path }), new SqliteStore({ path })];
    await a.append(key, 0, stamp(0, [message('m1')]));
    await expect(b.append(key, 0, stamp(0, [message('m2')]))).rejects.toBeInstanceOf(ConflictError);
    await b.append(key, 1, stamp(1, [message('m2')]));
    expect(await a.read(key, 0)).toHaveLength(2);
    await Promise.all([a.close(), b.close()]);
  });

  it('fails an append that cannot get the write lock in time with a RetryableError, writing nothing', async () => {
    const path = freshPath();
    const store = new SqliteStore({ path, busyTimeoutMs: 50 });
    const other = new Database(path);
    other.exec('BEGIN IMMEDIATE');
    await expect(store.append(key, 0, stamp(0, [message('m1')]))).rejects.toBeInstanceOf(RetryableError);
    other.exec('ROLLBACK');
    other.close();
    await store.append(key, 0, stamp(0, [message('m1')]));
    expect(await store.read(key, 0)).toHaveLength(1);
    await store.close();
  });

  it('lets the application keep its own tables in the same file', async () => {
    const path = freshPath();
    const store = new SqliteStore({ path });
    store.database.exec('CREATE TABLE shop_orders (id INTEGER PRIMARY KEY, item TEXT NOT NULL)');
    store.database.prepare('INSERT INTO shop_orders (item) VALUES (?)').run('cola');
    await store.close();
    const reopened = new SqliteStore({ path });
    expect(reopened.database.prepare('SELECT item FROM shop_orders').all()).toEqual([{ item: 'cola' }]);
    await reopened.close();
  });

  it('migrates a version 1 file to version 2 keeping its outbox rows, in their order', async () => {
    const path = freshPath();
    const raw = new Database(path);
    migrate(raw, SQLITE_MIGRATIONS.slice(0, 1));
    const row = raw.prepare(
      `INSERT INTO outbox (tenant, conversation, reply_id, delivery_id, text, covers, kind, committed_at, delivered_at)
       VALUES ('t1', 'c1', ?, ?, '"hi"', '["m1"]', 'reply', 5, NULL)`,
    );
    row.run('rep_2', 't1:c1:rep_2');
    row.run('rep_1', 't1:c1:rep_1');
    expect(() =>
      raw
        .prepare(
          `INSERT INTO outbox (tenant, conversation, reply_id, delivery_id, text, covers, kind, committed_at) VALUES ('t1', 'c1', 'rep_9', 'd9', '"x"', '[]', 'operator', 5)`,
        )
        .run(),
    ).toThrow(/CHECK constraint/);
    raw.close();
    const store = new SqliteStore({ path });
    expect((await store.outbox()).map((r) => r.replyId)).toEqual(['rep_2', 'rep_1']);
    store.database
      .prepare(
        `INSERT INTO outbox (tenant, conversation, reply_id, delivery_id, text, covers, kind, committed_at) VALUES ('t1', 'c1', 'rep_9', 'd9', '"x"', '[]', 'operator', 6)`,
      )
      .run();
    expect((await store.outbox()).map((r) => r.kind)).toEqual(['reply', 'reply', 'operator']);
    await store.close();
  });

  it('applies migrations once, in order, and refuses a file from a newer graft', () => {
    const database = new Database(':memory:');
    expect(migrate(database, [])).toEqual([]);
    expect(migrate(database, SQLITE_MIGRATIONS)).toEqual([1, 2]);
    expect(migrate(database, SQLITE_MIGRATIONS)).toEqual([]);
    database
      .prepare('INSERT INTO schema_migrations (version, name, applied_at) VALUES (99, ?, ?)')
      .run('future', 'now');
    expect(() => migrate(database, SQLITE_MIGRATIONS)).toThrow(/newer than this graft knows/);
    database.close();
    const path = freshPath();
    const raw = new Database(path);
    migrate(raw);
    raw
      .prepare('INSERT INTO schema_migrations (version, name, applied_at) VALUES (3, ?, ?)')
      .run('future', 'now');
    raw.close();
    expect(() => new SqliteStore({ path })).toThrow(/upgrade graft/);
  });
});

describe('openStore', () => {
  it('opens memory and sqlite stores from a spec, creating the directory of the file', async () => {
    const memory = await openStore('memory');
    expect(memory.kind).toBe('memory');
    await memory.close();
    const path = join(dir, 'nested', 'deeper', 'graft.db');
    const sqlite = await openStore(`sqlite:${path}`);
    expect(sqlite.kind).toBe('sqlite');
    expect(existsSync(path)).toBe(true);
    if (sqlite.kind === 'sqlite') expect(sqlite.database.open).toBe(true);
    await sqlite.close();
  });

  it('reads GRAFT_DATABASE_URL when given no spec, else defaults to ./data/graft.db', async () => {
    const store = await openStore(undefined, { env: { GRAFT_DATABASE_URL: 'sqlite::memory:' } });
    expect(store.kind).toBe('sqlite');
    if (store.kind === 'sqlite') expect(store.path).toBe(':memory:');
    await store.close();
    expect(DEFAULT_STORE_SPEC).toBe('sqlite:./data/graft.db');
    expect(parseStoreSpec(DEFAULT_STORE_SPEC)).toEqual({ kind: 'sqlite', path: './data/graft.db' });
    expect(parseStoreSpec('sqlite:')).toEqual({ kind: 'sqlite', path: './data/graft.db' });
    expect(parseStoreSpec('postgresql://u@h:5432/db')).toEqual({
      kind: 'postgres',
      url: 'postgresql://u@h:5432/db',
    });
  });

  it('explains a bad spec, without printing a password', () => {
    expect(() => parseStoreSpec('mysql://root:secret@host/db')).toThrow(
      /unknown store spec "mysql:\/\/root:\*\*\*@host\/db": use memory, sqlite:PATH or postgres:/,
    );
    expect(() => parseStoreSpec('./data/graft.db')).toThrow(TypeError);
    expect(() => parseStoreSpec('')).toThrow(/unknown store spec/);
    expect(() => parseStoreSpec('postgres://u:pw@[bad')).toThrow(
      /bad PostgreSQL URL in store spec "postgres:\/\/u:\*\*\*@\[bad"/,
    );
  });
});
