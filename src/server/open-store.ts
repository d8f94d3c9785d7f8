import type BetterSqlite3 from 'better-sqlite3';
import type { Sql } from 'postgres';
import type { EventStore } from '../core/ports.js';
import { DEFAULT_STORE_SPEC, openStore } from '../store/index.js';
import type { KeyStore } from './keys/key-store.js';
import { MemoryKeyStore } from './keys/key-store.js';
import { PostgresKeyStore } from './keys/postgres-key-store.js';
import { SqliteKeyStore } from './keys/sqlite-key-store.js';

/** The store a service runs on, with the key store in the same database. */
export interface ServiceStore {
  kind: 'memory' | 'sqlite' | 'postgres';
  store: EventStore;
  keys: KeyStore;
  /** The SQLite connection (better-sqlite3), for adapters keeping tables beside the events. */
  database: BetterSqlite3.Database | null;
  /** The PostgreSQL connection pool (postgres.js). */
  sql: Sql | null;
  close(): Promise<void>;
}

export const DEFAULT_STORE = DEFAULT_STORE_SPEC;

/** The store spec from the environment: `GRAFT_STORE`, else `GRAFT_DATABASE_URL`, else the default. */
export function storeSpecFromEnv(env: Record<string, string | undefined> = process.env): string {
  return env.GRAFT_STORE || env.GRAFT_DATABASE_URL || DEFAULT_STORE;
}

/**
 * Opens graft's store from a spec — `memory`, `sqlite:PATH`, `postgres://…` — with the key store
 * in the same database (tables of its own). This is the one place the service and the CLI open a
 * store; a SQLite file's directory is created by the store.
 */
export async function openServiceStore(spec: string): Promise<ServiceStore> {
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
export async function keyStoreFor(opened: {
  database?: BetterSqlite3.Database | null;
  sql?: Sql | null;
}): Promise<KeyStore> {
  if (opened.database) return new SqliteKeyStore(opened.database);
  if (opened.sql) return PostgresKeyStore.open(opened.sql);
  return new MemoryKeyStore();
}
