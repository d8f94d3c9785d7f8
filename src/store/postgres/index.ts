/**
 * `graft/postgres`: the event store for several instances on one PostgreSQL database
 * (postgres.js, an optional peer dependency: `npm install postgres@3`).
 */
export { PostgresStore, migratePostgres, type PostgresStoreOptions, type Sql } from './postgres-store.js';
export type { PostgresSettings } from './settings.js';
