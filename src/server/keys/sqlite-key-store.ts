import type { ApiKeyRecord, KeyStore, TenantSettings } from './key-store.js';
import {
  type KeyRow,
  type TenantRow,
  hashKey,
  later,
  newKeyRecord,
  parseTenantId,
  toKeyRecord,
  toTenantSettings,
  widgetColumns,
} from './key-store.js';

/** The subset of better-sqlite3's `Database` the SQLite adapters of the server use. */
export interface SqliteDatabase {
  exec(source: string): unknown;
  prepare(source: string): SqliteStatement;
}

export interface SqliteStatement {
  run(...params: unknown[]): { changes: number };
  get(...params: unknown[]): unknown;
  all(...params: unknown[]): unknown[];
}

const SCHEMA = `
CREATE TABLE IF NOT EXISTS graft_api_keys (
  key_hash TEXT PRIMARY KEY,
  key_id TEXT NOT NULL UNIQUE,
  tenant_id TEXT NOT NULL,
  label TEXT,
  created_at INTEGER NOT NULL,
  revoked_at INTEGER
);
CREATE INDEX IF NOT EXISTS graft_api_keys_tenant ON graft_api_keys (tenant_id);
CREATE TABLE IF NOT EXISTS graft_tenants (
  tenant_id TEXT PRIMARY KEY,
  webhook_url TEXT,
  webhook_secret TEXT,
  inbound_secret TEXT,
  widget_secret TEXT,
  widget_origins TEXT
);`;

/** Columns added to `graft_tenants` after its first version: a table made before gets them on open. */
const ADDED_TENANT_COLUMNS = ['widget_secret', 'widget_origins'];

/**
 * API keys and tenant settings in the SQLite database that holds the events
 * (`graft_api_keys`, `graft_tenants`).
 *
 * @example
 * const keys = new SqliteKeyStore(sqliteStore.database);
 * const { key } = await keys.create('acme');
 */
export class SqliteKeyStore implements KeyStore {
  constructor(private readonly db: SqliteDatabase) {
    db.exec(SCHEMA);
    const columns = (db.prepare('PRAGMA table_info(graft_tenants)').all() as { name: string }[]).map(
      (c) => c.name,
    );
    for (const column of ADDED_TENANT_COLUMNS) {
      if (!columns.includes(column)) db.exec(`ALTER TABLE graft_tenants ADD COLUMN ${column} TEXT`);
    }
  }

  create(
    tenantId: string,
    options: { label?: string; now?: number } = {},
  ): Promise<{ key: string; record: ApiKeyRecord }> {
    return later(() => {
      const { key, hash, record } = newKeyRecord(tenantId, options);
      this.db
        .prepare(
          'INSERT INTO graft_api_keys (key_hash, key_id, tenant_id, label, created_at) VALUES (?, ?, ?, ?, ?)',
        )
        .run(hash, record.keyId, record.tenantId, record.label, record.createdAt);
      return { key, record };
    });
  }

  authenticate(key: string): Promise<string | null> {
    const row = this.db
      .prepare('SELECT tenant_id FROM graft_api_keys WHERE key_hash = ? AND revoked_at IS NULL')
      .get(hashKey(key)) as { tenant_id: string } | undefined;
    return Promise.resolve(row?.tenant_id ?? null);
  }

  list(tenantId?: string): Promise<ApiKeyRecord[]> {
    const rows = (
      tenantId === undefined
        ? this.db.prepare('SELECT * FROM graft_api_keys ORDER BY created_at, key_id').all()
        : this.db
            .prepare('SELECT * FROM graft_api_keys WHERE tenant_id = ? ORDER BY created_at, key_id')
            .all(tenantId)
    ) as KeyRow[];
    return Promise.resolve(rows.map(toKeyRecord));
  }

  revoke(keyId: string, now = Date.now()): Promise<boolean> {
    const result = this.db
      .prepare('UPDATE graft_api_keys SET revoked_at = ? WHERE key_id = ? AND revoked_at IS NULL')
      .run(now, keyId);
    return Promise.resolve(result.changes > 0);
  }

  tenant(tenantId: string): Promise<TenantSettings | null> {
    const row = this.db.prepare('SELECT * FROM graft_tenants WHERE tenant_id = ?').get(tenantId) as
      TenantRow | undefined;
    return Promise.resolve(row ? toTenantSettings(row) : null);
  }

  setTenant(settings: TenantSettings): Promise<void> {
    return later(() => {
      const widget = widgetColumns(settings);
      this.db
        .prepare(
          `INSERT INTO graft_tenants (tenant_id, webhook_url, webhook_secret, inbound_secret, widget_secret, widget_origins)
           VALUES (?, ?, ?, ?, ?, ?)
         ON CONFLICT (tenant_id) DO UPDATE SET webhook_url = excluded.webhook_url,
           webhook_secret = excluded.webhook_secret, inbound_secret = excluded.inbound_secret,
           widget_secret = CASE WHEN ? THEN excluded.widget_secret ELSE graft_tenants.widget_secret END,
           widget_origins = CASE WHEN ? THEN excluded.widget_origins ELSE graft_tenants.widget_origins END`,
        )
        .run(
          parseTenantId(settings.tenantId),
          settings.webhookUrl,
          settings.webhookSecret,
          settings.inboundSecret,
          widget.secret,
          widget.origins,
          widget.setSecret ? 1 : 0,
          widget.setOrigins ? 1 : 0,
        );
    });
  }
}
