import { randomBytes } from 'node:crypto';
import type { Sql } from 'postgres';
import postgres from 'postgres';

/** The PostgreSQL server the tests use: `GRAFT_TEST_POSTGRES_URL`, else the local one. */
export const TEST_POSTGRES_URL =
  process.env.GRAFT_TEST_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

/** Whether the test server answers (the suites that need it are skipped when it does not). */
export async function postgresAvailable(): Promise<boolean> {
  const sql = postgres(TEST_POSTGRES_URL, { connect_timeout: 2, max: 1, onnotice: () => undefined });
  try {
    await sql`SELECT 1`;
    return true;
  } catch {
    return false;
  } finally {
    await sql.end({ timeout: 1 });
  }
}

/**
 * A fresh schema of its own on the test server, so that suites never see each other's tables;
 * `connect()` opens another connection pool on it (another "instance"). `drop()` removes it all.
 */
export async function postgresSchema(): Promise<{ sql: Sql; connect: () => Sql; drop: () => Promise<void> }> {
  const schema = `graft_test_${randomBytes(6).toString('hex')}`;
  const admin = postgres(TEST_POSTGRES_URL, { max: 1, onnotice: () => undefined });
  await admin.unsafe(`CREATE SCHEMA ${schema}`);
  const pools: Sql[] = [];
  const connect = () => {
    const sql = postgres(TEST_POSTGRES_URL, {
      max: 4,
      onnotice: () => undefined,
      connection: { search_path: schema },
    });
    pools.push(sql);
    return sql;
  };
  const sql = connect();
  return {
    sql,
    connect,
    drop: async () => {
      await Promise.all(pools.map((p) => p.end({ timeout: 1 })));
      await admin.unsafe(`DROP SCHEMA ${schema} CASCADE`);
      await admin.end({ timeout: 1 });
    },
  };
}
