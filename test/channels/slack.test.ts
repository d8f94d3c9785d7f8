import { afterEach, describe, expect, it } from 'vitest';
import type { EventStore } from '../../src/core/ports.js';
import {
  BURST,
  EXPECTED_ITEMS,
  channelService,
  count,
  fakePlatform,
  flakyStore,
  hmacHex,
  until,
} from './harness.js';

const SIGNING_SECRET = 'slack-signing-secret';
const CHANNEL = 'D0CUSTOMER';

const closers: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const close of closers.splice(0).reverse()) await close();
});

async function setUp(store?: EventStore) {
  let next = 0;
  const api = await fakePlatform((call) => {
    if (call.path.endsWith('/auth.test'))
      return { ok: true, user_id: 'UBOT', bot_id: 'BBOT', team_id: 'T1', user: 'shopbot' };
    if (call.path.endsWith('/chat.postMessage')) {
      next += 1;
      const ts = `1700000100.00010${next}`;
      return {
        ok: true,
        channel: CHANNEL,
        ts,
        message: { type: 'message', text: call.body.text, user: 'UBOT', ts },
      };
    }
    return { ok: true };
  });
  closers.push(api.close);
  const t = await channelService({
    names: ['slack'],
    env: {
      SLACK_BOT_TOKEN: 'xoxb-test',
      SLACK_SIGNING_SECRET: SIGNING_SECRET,
      SLACK_API_URL: `${api.url}/api/`,
    },
    typing: { refreshMs: 40 },
    ...(store ? { store } : {}),
  });
  closers.push(async () => {
    await t.service.idle();
    await t.close();
  });
  return { api, t, posted: () => api.named('/chat.postMessage') };
}

/** An Events API callback: a direct message from the customer. */
function event(n: number, text: string): string {
  return JSON.stringify({
    type: 'event_callback',
    team_id: 'T1',
    api_app_id: 'A1',
    event_id: `Ev${n}`,
    event_time: 1_700_000_000 + n,
    event: {
      type: 'message',
      channel: CHANNEL,
      channel_type: 'im',
      user: 'UCUSTOMER',
      text,
      ts: `1700000000.00000${n}`,
      event_ts: `1700000000.00000${n}`,
    },
  });
}

function signed(body: string, options: { secret?: string; retry?: number; at?: number } = {}) {
  const timestamp = String(options.at ?? Math.floor(Date.now() / 1000));
  return {
    'content-type': 'application/json',
    'x-slack-request-timestamp': timestamp,
    'x-slack-signature': `v0=${hmacHex(options.secret ?? SIGNING_SECRET, `v0:${timestamp}:${body}`)}`,
    ...(options.retry
      ? { 'x-slack-retry-num': String(options.retry), 'x-slack-retry-reason': 'http_timeout' }
      : {}),
  };
}

describe('Slack through Chat SDK', () => {
  it('answers the url_verification challenge of a signed request', async () => {
    const { t } = await setUp();
    const body = JSON.stringify({ type: 'url_verification', challenge: 'abc123', token: 'x' });
    const answer = await t.webhook('slack', body, signed(body));
    expect(answer.status).toBe(200);
    expect(await answer.json()).toEqual({ challenge: 'abc123' });
  });

  it('refuses a bad signature or a stale timestamp (401) and records nothing', async () => {
    const { t } = await setUp();
    const body = event(1, 'I want 2 pizzas.');
    expect((await t.webhook('slack', body, signed(body, { secret: 'nope' }))).status).toBe(401);
    const stale = signed(body, { at: Math.floor(Date.now() / 1000) - 3600 });
    expect((await t.webhook('slack', body, stale)).status).toBe(401);
    expect((await t.webhook('slack', body, { 'content-type': 'application/json' })).status).toBe(401);
    expect(await t.store.conversations({ limit: 10 })).toEqual([]);
  });

  it('answers a burst of three direct messages with one post and one order; a retried event is processed once', async () => {
    const { t, posted } = await setUp();
    for (const [i, text] of BURST.entries()) {
      const body = event(i + 1, text);
      expect((await t.webhook('slack', body, signed(body))).status).toBe(200);
      await new Promise((resolve) => setTimeout(resolve, 30));
    }
    // Slack retries an event it thinks went unanswered, with X-Slack-Retry-Num.
    const retried = event(2, BURST[1]!);
    expect((await t.webhook('slack', retried, signed(retried, { retry: 1 }))).status).toBe(200);
    await until(() => posted().length > 0, 'the reply in Slack');
    await t.service.idle();
    const [conversation, ...others] = (await t.store.conversations({ limit: 10 })).map(
      (c) => c.conversationId,
    );
    expect(others).toEqual([]);
    expect(posted()).toHaveLength(1);
    expect(posted()[0]!.body).toMatchObject({ channel: CHANNEL });
    expect(String(posted()[0]!.body.text)).toMatch(/pizza/i);
    expect(t.shop.orders(conversation)).toHaveLength(1);
    expect(t.shop.orders(conversation)[0]!.items).toEqual(EXPECTED_ITEMS);
    const events = await t.eventsOf(conversation!);
    expect(count(events, 'message.received')).toBe(3);
    expect(count(events, 'reply.committed')).toBe(1);
  });

  it('answers 503 when the store fails, and records the event when Slack retries it', async () => {
    const { store, failing } = flakyStore();
    const { t, posted } = await setUp(store);
    failing.next = true;
    const body = event(1, 'I want 2 pizzas.');
    expect((await t.webhook('slack', body, signed(body))).status).toBe(503);
    expect(await t.store.conversations({ limit: 10 })).toEqual([]);
    expect((await t.webhook('slack', body, signed(body, { retry: 1 }))).status).toBe(200);
    const [conversation] = await t.store.conversations({ limit: 10 });
    expect(count(await t.eventsOf(conversation!.conversationId), 'message.received')).toBe(1);
    await until(() => posted().length > 0, 'the reply in Slack');
  });
});
