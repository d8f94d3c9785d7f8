import { randomBytes } from 'node:crypto';
import postgres from 'postgres';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { RetryableError } from '../../src/core/errors.js';
import type { EventBody } from '../../src/core/events.js';
import { ConflictError, conversationKey, type ConversationKey } from '../../src/core/ports.js';
import { openStore } from '../../src/store/index.js';
import { POSTGRES_MIGRATIONS } from '../../src/store/postgres/migrations.js';
import { PostgresStore, type PostgresStoreOptions } from '../../src/store/postgres/postgres-store.js';
import { describeEventStore, stamp } from './event-store-contract.js';
import { describePostgres, hasPostgres, TEST_POSTGRES_URL } from '../postgres.js';

if (hasPostgres) describePostgresStore(TEST_POSTGRES_URL);
else describePostgres('EventStore contract: postgres', () => it('needs PostgreSQL', () => {}));

function describePostgresStore(url: string): void {
  // Every store of this run gets a schema of its own under one random prefix; all are dropped.
  const run = `graft_test_${randomBytes(4).toString('hex')}`;
  const admin = postgres(url, { max: 2, onnotice: () => {} });
  let n = 0;
  const freshSchema = () => `${run}_${++n}`;
  const open = (schema: string, options: Partial<PostgresStoreOptions> = {}) =>
    PostgresStore.open({ url, schema, max: 4, ...options });
  afterAll(async () => {
    const schemas = await admin<
      { name: string }[]
    >`SELECT nspname AS name FROM pg_namespace WHERE starts_with(nspname, ${run})`;
    for (const { name } of schemas) await admin.unsafe(`DROP SCHEMA IF EXISTS "${name}" CASCADE`);
    await admin.end({ timeout: 5 });
  });

  describeEventStore('postgres', async () => {
    const schema = freshSchema();
    const store = await open(schema);
    const close = store.close.bind(store);
    return Object.assign(store, {
      close: async () => {
        await close();
        await admin.unsafe(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
      },
    });
  });

  const key: ConversationKey = conversationKey('t1', 'c1');
  const message = (id: string): EventBody => ({ type: 'message.received', messageId: id as never, text: id });

  describe('PostgresStore', () => {
    it('migrates once when several instances start together, and keeps the log across pools', async () => {
      const schema = freshSchema();
      const stores = await Promise.all(Array.from({ length: 4 }, () => open(schema, { max: 1 })));
      expect(await admin.unsafe(`SELECT version FROM "${schema}".schema_migrations`)).toEqual([
        { version: 1 },
        { version: 2 },
      ]);
      await stores[0]!.append(key, 0, stamp(0, [message('m1')]));
      await Promise.all(stores.map((s) => s.close()));
      const reopened = await open(schema);
      expect(await reopened.read(key, 0)).toHaveLength(1);
      await reopened.close();
    });

    it('refuses a schema written by a newer graft', async () => {
      const schema = freshSchema();
      await (await open(schema)).close();
      await admin.unsafe(
        `INSERT INTO "${schema}".schema_migrations (version, name) VALUES (${POSTGRES_MIGRATIONS.length + 1}, 'future')`,
      );
      await expect(open(schema)).rejects.toThrow(/newer than this graft knows/);
    });

    it('fences racing appends from separate pools (instances): one wins per seq', async () => {
      const schema = freshSchema();
      const [a, b] = await Promise.all([open(schema), open(schema)]);
      const keys = Array.from({ length: 5 }, (_, i) => conversationKey('t1', `c${i}`));
      for (let seq = 0; seq < 3; seq++) {
        const results = await Promise.allSettled(
          keys.flatMap((k) =>
            [a, b, a, b].map((s, j) => s.append(k, seq, stamp(seq, [message(`m${seq}_${j}`)]))),
          ),
        );
        expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(keys.length);
        expect(results.every((r) => r.status === 'fulfilled' || r.reason instanceof ConflictError)).toBe(
          true,
        );
      }
      for (const k of keys) expect((await b.read(k, 0)).map((e) => e.seq)).toEqual([1, 2, 3]);
      await Promise.all([a.close(), b.close()]);
    });

    it('wakes watchers in other instances with NOTIFY, only for its own schema, and not when notify is off', async () => {
      const schema = freshSchema();
      const [watcher, writer, quiet, other] = await Promise.all([
        open(schema),
        open(schema),
        open(schema, { notify: false }),
        open(freshSchema()),
      ]);
      const seen: string[] = [];
      const stop = await watcher.watch((k, seq) => seen.push(`${k.conversationId}@${seq}`));
      await other.append(key, 0, stamp(0, [message('m1')]));
      await quiet.append(conversationKey('t1', 'quiet'), 0, stamp(0, [message('m1')]));
      await writer.append(key, 0, stamp(0, [message('m1'), message('m2')]));
      await vi.waitFor(() => expect(seen).toEqual(['c1@2']), { timeout: 5_000 });
      await stop();
      await Promise.all([watcher, writer, quiet, other].map((s) => s.close()));
    });

    it('listens again after its LISTEN connection is killed', async () => {
      const schema = freshSchema();
      const applicationName = `${schema}_watcher`;
      const [watcher, writer] = await Promise.all([open(schema, { applicationName }), open(schema)]);
      const seen: number[] = [];
      await watcher.watch((_k, seq) => seen.push(seq));
      const killed =
        await admin`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE query ILIKE 'listen%' AND application_name = ${applicationName}`;
      expect(killed).toHaveLength(1);
      let seq = 0;
      // Notifications sent while it reconnects are lost (polling makes up for them): keep appending.
      await vi.waitFor(
        async () => {
          await writer.append(key, seq, stamp(seq, [message(`m${seq}`)]));
          seq++;
          await new Promise((resolve) => setTimeout(resolve, 50));
          expect(seen.length).toBeGreaterThan(0);
        },
        { timeout: 10_000, interval: 100 },
      );
      await Promise.all([watcher.close(), writer.close()]);
    });

    it('sets connection, statement, lock and idle-in-transaction timeouts', async () => {
      const store = await open(freshSchema(), {
        statementTimeoutMs: 12_000,
        lockTimeoutMs: 3_000,
        idleInTransactionTimeoutMs: 45_000,
      });
      const [row] =
        await store.sql`SELECT current_setting('statement_timeout') AS st, current_setting('lock_timeout') AS lt, current_setting('idle_in_transaction_session_timeout') AS it`;
      expect(row).toEqual({ st: '12s', lt: '3s', it: '45s' });
      await store.close();
    });

    it('fails an append that waits too long for a lock with a RetryableError, and recovers', async () => {
      const schema = freshSchema();
      const store = await open(schema, { lockTimeoutMs: 200 });
      await store.append(key, 0, stamp(0, [message('m1')]));
      let release: () => void = () => {};
      const held = new Promise<void>((resolve) => (release = resolve));
      let locked: () => void = () => {};
      const isLocked = new Promise<void>((resolve) => (locked = resolve));
      const holder = admin.begin(async (tx) => {
        await tx.unsafe(`SELECT * FROM "${schema}".conversations FOR UPDATE`);
        locked();
        await held;
      });
      await isLocked;
      await expect(store.append(key, 1, stamp(1, [message('m2')]))).rejects.toBeInstanceOf(RetryableError);
      release();
      await holder;
      await store.append(key, 1, stamp(1, [message('m2')]));
      expect(await store.read(key, 0)).toHaveLength(2);
      await store.close();
    });

    it('is what openStore opens for a postgres:// spec, with the sql handle for the app', async () => {
      const store = await openStore(url, { schema: freshSchema(), max: 2 });
      expect(store.kind).toBe('postgres');
      if (store.kind === 'postgres') expect(await store.sql`SELECT 1 AS one`).toEqual([{ one: 1 }]);
      await store.close();
    });

    it('refuses a schema name that is not a plain identifier', async () => {
      await expect(open('x"; DROP TABLE y; --')).rejects.toThrow(/bad PostgreSQL schema name/);
    });
  });
}
