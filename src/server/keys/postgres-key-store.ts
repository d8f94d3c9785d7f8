import type { Sql } from 'postgres';
import type { ApiKeyRecord, KeyStore, TenantSettings } from './key-store.js';
import {
  type KeyRow,
  type TenantRow,
  hashKey,
  newKeyRecord,
  parseTenantId,
  toKeyRecord,
  toTenantSettings,
  widgetColumns,
} from './key-store.js';

/**
 * API keys and tenant settings in the PostgreSQL database that holds the events
 * (`graft_api_keys`, `graft_tenants`). Create it with `await PostgresKeyStore.open(sql)`, which
 * makes the tables if they are missing.
 *
 * @example
 * const keys = await PostgresKeyStore.open(postgresStore.sql);
 */
export class PostgresKeyStore implements KeyStore {
  private constructor(private readonly sql: Sql) {}

  static async open(sql: Sql): Promise<PostgresKeyStore> {
    // Several instances may start at once: the advisory lock keeps CREATE IF NOT EXISTS from racing.
    await sql.begin(async (tx) => {
      await tx`SELECT pg_advisory_xact_lock(hashtext('graft_api_keys'))`;
      await tx`CREATE TABLE IF NOT EXISTS graft_api_keys (
        key_hash TEXT PRIMARY KEY, key_id TEXT NOT NULL UNIQUE, tenant_id TEXT NOT NULL, label TEXT,
        created_at BIGINT NOT NULL, revoked_at BIGINT)`;
      await tx`CREATE INDEX IF NOT EXISTS graft_api_keys_tenant ON graft_api_keys (tenant_id)`;
      await tx`CREATE TABLE IF NOT EXISTS graft_tenants (
        tenant_id TEXT PRIMARY KEY, webhook_url TEXT, webhook_secret TEXT, inbound_secret TEXT)`;
      // Columns added later: a table made by an earlier version gets them here.
      await tx`ALTER TABLE graft_tenants ADD COLUMN IF NOT EXISTS widget_secret TEXT`;
      await tx`ALTER TABLE graft_tenants ADD COLUMN IF NOT EXISTS widget_origins TEXT`;
    });
    return new PostgresKeyStore(sql);
  }

  async create(
    tenantId: string,
    options: { label?: string; now?: number } = {},
  ): Promise<{ key: string; record: ApiKeyRecord }> {
    const { key, hash, record } = newKeyRecord(tenantId, options);
    await this.sql`INSERT INTO graft_api_keys (key_hash, key_id, tenant_id, label, created_at)
      VALUES (${hash}, ${record.keyId}, ${record.tenantId}, ${record.label}, ${record.createdAt})`;
    return { key, record };
  }

  async authenticate(key: string): Promise<string | null> {
    const rows = await this.sql<{ tenant_id: string }[]>`SELECT tenant_id FROM graft_api_keys
      WHERE key_hash = ${hashKey(key)} AND revoked_at IS NULL`;
    return rows[0]?.tenant_id ?? null;
  }

  async list(tenantId?: string): Promise<ApiKeyRecord[]> {
    const rows =
      tenantId === undefined
        ? await this.sql<KeyRow[]>`SELECT * FROM graft_api_keys ORDER BY created_at, key_id`
        : await this.sql<
            KeyRow[]
          >`SELECT * FROM graft_api_keys WHERE tenant_id = ${tenantId} ORDER BY created_at, key_id`;
    return rows.map(toKeyRecord);
  }

  async revoke(keyId: string, now = Date.now()): Promise<boolean> {
    const result = await this
      .sql`UPDATE graft_api_keys SET revoked_at = ${now} WHERE key_id = ${keyId} AND revoked_at IS NULL`;
    return result.count > 0;
  }

  async tenant(tenantId: string): Promise<TenantSettings | null> {
    const rows = await this.sql<TenantRow[]>`SELECT * FROM graft_tenants WHERE tenant_id = ${tenantId}`;
    const row = rows[0];
    return row ? toTenantSettings(row) : null;
  }

  async setTenant(settings: TenantSettings): Promise<void> {
    const widget = widgetColumns(settings);
    await this.sql`INSERT INTO graft_tenants
        (tenant_id, webhook_url, webhook_secret, inbound_secret, widget_secret, widget_origins)
      VALUES (${parseTenantId(settings.tenantId)}, ${settings.webhookUrl}, ${settings.webhookSecret},
        ${settings.inboundSecret}, ${widget.secret}, ${widget.origins})
      ON CONFLICT (tenant_id) DO UPDATE SET webhook_url = EXCLUDED.webhook_url,
        webhook_secret = EXCLUDED.webhook_secret, inbound_secret = EXCLUDED.inbound_secret,
        widget_secret = CASE WHEN ${widget.setSecret}::boolean THEN EXCLUDED.widget_secret
          ELSE graft_tenants.widget_secret END,
        widget_origins = CASE WHEN ${widget.setOrigins}::boolean THEN EXCLUDED.widget_origins
          ELSE graft_tenants.widget_origins END`;
  }
}
