import { createHash, randomBytes } from 'node:crypto';

/** An API key as the store keeps it: never the key itself, only its SHA-256. */
export interface ApiKeyRecord {
  /** A short public id of the key, for listing and revoking (`key_…`). */
  keyId: string;
  tenantId: string;
  label: string | null;
  createdAt: number;
  revokedAt: number | null;
}

/** A tenant's delivery and signing settings (all optional). */
export interface TenantSettings {
  tenantId: string;
  /** Where committed replies are POSTed; without one, replies go to the SSE stream only. */
  webhookUrl: string | null;
  /** Signs outbound replies (`X-Graft-Signature`). */
  webhookSecret: string | null;
  /** When set, inbound messages must carry a valid `X-Graft-Signature` made with it. */
  inboundSecret: string | null;
  /**
   * Signs the web chat widget's per-customer tokens (docs/widget.md); without one the tenant's
   * widget refuses every token. Omitted (undefined) in `setTenant`: left as it was.
   */
  widgetSecret?: string | null;
  /**
   * Other sites' origins (`https://shop.example`) whose pages may call the widget's routes
   * (CORS); none: the widget's routes answer only same-origin pages and non-browser clients.
   * Omitted (undefined) in `setTenant`: left as it was.
   */
  widgetOrigins?: string[] | null;
}

/**
 * Per-tenant API keys and settings, kept in the same database as the events (tables of their own).
 * Keys are random 256-bit strings; only their SHA-256 is stored, so a leaked database does not
 * leak usable keys.
 */
export interface KeyStore {
  /** Makes a key for a tenant; the key text is returned once and never stored. */
  create(
    tenantId: string,
    options?: { label?: string; now?: number },
  ): Promise<{ key: string; record: ApiKeyRecord }>;
  /** The tenant a presented key belongs to, or null (unknown or revoked). */
  authenticate(key: string): Promise<string | null>;
  list(tenantId?: string): Promise<ApiKeyRecord[]>;
  /** Revokes a key by its public id; false when there is no such live key. */
  revoke(keyId: string, now?: number): Promise<boolean>;
  tenant(tenantId: string): Promise<TenantSettings | null>;
  setTenant(settings: TenantSettings): Promise<void>;
}

export const MAX_TENANT_ID_LENGTH = 100;

/** Tenant ids: letters, digits, `.`, `_`, `-` (they appear in delivery ids and metric labels). */
export function parseTenantId(value: unknown): string {
  if (typeof value !== 'string' || !/^[A-Za-z0-9._-]+$/.test(value) || value.length > MAX_TENANT_ID_LENGTH) {
    throw new TypeError(`tenant must be 1 to ${MAX_TENANT_ID_LENGTH} letters, digits, '.', '_' or '-'`);
  }
  return value;
}

/** Runs synchronous work as a promise: a throw becomes a rejection, as from a real database. */
export function later<T>(work: () => T): Promise<T> {
  try {
    return Promise.resolve(work());
  } catch (error) {
    return Promise.reject(error instanceof Error ? error : new Error(String(error)));
  }
}

/** The stored form of a key. */
export function hashKey(key: string): string {
  return createHash('sha256').update(key, 'utf8').digest('hex');
}

/** A new key and what is stored of it. */
export function newKey(): { key: string; hash: string; keyId: string } {
  const key = `gk_${randomBytes(32).toString('base64url')}`;
  const hash = hashKey(key);
  return { key, hash, keyId: `key_${hash.slice(0, 12)}` };
}

/** A new key and the record the key stores keep of it (only the key's hash is stored). */
export function newKeyRecord(
  tenantId: string,
  options: { label?: string; now?: number },
): { key: string; hash: string; record: ApiKeyRecord } {
  const { key, hash, keyId } = newKey();
  const record: ApiKeyRecord = {
    keyId,
    tenantId: parseTenantId(tenantId),
    label: options.label ?? null,
    createdAt: options.now ?? Date.now(),
    revokedAt: null,
  };
  return { key, hash, record };
}

/** Rows of `graft_api_keys` and `graft_tenants`, as the SQL key stores read them. */
export interface KeyRow {
  key_id: string;
  tenant_id: string;
  label: string | null;
  /** PostgreSQL's bigint arrives as text. */
  created_at: string | number;
  revoked_at: string | number | null;
}

export interface TenantRow {
  tenant_id: string;
  webhook_url: string | null;
  webhook_secret: string | null;
  inbound_secret: string | null;
  /** Absent from a row read before the widget's columns were added (they are added on open). */
  widget_secret?: string | null;
  /** Origins separated by spaces. */
  widget_origins?: string | null;
}

export const toKeyRecord = (row: KeyRow): ApiKeyRecord => ({
  keyId: row.key_id,
  tenantId: row.tenant_id,
  label: row.label,
  createdAt: Number(row.created_at),
  revokedAt: row.revoked_at === null ? null : Number(row.revoked_at),
});

export const toTenantSettings = (row: TenantRow): TenantSettings => ({
  tenantId: row.tenant_id,
  webhookUrl: row.webhook_url,
  webhookSecret: row.webhook_secret,
  inboundSecret: row.inbound_secret,
  widgetSecret: row.widget_secret ?? null,
  widgetOrigins: row.widget_origins ? row.widget_origins.split(' ') : null,
});

/**
 * The widget columns of a `setTenant`: each value to store, and whether to store it (an omitted
 * setting is left as it was).
 */
export function widgetColumns(settings: TenantSettings): {
  secret: string | null;
  setSecret: boolean;
  origins: string | null;
  setOrigins: boolean;
} {
  const origins = settings.widgetOrigins?.map(parseOrigin) ?? null;
  return {
    secret: settings.widgetSecret ?? null,
    setSecret: settings.widgetSecret !== undefined,
    origins: origins && origins.length > 0 ? origins.join(' ') : null,
    setOrigins: settings.widgetOrigins !== undefined,
  };
}

/**
 * A web origin as browsers send it in `Origin`: `scheme://host[:port]`, lower-case, without a
 * path. Throws a `TypeError` for anything else.
 *
 * @example
 * parseOrigin('https://Shop.example/'); // 'https://shop.example'
 */
export function parseOrigin(value: string): string {
  let url: URL | null = null;
  try {
    url = new URL(value);
  } catch {
    url = null;
  }
  const bare = url !== null && (url.pathname === '/' || url.pathname === '') && !url.search && !url.hash;
  if (url === null || !/^https?:$/.test(url.protocol) || !bare || url.username || url.password)
    throw new TypeError(`'${value}' is not a web origin (https://host[:port], no path)`);
  return url.origin;
}

/** Origins given as one string, separated by commas or spaces (`--widget-origins`). */
export function parseOrigins(value: string): string[] {
  return value
    .split(/[\s,]+/)
    .filter((part) => part !== '')
    .map(parseOrigin);
}

/** Keys in memory: for tests and the in-memory store (nothing survives the process). */
export class MemoryKeyStore implements KeyStore {
  private readonly keys = new Map<string, ApiKeyRecord>();
  private readonly tenants = new Map<string, TenantSettings>();

  create(
    tenantId: string,
    options: { label?: string; now?: number } = {},
  ): Promise<{ key: string; record: ApiKeyRecord }> {
    return later(() => {
      const { key, hash, record } = newKeyRecord(tenantId, options);
      this.keys.set(hash, record);
      return { key, record: { ...record } };
    });
  }

  authenticate(key: string): Promise<string | null> {
    const record = this.keys.get(hashKey(key));
    return Promise.resolve(record && record.revokedAt === null ? record.tenantId : null);
  }

  list(tenantId?: string): Promise<ApiKeyRecord[]> {
    const records = [...this.keys.values()].filter((r) => tenantId === undefined || r.tenantId === tenantId);
    return Promise.resolve(records.sort((a, b) => a.createdAt - b.createdAt).map((r) => ({ ...r })));
  }

  revoke(keyId: string, now = Date.now()): Promise<boolean> {
    const record = [...this.keys.values()].find((r) => r.keyId === keyId && r.revokedAt === null);
    if (record) record.revokedAt = now;
    return Promise.resolve(record !== undefined);
  }

  tenant(tenantId: string): Promise<TenantSettings | null> {
    const found = this.tenants.get(tenantId);
    return Promise.resolve(
      found ? { ...found, widgetOrigins: found.widgetOrigins ? [...found.widgetOrigins] : null } : null,
    );
  }

  setTenant(settings: TenantSettings): Promise<void> {
    return later(() => {
      const tenantId = parseTenantId(settings.tenantId);
      const before = this.tenants.get(tenantId);
      const widget = widgetColumns(settings);
      this.tenants.set(tenantId, {
        tenantId,
        webhookUrl: settings.webhookUrl,
        webhookSecret: settings.webhookSecret,
        inboundSecret: settings.inboundSecret,
        widgetSecret: widget.setSecret ? widget.secret : (before?.widgetSecret ?? null),
        widgetOrigins: widget.setOrigins
          ? (widget.origins?.split(' ') ?? null)
          : (before?.widgetOrigins ?? null),
      });
    });
  }
}
