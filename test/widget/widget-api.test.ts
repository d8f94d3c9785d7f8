import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { Authenticator } from '../../src/server/auth.js';
import { createApp } from '../../src/server/app.js';
import { EventHub } from '../../src/server/event-hub.js';
import { MemoryKeyStore } from '../../src/server/keys/key-store.js';
import { signWidgetToken, verifyWidgetToken } from '../../src/server/keys/widget-token.js';
import { Metrics } from '../../src/server/metrics.js';
import { MemoryStore } from '../../src/store/memory/memory-store.js';
import { until } from '../server/helpers.js';
import { ACME_SECRET, call, freshWidgetBundle, GLOBEX_SECRET, openStream, widgetService } from './helpers.js';

/**
 * The web chat's HTTP routes (docs/widget.md) over a listening service on 127.0.0.1: its token,
 * what it lets a customer do and see, and the customer's stream with the typing indicator.
 */
let t: Awaited<ReturnType<typeof widgetService>>;
beforeEach(async () => {
  t = await widgetService();
});
afterEach(async () => {
  await t.close();
});

const message = (id: string, text: string) => ({ body: { id, text } });

describe('the widget token', () => {
  it('lets a customer post into web:<customer> of its tenant, and a retried id counts once', async () => {
    t.gate.release();
    const token = t.token('u1');
    const first = await call(t.url, 'POST', '/widget/v1/messages', token, message('w1', 'Hello!'));
    expect(first).toMatchObject({
      status: 202,
      body: { conversationId: 'web:u1', messageId: 'w1', status: 'accepted' },
    });
    const again = await call(t.url, 'POST', '/widget/v1/messages', token, message('w1', 'Hello!'));
    expect(again).toMatchObject({ status: 200, body: { status: 'duplicate' } });
    const other = await call(t.url, 'POST', '/widget/v1/messages', token, message('w1', 'Something else'));
    expect(other).toMatchObject({ status: 409, body: { error: { code: 'message_id_conflict' } } });
    const received = (await t.eventsOf('web:u1')).filter((e) => e.type === 'message.received');
    expect(received).toHaveLength(1);
    // What the browser sent as metadata is not kept: graft records the channel.
    expect(received[0]).toMatchObject({ messageId: 'w1', text: 'Hello!', metadata: { channel: 'web' } });
    expect(await t.eventsOf('web:u1', 'globex')).toEqual([]);
  });

  it('validates a message as the API does: a blank text, a bad id, a body too large', async () => {
    const token = t.token('u1');
    expect(await call(t.url, 'POST', '/widget/v1/messages', token, message('w1', '   '))).toMatchObject({
      status: 400,
      body: { error: { code: 'invalid_text' } },
    });
    expect(await call(t.url, 'POST', '/widget/v1/messages', token, message('a\u0001b', 'Hi'))).toMatchObject({
      status: 400,
      body: { error: { code: 'invalid_message_id' } },
    });
    expect(
      await call(t.url, 'POST', '/widget/v1/messages', token, message('w2', 'x'.repeat(9_000))),
    ).toMatchObject({ status: 413 });
  });

  it('refuses a bad signature, an expired token, another tenant, a tenant without web chat and malformed tokens with 401, recording nothing', async () => {
    const now = Date.now();
    const good = t.token('u1');
    const [version, payload, mac] = good.split('.') as [string, string, string];
    const forgedPayload = Buffer.from(
      JSON.stringify({ tenant: 'acme', customer: 'u2', exp: now / 1000 + 3600 }),
    ).toString('base64url');
    const cases: [string, string | null, string][] = [
      ['no token', null, 'unauthorized'],
      [
        'a wrong secret',
        signWidgetToken({ tenant: 'acme', customer: 'u1', expiresInSeconds: 60 }, 'guess'),
        'invalid_token',
      ],
      ['a changed payload', `${version}.${forgedPayload}.${mac}`, 'invalid_token'],
      [
        'a changed signature',
        `${version}.${payload}.${mac.slice(0, -2)}${mac.endsWith('AA') ? 'BB' : 'AA'}`,
        'invalid_token',
      ],
      [
        'expired',
        signWidgetToken(
          { tenant: 'acme', customer: 'u1', expiresInSeconds: 60, now: now - 120_000 },
          ACME_SECRET,
        ),
        'token_expired',
      ],
      // globex's customer, signed with acme's secret: only globex's secret signs globex's tokens.
      [
        'another tenant',
        signWidgetToken({ tenant: 'globex', customer: 'u1', expiresInSeconds: 60 }, ACME_SECRET),
        'invalid_token',
      ],
      [
        'a tenant without web chat',
        signWidgetToken({ tenant: 'plain', customer: 'u1', expiresInSeconds: 60 }, ACME_SECRET),
        'invalid_token',
      ],
      ['garbage', 'not-a-token', 'invalid_token'],
      ['three parts of nothing', 'v1..', 'invalid_token'],
      ['version 2', `v2.${payload}.${mac}`, 'invalid_token'],
      ['a tenant API key', t.keysOf.acme, 'invalid_token'],
    ];
    for (const [name, token, code] of cases) {
      for (const [method, path] of [
        ['POST', '/widget/v1/messages'],
        ['GET', '/widget/v1/conversation'],
        ['GET', '/widget/v1/events'],
      ] as const) {
        const answer = await call(t.url, method, path, token, method === 'POST' ? message('w1', 'Hi') : {});
        expect({ name, path, status: answer.status, code: answer.body?.error?.code }).toEqual({
          name,
          path,
          status: 401,
          code,
        });
        expect(answer.headers.get('www-authenticate')).toMatch(/^Bearer/);
      }
    }
    expect(await t.store.conversations({ limit: 10 })).toEqual([]);
  });

  it('is never an API key: /v1 routes refuse it, and widget routes refuse API keys', async () => {
    const token = t.token('u1');
    for (const path of ['/v1/conversations', '/v1/conversations/web:u1', '/v1/events', '/v1/approvals']) {
      expect((await call(t.url, 'GET', path, token)).status).toBe(401);
    }
    expect(
      (await call(t.url, 'POST', '/v1/conversations/web:u1/messages', token, message('m1', 'Hi'))).status,
    ).toBe(401);
    expect(
      (await call(t.url, 'POST', '/widget/v1/messages', t.keysOf.acme, message('m1', 'Hi'))).body.error.code,
    ).toBe('invalid_token');
    expect(await t.store.conversations({ limit: 10 })).toEqual([]);
  });

  it('signs tokens that any backend can make: v1.<base64url JSON>.<base64url HMAC-SHA256 of "v1.<payload>">', async () => {
    const token = signWidgetToken(
      { tenant: 'acme', customer: 'u 1/é', expiresInSeconds: 60, now: 1_000_000 },
      's',
    );
    const [version, payload, mac] = token.split('.');
    expect(version).toBe('v1');
    expect(JSON.parse(Buffer.from(payload!, 'base64url').toString('utf8'))).toEqual({
      tenant: 'acme',
      customer: 'u 1/é',
      exp: 1_060,
    });
    const { createHmac } = await import('node:crypto');
    expect(mac).toBe(createHmac('sha256', 's').update(`v1.${payload}`).digest('base64url'));
    expect(await verifyWidgetToken(token, () => Promise.resolve('s'), 1_059_000)).toMatchObject({
      customer: 'u 1/é',
    });
    expect(await verifyWidgetToken(token, () => Promise.resolve('s'), 1_060_000)).toMatchObject({
      code: 'token_expired',
    });
    expect(() => signWidgetToken({ tenant: 'acme', customer: '', expiresInSeconds: 60 }, 's')).toThrow(
      TypeError,
    );
    expect(() =>
      signWidgetToken({ tenant: 'acme', customer: 'x'.repeat(197), expiresInSeconds: 60 }, 's'),
    ).toThrow(TypeError);
    expect(() => signWidgetToken({ tenant: 'acme', customer: 'a\nb', expiresInSeconds: 60 }, 's')).toThrow(
      TypeError,
    );
  });
});

describe("the customer's view", () => {
  it('shows messages and replies only: no effects, tool calls, arguments, results or attempts', async () => {
    const token = t.token('u1');
    await call(t.url, 'POST', '/widget/v1/messages', token, message('w1', 'Add a cola.'));
    t.gate.release();
    await until(
      async () => (await t.eventsOf('web:u1')).some((e) => e.type === 'reply.committed'),
      'the reply',
    );
    expect(t.runs).toEqual(['SECRET-ARG']);
    const { status, body } = await call(t.url, 'GET', '/widget/v1/conversation', token);
    expect(status).toBe(200);
    expect(Object.keys(body).sort()).toEqual([
      'conversationId',
      'customer',
      'messages',
      'replies',
      'seq',
      'typing',
    ]);
    expect(body).toMatchObject({
      conversationId: 'web:u1',
      customer: 'u1',
      typing: false,
      messages: [{ id: 'w1', text: 'Add a cola.' }],
      replies: [{ text: 'Got: Add a cola.', covers: ['w1'], from: 'bot' }],
    });
    expect(Object.keys(body.messages[0]).sort()).toEqual(['at', 'id', 'seq', 'text']);
    expect(Object.keys(body.replies[0]).sort()).toEqual(['at', 'covers', 'from', 'id', 'seq', 'text']);
    const text = JSON.stringify(body);
    for (const internal of [
      'SECRET-ARG',
      'SECRET-RESULT',
      'add',
      'eff_',
      'att_',
      'call_',
      'resp_',
      'metadata',
    ])
      expect(text).not.toContain(internal);
    // Another customer of the same tenant sees an empty conversation of their own.
    const other = await call(t.url, 'GET', '/widget/v1/conversation', t.token('u2'));
    expect(other.body).toMatchObject({ conversationId: 'web:u2', messages: [], replies: [] });
  });

  it('streams typing from the first message of a burst until the one reply that covers it, and resumes after Last-Event-ID', async () => {
    const token = t.token('u1');
    const stream = await openStream(t.url, token);
    expect(await stream.next()).toMatchObject({ event: 'typing', data: '{"typing":false}', id: '0' });
    const seen: { event: string; data: any; id: string | null }[] = [];
    const take = async (until: (e: { event: string; data: any }) => boolean) => {
      for (;;) {
        const next = await stream.next();
        const event = { event: next.event, data: JSON.parse(next.data), id: next.id };
        seen.push(event);
        if (until(event)) return event;
      }
    };
    for (const [id, text] of [
      ['w1', 'I want a pizza.'],
      ['w2', 'And a cola.'],
      ['w3', 'Make it two pizzas.'],
    ] as const)
      expect((await call(t.url, 'POST', '/widget/v1/messages', token, message(id, text))).status).toBe(202);
    await take((e) => e.event === 'message' && e.data.id === 'w3');
    t.gate.release();
    const off = await take((e) => e.event === 'typing' && e.data.typing === false);
    // One indicator for the burst (never flickering while branches are superseded), one reply.
    expect(seen.map((e) => (e.event === 'typing' ? `typing ${e.data.typing}` : e.event))).toEqual([
      'message',
      'typing true',
      'message',
      'message',
      'reply',
      'typing false',
    ]);
    const reply = seen.find((e) => e.event === 'reply')!;
    expect(reply.data).toMatchObject({ covers: ['w1', 'w2', 'w3'], from: 'bot' });
    expect(JSON.stringify(seen)).not.toContain('SECRET');
    stream.close();

    // Resumed after the last event: the current typing state, then only what is new.
    t.gate.hold();
    const resumed = await openStream(t.url, token, off.id!);
    const now = await resumed.next();
    expect(now).toMatchObject({ event: 'typing', data: '{"typing":false}' });
    // Its id is where the log is now: later than the reply (its delivery was recorded since).
    expect(Number(now.id)).toBeGreaterThanOrEqual(Number(off.id));
    await call(t.url, 'POST', '/widget/v1/messages', token, message('w4', 'Thanks!'));
    expect(await resumed.next()).toMatchObject({ event: 'message', data: expect.stringContaining('"w4"') });
    expect(await resumed.next()).toMatchObject({ event: 'typing', data: '{"typing":true}' });
    resumed.close();
  });

  it('shows no typing while a person has the conversation, and their reply as from staff', async () => {
    const token = t.token('u1');
    const api = (path: string, body?: unknown) =>
      call(t.url, 'POST', path, t.keysOf.acme, body ? { body } : {});
    await call(t.url, 'POST', '/widget/v1/messages', token, message('w1', 'Is anyone there?'));
    expect((await api('/v1/conversations/web%3Au1/takeover', { operator: 'ana' })).status).toBe(200);
    const stream = await openStream(t.url, token);
    expect(await stream.next()).toMatchObject({ event: 'message' });
    expect(await stream.next()).toMatchObject({ event: 'typing', data: '{"typing":false}' });
    expect((await api('/v1/conversations/web%3Au1/operator-messages', { text: 'Ana here.' })).status).toBe(
      202,
    );
    const reply = await stream.next();
    expect(reply.event).toBe('reply');
    expect(JSON.parse(reply.data)).toMatchObject({ text: 'Ana here.', from: 'staff', covers: ['w1'] });
    expect(reply.data).not.toContain('ana');
    stream.close();
  });
});

describe('origins', () => {
  it('answers pages of its own origin, refuses other sites (403, nothing recorded) unless the tenant allows them', async () => {
    const token = t.token('u1');
    const evil = { headers: { origin: 'https://evil.example', 'sec-fetch-site': 'cross-site' } };
    const refused = await call(t.url, 'POST', '/widget/v1/messages', token, {
      ...message('w1', 'Hi'),
      ...evil,
    });
    expect(refused).toMatchObject({ status: 403, body: { error: { code: 'origin_not_allowed' } } });
    // The page may read the refusal (so that it can say why), and nothing else.
    expect(refused.headers.get('access-control-allow-origin')).toBe('https://evil.example');
    expect(await t.store.conversations({ limit: 10 })).toEqual([]);
    const same = { headers: { origin: t.url, 'sec-fetch-site': 'same-origin' } };
    expect(
      (await call(t.url, 'POST', '/widget/v1/messages', token, { ...message('w1', 'Hi'), ...same })).status,
    ).toBe(202);

    await t.keys.setTenant({
      tenantId: 'acme',
      webhookUrl: null,
      webhookSecret: null,
      inboundSecret: null,
      widgetOrigins: ['https://shop.example'],
    });
    const shop = { headers: { origin: 'https://shop.example', 'sec-fetch-site': 'cross-site' } };
    const preflight = await fetch(`${t.url}/widget/v1/messages`, {
      method: 'OPTIONS',
      headers: {
        origin: 'https://shop.example',
        'access-control-request-method': 'POST',
        'access-control-request-headers': 'authorization, content-type',
      },
    });
    expect(preflight.status).toBe(204);
    expect(preflight.headers.get('access-control-allow-headers')).toContain('authorization');
    const allowed = await call(t.url, 'POST', '/widget/v1/messages', token, {
      ...message('w2', 'Hi'),
      ...shop,
    });
    expect(allowed.status).toBe(202);
    expect(allowed.headers.get('access-control-allow-origin')).toBe('https://shop.example');
    // A refusal is readable by an allowed page too: it learns that its token expired.
    const expired = signWidgetToken(
      { tenant: 'acme', customer: 'u1', expiresInSeconds: 1, now: 0 },
      ACME_SECRET,
    );
    const late = await call(t.url, 'GET', '/widget/v1/conversation', expired, shop);
    expect(late).toMatchObject({ status: 401, body: { error: { code: 'token_expired' } } });
    expect(late.headers.get('access-control-allow-origin')).toBe('https://shop.example');
    expect((await call(t.url, 'GET', '/widget/v1/conversation', token, evil)).status).toBe(403);
    // The setting stays when other settings change without naming it.
    await t.keys.setTenant({ tenantId: 'acme', webhookUrl: null, webhookSecret: 'x', inboundSecret: null });
    expect((await t.keys.tenant('acme'))?.widgetOrigins).toEqual(['https://shop.example']);
    expect((await t.keys.tenant('acme'))?.widgetSecret).toBe(ACME_SECRET);
  });

  it("keeps one tenant's customers out of another's: the same customer id is another conversation", async () => {
    t.gate.release();
    await call(t.url, 'POST', '/widget/v1/messages', t.token('u1'), message('w1', 'acme here'));
    await call(
      t.url,
      'POST',
      '/widget/v1/messages',
      t.token('u1', 'globex', GLOBEX_SECRET),
      message('w1', 'globex'),
    );
    expect((await t.eventsOf('web:u1', 'acme')).find((e) => e.type === 'message.received')).toMatchObject({
      text: 'acme here',
    });
    expect((await t.eventsOf('web:u1', 'globex')).find((e) => e.type === 'message.received')).toMatchObject({
      text: 'globex',
    });
  });
});

describe('the script, the page and the demo', () => {
  let bundle: Awaited<ReturnType<typeof freshWidgetBundle>>;
  beforeAll(async () => {
    bundle = await freshWidgetBundle();
  });
  afterAll(() => bundle?.remove());

  const app = (widget: Parameters<typeof createApp>[0]['widget']) =>
    createApp({
      store: new MemoryStore(),
      auth: new Authenticator(new MemoryKeyStore()),
      graftFor: () => {
        throw new Error('no graft in this test');
      },
      hub: new EventHub(),
      metrics: new Metrics(),
      widget,
    });

  it('serves widget.js to any site and the page with a strict content security policy', async () => {
    const served = app({ dir: bundle.dir });
    const script = await served.request('/widget.js');
    expect(script.status).toBe(200);
    expect(script.headers.get('content-type')).toContain('javascript');
    expect((await script.text()).length).toBe(bundle.bytes);
    const page = await served.request('/widget');
    expect(page.status).toBe(200);
    expect(page.headers.get('content-security-policy')).toContain("script-src 'self'");
    expect(await page.text()).toContain('src="widget.js"');
    const missing = app({ dir: '/nonexistent' });
    expect(await (await missing.request('/widget.js')).json()).toMatchObject({
      error: { code: 'not_found' },
    });
    expect((await app(false).request('/widget.js')).status).toBe(404);
    expect((await app(false).request('/widget/v1/conversation')).status).toBe(404);
  });

  it('has GET /widget/demo only when asked: a token for a new customer, in the page URL fragment', async () => {
    expect((await app({}).request('/widget/demo')).status).toBe(404);
    const demo = app({ secrets: { demo: 'demo-secret' }, demo: { tenant: 'demo' } });
    const first = await demo.request('/widget/demo');
    const second = await demo.request('/widget/demo');
    expect(first.status).toBe(302);
    const token = /^\/widget#token=(.+)$/.exec(first.headers.get('location') ?? '')?.[1];
    expect(token).toBeDefined();
    const claims = await verifyWidgetToken(token!, (tenant) =>
      Promise.resolve(tenant === 'demo' ? 'demo-secret' : null),
    );
    expect(claims).toMatchObject({ tenant: 'demo', customer: expect.stringMatching(/^demo-/) });
    expect(second.headers.get('location')).not.toBe(first.headers.get('location'));
    const transcript = await demo.request('/widget/v1/conversation', {
      headers: { authorization: `Bearer ${token}` },
    });
    expect(await transcript.json()).toMatchObject({ messages: [], replies: [], typing: false });
  });
});
