import { randomBytes } from 'node:crypto';
import type { Sql } from 'postgres';
import postgres from 'postgres';

import { describe } from 'vitest';

/** The PostgreSQL server the tests use: `GRAFT_TEST_PG_URL`, else the machine's local one. */
export const TEST_POSTGRES_URL = process.env.GRAFT_TEST_PG_URL || 'postgres://postgres@127.0.0.1:5432/test';

/**
 * Whether the PostgreSQL suites run. Outside CI they are skipped, with a notice, when the server
 * does not answer. Under CI (`CI=true`) they always run, so a server that is down fails the run
 * instead of skipping the tests silently.
 */
export const hasPostgres: boolean = process.env.CI === 'true' || (await postgresAvailable());

/** `describe` for a suite that needs PostgreSQL (see `hasPostgres`). */
export function describePostgres(name: string, suite: () => void): void {
  if (hasPostgres) {
    describe(name, suite);
    return;
  }
  console.log(
    `PostgreSQL tests skipped (${name}): nothing answers at ${TEST_POSTGRES_URL}; set GRAFT_TEST_PG_URL.`,
  );
  describe.skip(name, suite);
}

/** Whether the test server answers. */
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
