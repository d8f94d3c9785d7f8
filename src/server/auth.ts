import { timingSafeEqual } from 'node:crypto';
import type { KeyStore, TenantSettings } from './keys/key-store.js';
import { hashKey } from './keys/key-store.js';

/** The key of `Authorization: Bearer <key>`, or null. */
export function bearerToken(header: string | undefined | null): string | null {
  if (!header) return null;
  const match = /^Bearer\s+(\S{1,512})\s*$/i.exec(header);
  return match ? match[1]! : null;
}

interface Cached<T> {
  value: T;
  until: number;
}

/**
 * Resolves API keys to tenants: the key store, plus static keys given by configuration (the
 * demo's `demo`), compared by hash in constant time. A found key is cached for `ttlMs`, so a
 * busy client costs no database round trip per request; a revoked key stops working within it.
 */
export class Authenticator {
  private readonly cache = new Map<string, Cached<string>>();
  private readonly settings = new Map<string, Cached<TenantSettings | null>>();
  private readonly staticKeys: { hash: Buffer; tenantId: string }[];

  constructor(
    private readonly keys: KeyStore,
    staticKeys: Record<string, string> = {},
    private readonly ttlMs = 10_000,
    private readonly now: () => number = Date.now,
  ) {
    this.staticKeys = Object.entries(staticKeys).map(([key, tenantId]) => ({
      hash: Buffer.from(hashKey(key), 'hex'),
      tenantId,
    }));
  }

  async tenantOf(key: string): Promise<string | null> {
    const hash = hashKey(key);
    const given = Buffer.from(hash, 'hex');
    for (const entry of this.staticKeys) if (timingSafeEqual(entry.hash, given)) return entry.tenantId;
    const cached = this.cache.get(hash);
    if (cached && cached.until > this.now()) return cached.value;
    const tenantId = await this.keys.authenticate(key);
    if (tenantId !== null) this.remember(this.cache, hash, tenantId);
    return tenantId;
  }

  /** A tenant's settings (cached like keys). */
  async tenantSettings(tenantId: string): Promise<TenantSettings | null> {
    const cached = this.settings.get(tenantId);
    if (cached && cached.until > this.now()) return cached.value;
    const value = await this.keys.tenant(tenantId);
    this.remember(this.settings, tenantId, value);
    return value;
  }

  private remember<T>(map: Map<string, Cached<T>>, key: string, value: T): void {
    if (map.size >= 10_000) map.delete(map.keys().next().value!);
    map.set(key, { value, until: this.now() + this.ttlMs });
  }
}
