import type BetterSqlite3 from 'better-sqlite3';
import type { Sql } from 'postgres';
import { openStore } from '../store/index.js';
import type { KeyStore } from './keys/key-store.js';
import { MemoryKeyStore } from './keys/key-store.js';
import { PostgresKeyStore } from './keys/postgres-key-store.js';
import { SqliteKeyStore } from './keys/sqlite-key-store.js';
import type { ServiceStore } from './open-store.js';

/**
 * A service store with its driver's handle, for graft's own CLI (the demo keeps its shop's tables
 * beside the events). Not part of `graft/service`, whose types name no database driver.
 */
export interface ServiceStoreWithHandles extends ServiceStore {
  /** The SQLite connection (better-sqlite3). */
  database: BetterSqlite3.Database | null;
  /** The PostgreSQL connection pool (postgres.js). */
  sql: Sql | null;
}

/** Opens a store and, in the same database, the key store (see `openServiceStore`). */
export async function openServiceStoreWithHandles(spec: string): Promise<ServiceStoreWithHandles> {
  const store = await openStore(spec);
  try {
    const database = store.kind === 'sqlite' ? store.database : null;
    const sql = store.kind === 'postgres' ? store.sql : null;
    const keys = await keyStoreFor({ database, sql });
    return { kind: store.kind, store, keys, database, sql, close: () => store.close() };
  } catch (error) {
    await store.close();
    throw error;
  }
}

/** The key store kept in a store's own database. */
async function keyStoreFor(opened: {
  database: BetterSqlite3.Database | null;
  sql: Sql | null;
}): Promise<KeyStore> {
  if (opened.database) return new SqliteKeyStore(opened.database);
  if (opened.sql) return PostgresKeyStore.open(opened.sql);
  return new MemoryKeyStore();
}
