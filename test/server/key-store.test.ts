import Database from 'better-sqlite3';
import { afterAll, describe, expect, it } from 'vitest';
import type { KeyStore } from '../../src/server/keys/key-store.js';
import { hashKey, MemoryKeyStore } from '../../src/server/keys/key-store.js';
import { PostgresKeyStore } from '../../src/server/keys/postgres-key-store.js';
import { SqliteKeyStore } from '../../src/server/keys/sqlite-key-store.js';
import { sign, verifySignature } from '../../src/server/signature.js';
import { describePostgres, postgresSchema } from '../postgres.js';

function keyStoreContract(
  name: string,
  open: () => Promise<{ keys: KeyStore; stored: () => Promise<string> }>,
) {
  describe(`the ${name} key store`, () => {
    it('authenticates a created key for its tenant, and stores only its hash', async () => {
      const { keys, stored } = await open();
      const { key, record } = await keys.create('acme', { label: 'ci', now: 1_000 });
      expect(key).toMatch(/^gk_[A-Za-z0-9_-]{43}$/);
      expect(record).toMatchObject({ tenantId: 'acme', label: 'ci', createdAt: 1_000, revokedAt: null });
      expect(await keys.authenticate(key)).toBe('acme');
      expect(await keys.authenticate(`${key}x`)).toBeNull();
      const dump = await stored();
      expect(dump).not.toContain(key);
      expect(dump).toContain(hashKey(key));
    });

    it('lists keys per tenant and revokes one by its id', async () => {
      const { keys } = await open();
      const a = await keys.create('acme', { now: 1 });
      const b = await keys.create('globex', { now: 2 });
      expect((await keys.list()).map((r) => r.tenantId)).toEqual(['acme', 'globex']);
      expect((await keys.list('globex')).map((r) => r.keyId)).toEqual([b.record.keyId]);
      expect(await keys.revoke(a.record.keyId, 5)).toBe(true);
      expect(await keys.revoke(a.record.keyId, 6)).toBe(false);
      expect(await keys.authenticate(a.key)).toBeNull();
      expect(await keys.authenticate(b.key)).toBe('globex');
      expect((await keys.list('acme'))[0]!.revokedAt).toBe(5);
    });

    it('keeps tenant settings, and refuses a bad tenant id', async () => {
      const { keys } = await open();
      expect(await keys.tenant('acme')).toBeNull();
      const settings = {
        tenantId: 'acme',
        webhookUrl: 'http://127.0.0.1:9/hook',
        webhookSecret: 's1',
        inboundSecret: null,
      };
      await keys.setTenant(settings);
      expect(await keys.tenant('acme')).toEqual({ ...settings, widgetSecret: null, widgetOrigins: null });
      await keys.setTenant({ ...settings, inboundSecret: 's2' });
      expect((await keys.tenant('acme'))?.inboundSecret).toBe('s2');
      await expect(keys.create('bad tenant')).rejects.toThrow(TypeError);
    });

    it("keeps the web chat's secret and origins, and leaves them as they are when a change omits them", async () => {
      const { keys } = await open();
      const base = { tenantId: 'acme', webhookUrl: null, webhookSecret: null, inboundSecret: null };
      await keys.setTenant({ ...base, widgetSecret: 'w1', widgetOrigins: ['https://Shop.example/'] });
      expect(await keys.tenant('acme')).toMatchObject({
        widgetSecret: 'w1',
        widgetOrigins: ['https://shop.example'],
      });
      await keys.setTenant({ ...base, webhookSecret: 's1' });
      expect(await keys.tenant('acme')).toMatchObject({
        webhookSecret: 's1',
        widgetSecret: 'w1',
        widgetOrigins: ['https://shop.example'],
      });
      await keys.setTenant({ ...base, widgetSecret: null, widgetOrigins: [] });
      expect(await keys.tenant('acme')).toMatchObject({ widgetSecret: null, widgetOrigins: null });
      await expect(keys.setTenant({ ...base, widgetOrigins: ['https://shop.example/path'] })).rejects.toThrow(
        TypeError,
      );
    });
  });
}

keyStoreContract('memory', () => {
  const keys = new MemoryKeyStore();
  const hashes = (keys as unknown as { keys: Map<string, unknown> }).keys;
  return Promise.resolve({
    keys,
    stored: async () => JSON.stringify(await keys.list()) + JSON.stringify([...hashes.keys()]),
  });
});

keyStoreContract('SQLite', () => {
  const db = new Database(':memory:');
  const stored = () => Promise.resolve(JSON.stringify(db.prepare('SELECT * FROM graft_api_keys').all()));
  return Promise.resolve({ keys: new SqliteKeyStore(db), stored });
});

/** `graft_tenants` as versions before the web chat made it: no widget columns. */
const OLD_TENANTS = `CREATE TABLE graft_tenants (
  tenant_id TEXT PRIMARY KEY, webhook_url TEXT, webhook_secret TEXT, inbound_secret TEXT)`;

describe('a key store opened on a database of an earlier version', () => {
  it('SQLite: adds the widget columns to graft_tenants and keeps its rows', async () => {
    const db = new Database(':memory:');
    db.exec(OLD_TENANTS);
    db.prepare("INSERT INTO graft_tenants VALUES ('acme', 'http://127.0.0.1:9/hook', 'whsec', NULL)").run();
    const keys = new SqliteKeyStore(db);
    expect(await keys.tenant('acme')).toEqual({
      tenantId: 'acme',
      webhookUrl: 'http://127.0.0.1:9/hook',
      webhookSecret: 'whsec',
      inboundSecret: null,
      widgetSecret: null,
      widgetOrigins: null,
    });
    await keys.setTenant({ ...(await keys.tenant('acme'))!, widgetSecret: 'w1' });
    expect(await new SqliteKeyStore(db).tenant('acme')).toMatchObject({
      webhookSecret: 'whsec',
      widgetSecret: 'w1',
    });
  });
});

describePostgres('on PostgreSQL', () => {
  const schemas: Awaited<ReturnType<typeof postgresSchema>>[] = [];
  afterAll(async () => {
    for (const s of schemas) await s.drop();
  });
  keyStoreContract('PostgreSQL', async () => {
    const schema = await postgresSchema();
    schemas.push(schema);
    const keys = await PostgresKeyStore.open(schema.sql);
    return { keys, stored: async () => JSON.stringify(await schema.sql`SELECT * FROM graft_api_keys`) };
  });

  it('adds the widget columns to an earlier graft_tenants and keeps its rows', async () => {
    const schema = await postgresSchema();
    schemas.push(schema);
    await schema.sql.unsafe(OLD_TENANTS);
    await schema.sql`INSERT INTO graft_tenants VALUES ('acme', NULL, 'whsec', 'insec')`;
    const keys = await PostgresKeyStore.open(schema.sql);
    expect(await keys.tenant('acme')).toMatchObject({ inboundSecret: 'insec', widgetSecret: null });
    await keys.setTenant({
      ...(await keys.tenant('acme'))!,
      widgetSecret: 'w1',
      widgetOrigins: ['http://127.0.0.1:8080'],
    });
    expect(await (await PostgresKeyStore.open(schema.sql)).tenant('acme')).toMatchObject({
      webhookSecret: 'whsec',
      widgetSecret: 'w1',
      widgetOrigins: ['http://127.0.0.1:8080'],
    });
  });
});

describe('signatures', () => {
  it('verifies sha256=<hex HMAC> of the raw body and nothing else', () => {
    const body = Buffer.from('{"id":"m1","text":"hi"}');
    const header = sign('secret', body);
    expect(header).toMatch(/^sha256=[0-9a-f]{64}$/);
    expect(verifySignature('secret', body, header)).toBe(true);
    expect(verifySignature('secret', body, header.toUpperCase().replace('SHA256', 'sha256'))).toBe(true);
    expect(verifySignature('other', body, header)).toBe(false);
    expect(verifySignature('secret', Buffer.from('{"id":"m1","text":"hi "}'), header)).toBe(false);
    expect(verifySignature('secret', body, header.slice(0, -2))).toBe(false);
    expect(verifySignature('secret', body, undefined)).toBe(false);
    expect(verifySignature('secret', body, 'sha1=abc')).toBe(false);
  });
});
