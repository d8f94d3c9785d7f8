import type { EventStore } from '../core/ports.js';
import { TerminalError } from '../core/errors.js';
import { MemoryStore } from './memory/memory-store.js';
import type { PostgresSettings } from './postgres/settings.js';

/** Where the SQLite store keeps its file when no path is given. */
export const DEFAULT_SQLITE_PATH = './data/graft.db';

/** The spec `openStore` uses when it is given none and `GRAFT_DATABASE_URL` is not set. */
export const DEFAULT_STORE_SPEC = `sqlite:${DEFAULT_SQLITE_PATH}`;

/** Which adapter a store is. */
export type StoreKind = 'memory' | 'sqlite' | 'postgres';

/**
 * What `openStore` returns: an event store that says which adapter it is and can be closed.
 * For the adapter's own handle (better-sqlite3's `database`, postgres.js's `sql`), open the store
 * from `graft/sqlite` or `graft/postgres` instead.
 */
export interface GraftStore extends EventStore {
  readonly kind: StoreKind;
  close(): Promise<void>;
}

/**
 * Adapter settings for `openStore`; each adapter takes the ones it knows: `busyTimeoutMs` for
 * SQLite, the `PostgresSettings` (schema, NOTIFY, pool size, timeouts and deadlines) for PostgreSQL.
 */
export interface OpenStoreOptions extends PostgresSettings {
  /** SQLite: how long a write waits for the file's write lock (ms, default 5,000). */
  busyTimeoutMs?: number;
  /** Where `GRAFT_DATABASE_URL` is read from (default `process.env`). */
  env?: Record<string, string | undefined>;
}

/** A store spec, parsed. */
export type StoreSpec =
  { kind: 'memory' } | { kind: 'sqlite'; path: string } | { kind: 'postgres'; url: string };

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
      throw new TypeError(`bad PostgreSQL URL in store spec ${JSON.stringify(redactUrl(trimmed))}`);
    }
    return { kind: 'postgres', url: trimmed };
  }
  throw new TypeError(
    `unknown store spec ${JSON.stringify(redactUrl(trimmed))}: use memory, sqlite:PATH or postgres://user@host:port/database`,
  );
}

/**
 * Opens the event store a spec names (see `parseStoreSpec`). Without a spec it uses
 * `GRAFT_DATABASE_URL`, else `sqlite:./data/graft.db`. The database driver is loaded only when
 * its store is opened: `better-sqlite3` for SQLite, `postgres` for PostgreSQL (optional peer
 * dependencies: install the one you use).
 *
 * @example
 * const store = await openStore('postgres://postgres@127.0.0.1:5432/app', { schema: 'graft' });
 * const graft = createGraft({ store, model, tools });
 */
export async function openStore(spec?: string, options: OpenStoreOptions = {}): Promise<GraftStore> {
  const env = options.env ?? process.env;
  const envSpec = env.GRAFT_DATABASE_URL;
  const parsed = parseStoreSpec(
    spec ?? (envSpec !== undefined && envSpec !== '' ? envSpec : DEFAULT_STORE_SPEC),
  );
  switch (parsed.kind) {
    case 'memory':
      return Object.assign(new MemoryStore(), { kind: 'memory' as const });
    case 'sqlite': {
      const { SqliteStore } = await loadAdapter('sqlite', () => import('./sqlite/index.js'));
      return new SqliteStore({ path: parsed.path, busyTimeoutMs: options.busyTimeoutMs });
    }
    case 'postgres': {
      const { PostgresStore } = await loadAdapter('postgres', () => import('./postgres/index.js'));
      const { busyTimeoutMs: _sqliteOnly, env: _envOnly, ...settings } = options;
      return PostgresStore.open({ ...settings, url: parsed.url });
    }
  }
}

const DRIVERS = { sqlite: 'better-sqlite3@12', postgres: 'postgres@3' } as const;

/** Loads a store adapter, turning its driver's absence into an error that says what to install. */
async function loadAdapter<T>(kind: keyof typeof DRIVERS, load: () => Promise<T>): Promise<T> {
  try {
    return await load();
  } catch (error) {
    const driver = DRIVERS[kind].replace(/@\d+$/, '');
    if (isModuleNotFound(error, driver)) {
      throw new TerminalError(
        `the ${kind === 'sqlite' ? 'SQLite' : 'PostgreSQL'} store needs the ${driver} package, which is not installed: run \`npm install ${DRIVERS[kind]}\``,
        'driver-missing',
      );
    }
    throw error;
  }
}

function isModuleNotFound(error: unknown, name: string): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  const message = error instanceof Error ? error.message : '';
  return (code === 'ERR_MODULE_NOT_FOUND' || code === 'MODULE_NOT_FOUND') && message.includes(`'${name}'`);
}

/** Hides a password in a URL, for error messages. */
export function redactUrl(spec: string): string {
  return spec.replace(/^([a-z]+:\/\/[^:/@]*):[^@]*@/i, '$1:***@');
}
