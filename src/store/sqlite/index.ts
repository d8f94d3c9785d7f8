/**
 * `graft/sqlite`: the embedded, durable event store on one SQLite file (better-sqlite3, an
 * optional peer dependency: `npm install better-sqlite3@12`).
 */
export { SqliteStore, migrate as migrateSqlite, type SqliteStoreOptions } from './sqlite-store.js';
export { DEFAULT_SQLITE_PATH } from '../open.js';
