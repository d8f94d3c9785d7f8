import { MemoryStore } from './memory/memory-store.js';
import { PostgresStore, type PostgresStoreOptions } from './postgres/postgres-store.js';
import { DEFAULT_SQLITE_PATH, SqliteStore, type SqliteStoreOptions } from './sqlite/sqlite-store.js';

export { MemoryStore } from './memory/memory-store.js';
export { PostgresStore, migratePostgres, type PostgresStoreOptions, type Sql } from './postgres/postgres-store.js';
export { DEFAULT_SQLITE_PATH, SqliteStore, migrate as migrateSqlite, type SqliteStoreOptions } from './sqlite/sqlite-store.js';

/** The spec `openStore` uses when it is given none and `GRAFT_DATABASE_URL` is not set. */
export const DEFAULT_STORE_SPEC = `sqlite:${DEFAULT_SQLITE_PATH}`;

/** The in-memory store, tagged like the durable ones. */
export type TaggedMemoryStore = MemoryStore & { readonly kind: 'memory' };

/** What `openStore` returns: narrow on `kind` to reach `database` (SQLite) or `sql` (PostgreSQL). */
export type OpenedStore = TaggedMemoryStore | SqliteStore | PostgresStore;

/** Adapter settings for `openStore`; each adapter takes the ones it knows. */
export interface OpenStoreOptions {
  /** SQLite: how long a write waits for the file's write lock. */
  busyTimeoutMs?: SqliteStoreOptions['busyTimeoutMs'];
  /** PostgreSQL: the schema of graft's tables (default `graft`). */
  schema?: PostgresStoreOptions['schema'];
  /** PostgreSQL: announce appends with NOTIFY (default true). */
  notify?: PostgresStoreOptions['notify'];
  /** PostgreSQL: pool size. */
  max?: PostgresStoreOptions['max'];
  connectTimeoutMs?: PostgresStoreOptions['connectTimeoutMs'];
  statementTimeoutMs?: PostgresStoreOptions['statementTimeoutMs'];
  lockTimeoutMs?: PostgresStoreOptions['lockTimeoutMs'];
  idleInTransactionTimeoutMs?: PostgresStoreOptions['idleInTransactionTimeoutMs'];
  /** Where `GRAFT_DATABASE_URL` is read from (default `process.env`). */
  env?: Record<string, string | undefined>;
}

/** A store spec, parsed. */
export type StoreSpec = { kind: 'memory' } | { kind: 'sqlite'; path: string } | { kind: 'postgres'; url: string };

/**
 * Parses a store spec: `memory`, `sqlite:PATH` (`sqlite:` alone is the default file,
 * `sqlite::memory:` an in-memory SQLite database), or `postgres://…` / `postgresql://…`.
 * Throws a `TypeError` that lists the accepted forms for anything else.
 *
 * @example parseStoreSpec('sqlite:./data/graft.db') // { kind: 'sqlite', path: './data/graft.db' }
 */
export function parseStoreSpec(spec: string): StoreSpec {
  const trimmed = spec.trim();
  if (trimmed === 'memory') return { kind: 'memory' };
  if (trimmed.startsWith('sqlite:')) {
    const path = trimmed.slice('sqlite:'.length);
    return { kind: 'sqlite', path: path === '' ? DEFAULT_SQLITE_PATH : path };
  }
  if (/^postgres(ql)?:\/\/./.test(trimmed)) {
    try {
      new URL(trimmed);
    } catch {
      throw new TypeError(`bad PostgreSQL URL in store spec ${JSON.stringify(redact(trimmed))}`);
    }
    return { kind: 'postgres', url: trimmed };
  }
  throw new TypeError(`unknown store spec ${JSON.stringify(redact(trimmed))}: use memory, sqlite:PATH or postgres://user@host:port/database`);
}

/**
 * Opens the event store a spec names (see `parseStoreSpec`). Without a spec it uses
 * `GRAFT_DATABASE_URL`, else `sqlite:./data/graft.db`.
 *
 * @example
 * const store = await openStore('postgres://postgres@127.0.0.1:5432/app', { schema: 'graft' });
 * if (store.kind === 'postgres') await store.sql`SELECT 1`;
 * await store.close();
 */
export async function openStore(spec?: string, options: OpenStoreOptions = {}): Promise<OpenedStore> {
  const env = options.env ?? process.env;
  const envSpec = env.GRAFT_DATABASE_URL;
  const parsed = parseStoreSpec(spec ?? (envSpec !== undefined && envSpec !== '' ? envSpec : DEFAULT_STORE_SPEC));
  switch (parsed.kind) {
    case 'memory':
      return Object.assign(new MemoryStore(), { kind: 'memory' as const });
    case 'sqlite':
      return new SqliteStore({ path: parsed.path, busyTimeoutMs: options.busyTimeoutMs });
    case 'postgres':
      return PostgresStore.open({
        url: parsed.url,
        schema: options.schema,
        notify: options.notify,
        max: options.max,
        connectTimeoutMs: options.connectTimeoutMs,
        statementTimeoutMs: options.statementTimeoutMs,
        lockTimeoutMs: options.lockTimeoutMs,
        idleInTransactionTimeoutMs: options.idleInTransactionTimeoutMs,
      });
  }
}

/** Hides a password in a URL, for error messages. */
function redact(spec: string): string {
  return spec.replace(/^([a-z]+:\/\/[^:/@]*):[^@]*@/i, '$1:***@');
}
