/**
 * The stores, for graft's own service, CLI and tests: `openStore` typed with each adapter's class,
 * so that a caller can narrow on `kind` to reach `database` (SQLite) or `sql` (PostgreSQL).
 * Library users import `openStore` from `graft` (which names no driver type) or the adapter from
 * `graft/sqlite` / `graft/postgres`.
 */
import type { MemoryStore } from './memory/memory-store.js';
import type { PostgresStore } from './postgres/postgres-store.js';
import type { SqliteStore } from './sqlite/sqlite-store.js';
import { type OpenStoreOptions, openStore as openAnyStore } from './open.js';

export { MemoryStore } from './memory/memory-store.js';
export {
  DEFAULT_SQLITE_PATH,
  DEFAULT_STORE_SPEC,
  parseStoreSpec,
  type GraftStore,
  type OpenStoreOptions,
  type StoreKind,
  type StoreSpec,
} from './open.js';

/** The in-memory store, tagged like the durable ones. */
export type TaggedMemoryStore = MemoryStore & { readonly kind: 'memory' };

/** What `openStore` returns: narrow on `kind` to reach `database` (SQLite) or `sql` (PostgreSQL). */
export type OpenedStore = TaggedMemoryStore | SqliteStore | PostgresStore;

/** `openStore` from `./open.js`, which returns exactly these classes, with their types. */
export const openStore = openAnyStore as (spec?: string, options?: OpenStoreOptions) => Promise<OpenedStore>;
