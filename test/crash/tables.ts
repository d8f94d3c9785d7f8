import type { OpenedStore } from '../../src/store/index.js';

/**
 * The crash tests' own tables beside graft's: every write invocation (logged before the shop
 * writes, so a re-run shows even when the shop's unique key hides it) and every delivery.
 */
export interface TestTables {
  invoked(conversationId: string, tool: string, key: string, instance: string): Promise<void>;
  delivered(
    conversationId: string,
    replyId: string,
    deliveryId: string,
    text: string,
    instance: string,
  ): Promise<void>;
  invocations(): Promise<{ conversationId: string; tool: string; key: string }[]>;
  deliveries(): Promise<{ conversationId: string; replyId: string; deliveryId: string }[]>;
}

export async function testTables(store: OpenedStore): Promise<TestTables> {
  if (store.kind === 'sqlite') {
    const db = store.database;
    db.exec(`CREATE TABLE IF NOT EXISTS test_invocations (n INTEGER PRIMARY KEY, conversation_id TEXT, tool TEXT, key TEXT, instance TEXT);
             CREATE TABLE IF NOT EXISTS test_deliveries (n INTEGER PRIMARY KEY, conversation_id TEXT, reply_id TEXT, delivery_id TEXT, text TEXT, instance TEXT);`);
    return {
      invoked: (c, tool, key, instance) => {
        db.prepare(
          'INSERT INTO test_invocations (conversation_id, tool, key, instance) VALUES (?, ?, ?, ?)',
        ).run(c, tool, key, instance);
        return Promise.resolve();
      },
      delivered: (c, replyId, deliveryId, text, instance) => {
        db.prepare(
          'INSERT INTO test_deliveries (conversation_id, reply_id, delivery_id, text, instance) VALUES (?, ?, ?, ?, ?)',
        ).run(c, replyId, deliveryId, text, instance);
        return Promise.resolve();
      },
      invocations: () =>
        Promise.resolve(
          db
            .prepare('SELECT conversation_id AS conversationId, tool, key FROM test_invocations ORDER BY n')
            .all() as never,
        ),
      deliveries: () =>
        Promise.resolve(
          db
            .prepare(
              'SELECT conversation_id AS conversationId, reply_id AS replyId, delivery_id AS deliveryId FROM test_deliveries ORDER BY n',
            )
            .all() as never,
        ),
    };
  }
  if (store.kind !== 'postgres') throw new Error('the crash tests need SQLite or PostgreSQL');
  const sql = store.sql;
  await sql`CREATE TABLE IF NOT EXISTS test_invocations (n SERIAL PRIMARY KEY, conversation_id TEXT, tool TEXT, key TEXT, instance TEXT)`;
  await sql`CREATE TABLE IF NOT EXISTS test_deliveries (n SERIAL PRIMARY KEY, conversation_id TEXT, reply_id TEXT, delivery_id TEXT, text TEXT, instance TEXT)`;
  return {
    invoked: async (c, tool, key, instance) => {
      await sql`INSERT INTO test_invocations (conversation_id, tool, key, instance) VALUES (${c}, ${tool}, ${key}, ${instance})`;
    },
    delivered: async (c, replyId, deliveryId, text, instance) => {
      await sql`INSERT INTO test_deliveries (conversation_id, reply_id, delivery_id, text, instance) VALUES (${c}, ${replyId}, ${deliveryId}, ${text}, ${instance})`;
    },
    invocations: async () =>
      await sql`SELECT conversation_id AS "conversationId", tool, key FROM test_invocations ORDER BY n`,
    deliveries: async () =>
      await sql`SELECT conversation_id AS "conversationId", reply_id AS "replyId", delivery_id AS "deliveryId" FROM test_deliveries ORDER BY n`,
  };
}
