import { afterEach, describe, expect, it } from 'vitest';
import type { EventStore } from '../../src/core/ports.js';
import { MemoryStore } from '../../src/store/memory/memory-store.js';
import { BURST, EXPECTED_ITEMS, channelService, count, fakePlatform, flakyStore, until } from './harness.js';

const SECRET = 'tg-secret';
const closers: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const close of closers.splice(0).reverse()) await close();
});

/** The Telegram Bot API, faked: every method answers ok, sendMessage with the message sent. */
async function fakeTelegram() {
  let next = 900;
  const api = await fakePlatform((call) => {
    if (call.path.endsWith('/sendMessage')) {
      next += 1;
      return {
        ok: true,
        result: {
          message_id: next,
          date: 1_700_000_100,
          chat: { id: 7, type: 'private' },
          text: call.body.text,
        },
      };
    }
    if (call.path.endsWith('/getMe'))
      return { ok: true, result: { id: 123, is_bot: true, first_name: 'Shop', username: 'shopbot' } };
    return { ok: true, result: true };
  });
  closers.push(api.close);
  return api;
}

async function setUp(options: { store?: EventStore; typingMs?: number; leaseMs?: number } = {}) {
  const api = await fakeTelegram();
  const t = await channelService({
    names: ['telegram'],
    env: {
      TELEGRAM_BOT_TOKEN: '123:fake',
      TELEGRAM_WEBHOOK_SECRET_TOKEN: SECRET,
      TELEGRAM_API_BASE_URL: api.url,
    },
    typing: { refreshMs: options.typingMs ?? 40 },
    ...(options.store ? { store: options.store } : {}),
    ...(options.leaseMs ? { leaseMs: options.leaseMs } : {}),
  });
  closers.push(async () => {
    await t.service.idle();
    await t.close();
  });
  return { api, t };
}

/** A Telegram update carrying a private-chat text message from chat 7. */
function update(messageId: number, text: string, chatId = 7) {
  return JSON.stringify({
    update_id: 10_000 + messageId,
    message: {
      message_id: messageId,
      date: 1_700_000_000 + messageId,
      chat: { id: chatId, type: 'private', first_name: 'Ann' },
      from: { id: chatId, is_bot: false, first_name: 'Ann' },
      text,
    },
  });
}

const headers = (secret = SECRET) => ({
  'content-type': 'application/json',
  'x-telegram-bot-api-secret-token': secret,
});

describe('Telegram through Chat SDK', () => {
  it('refuses an update with a wrong or missing secret token (401) and records nothing', async () => {
    const { t } = await setUp();
    expect((await t.webhook('telegram', update(1, 'hi'), headers('wrong'))).status).toBe(401);
    const missing = await t.webhook('telegram', update(2, 'hi'), { 'content-type': 'application/json' });
    expect(missing.status).toBe(401);
    expect(await t.eventsOf('telegram:7')).toEqual([]);
    expect(await t.store.conversations({ limit: 10 })).toEqual([]);
  });

  it('answers a burst of three messages with one reply in the chat, one order, and typing held until it is delivered', async () => {
    const { api, t } = await setUp();
    for (const [i, text] of BURST.entries()) {
      const answer = await t.webhook('telegram', update(i + 1, text), headers());
      expect(answer.status).toBe(200);
      await new Promise((resolve) => setTimeout(resolve, 30));
    }
    // The update is recorded before the webhook is answered.
    expect(count(await t.eventsOf('telegram:7'), 'message.received')).toBe(3);
    await until(() => api.named('/sendMessage').length > 0, 'the reply in Telegram');
    await t.service.idle();
    const sent = api.named('/sendMessage');
    expect(sent).toHaveLength(1);
    expect(sent[0]!.body.chat_id).toBe('7');
    expect(sent[0]!.body.text).toMatch(/pizza/i);
    expect(t.shop.orders('telegram:7')).toHaveLength(1);
    expect(t.shop.orders('telegram:7')[0]!.items).toEqual(EXPECTED_ITEMS);
    const events = await t.eventsOf('telegram:7');
    const replies = events.filter((e) => e.type === 'reply.committed');
    expect(replies).toHaveLength(1);
    expect(replies[0]).toMatchObject({ covers: ['7:1', '7:2', '7:3'] });
    expect(count(events, 'reply.delivered')).toBe(1);
    // The thread rides in the metadata of each message.
    const first = events.find((e) => e.type === 'message.received');
    expect(first).toMatchObject({ metadata: { channel: { adapter: 'telegram', threadId: 'telegram:7' } } });

    // Typing: shown at once and refreshed while the turn ran, then dropped.
    const typing = api.named('/sendChatAction');
    expect(typing.length).toBeGreaterThanOrEqual(3);
    expect(typing.every((c) => c.body.chat_id === '7' && c.body.action === 'typing')).toBe(true);
    const after = typing.length;
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(api.named('/sendChatAction').length).toBe(after);
    expect(t.channels.chat).toBeDefined();
  });

  it('processes a redelivered update once', async () => {
    const { api, t } = await setUp();
    expect((await t.webhook('telegram', update(1, 'I want 2 pizzas.'), headers())).status).toBe(200);
    expect((await t.webhook('telegram', update(1, 'I want 2 pizzas.'), headers())).status).toBe(200);
    await until(() => api.named('/sendMessage').length > 0, 'the reply');
    await t.service.idle();
    expect((await t.webhook('telegram', update(1, 'I want 2 pizzas.'), headers())).status).toBe(200);
    await t.service.idle();
    const events = await t.eventsOf('telegram:7');
    expect(count(events, 'message.received')).toBe(1);
    expect(count(events, 'reply.committed')).toBe(1);
    expect(api.named('/sendMessage')).toHaveLength(1);
    expect(t.shop.orders('telegram:7')).toHaveLength(1);
  });

  it('answers 503 when the store fails, and records the update when Telegram delivers it again', async () => {
    const { store, failing } = flakyStore();
    const { api, t } = await setUp({ store });
    failing.next = true;
    const refused = await t.webhook('telegram', update(1, 'I want 2 pizzas.'), headers());
    expect(refused.status).toBe(503);
    expect(count(await t.eventsOf('telegram:7'), 'message.received')).toBe(0);
    // Telegram retries the same update: it is not taken for a duplicate.
    expect((await t.webhook('telegram', update(1, 'I want 2 pizzas.'), headers())).status).toBe(200);
    expect(count(await t.eventsOf('telegram:7'), 'message.received')).toBe(1);
    await until(() => api.named('/sendMessage').length > 0, 'the reply');
  });

  it('posts a reply that could not be delivered to the same chat from another instance after a restart', async () => {
    const store = new MemoryStore();
    // A short lease: the new instance takes the delivery over once the stopped one's lease ends.
    const first = await setUp({ store, leaseMs: 600 });
    first.api.state.failing = true;
    expect((await first.t.webhook('telegram', update(1, 'I want 2 pizzas.', 42), headers())).status).toBe(
      200,
    );
    await until(
      async () => count(await first.t.eventsOf('telegram:42'), 'reply.committed') === 1,
      'the reply to be committed',
    );
    await until(() => first.api.named('/sendMessage').length >= 2, 'failed deliveries');
    // This instance stops before it could deliver; another starts on the same store.
    await first.t.service.shutdown({ timeoutMs: 200 });
    const second = await setUp({ store, leaseMs: 600 });
    await until(() => second.api.named('/sendMessage').length > 0, 'the reply from the new instance');
    await second.t.service.idle();
    const [sent] = second.api.named('/sendMessage');
    expect(sent!.body.chat_id).toBe('42');
    expect(count(await second.t.eventsOf('telegram:42'), 'reply.delivered')).toBe(1);
  });

  it('answers 404 for a channel that is not mounted', async () => {
    const { t } = await setUp();
    const answer = await t.webhook('whatsapp', '{}', { 'content-type': 'application/json' });
    expect(answer.status).toBe(404);
    expect(await answer.json()).toMatchObject({ error: { code: 'channel_not_found' } });
  });
});
