import { afterEach, describe, expect, it } from 'vitest';
import { BURST, EXPECTED_ITEMS, channelService, count, fakePlatform, hmacHex, until } from './harness.js';

const APP_SECRET = 'wa-app-secret';
const VERIFY_TOKEN = 'wa-verify';
const PHONE = '1055500';
const CUSTOMER = '4915112345';
const CONVERSATION = `whatsapp:${PHONE}:${CUSTOMER}`;

const closers: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const close of closers.splice(0).reverse()) await close();
});

async function setUp() {
  let next = 0;
  const api = await fakePlatform(() => {
    next += 1;
    return {
      messaging_product: 'whatsapp',
      contacts: [{ wa_id: CUSTOMER }],
      messages: [{ id: `wamid.out${next}` }],
    };
  });
  closers.push(api.close);
  const t = await channelService({
    names: ['whatsapp'],
    env: {
      WHATSAPP_ACCESS_TOKEN: 'wa-token',
      WHATSAPP_APP_SECRET: APP_SECRET,
      WHATSAPP_PHONE_NUMBER_ID: PHONE,
      WHATSAPP_VERIFY_TOKEN: VERIFY_TOKEN,
      WHATSAPP_API_URL: api.url,
    },
    typing: { refreshMs: 40 },
  });
  closers.push(async () => {
    await t.service.idle();
    await t.close();
  });
  /** Cloud API calls that send a message (not the typing indicator's read receipts). */
  const sent = () => api.calls.filter((c) => c.body?.type === 'text');
  const typing = () => api.calls.filter((c) => c.body?.typing_indicator);
  return { api, t, sent, typing };
}

/** A Cloud API webhook body carrying one text message from the customer. */
function inbound(id: string, text: string): string {
  return JSON.stringify({
    object: 'whatsapp_business_account',
    entry: [
      {
        id: 'WABA1',
        changes: [
          {
            field: 'messages',
            value: {
              messaging_product: 'whatsapp',
              metadata: { display_phone_number: '15550001111', phone_number_id: PHONE },
              contacts: [{ profile: { name: 'Ann' }, wa_id: CUSTOMER }],
              messages: [{ from: CUSTOMER, id, timestamp: '1700000000', type: 'text', text: { body: text } }],
            },
          },
        ],
      },
    ],
  });
}

const signed = (body: string, secret = APP_SECRET) => ({
  'content-type': 'application/json',
  'x-hub-signature-256': `sha256=${hmacHex(secret, body)}`,
});

describe('WhatsApp through Chat SDK', () => {
  it('answers the webhook verification (hub.challenge) only with the right verify token', async () => {
    const { t } = await setUp();
    const ok = await t.service.app.request(
      `/v1/channels/whatsapp?hub.mode=subscribe&hub.verify_token=${VERIFY_TOKEN}&hub.challenge=12345`,
    );
    expect(ok.status).toBe(200);
    expect(await ok.text()).toBe('12345');
    const wrong = await t.service.app.request(
      '/v1/channels/whatsapp?hub.mode=subscribe&hub.verify_token=nope&hub.challenge=12345',
    );
    expect(wrong.status).toBe(403);
  });

  it('refuses a body whose X-Hub-Signature-256 does not match (401) and records nothing', async () => {
    const { t } = await setUp();
    const body = inbound('wamid.1', 'I want 2 pizzas.');
    expect((await t.webhook('whatsapp', body, signed(body, 'another-secret'))).status).toBe(401);
    expect((await t.webhook('whatsapp', body, { 'content-type': 'application/json' })).status).toBe(401);
    const tampered = body.replace('2 pizzas', '20 pizzas');
    expect((await t.webhook('whatsapp', tampered, signed(body))).status).toBe(401);
    expect(await t.store.conversations({ limit: 10 })).toEqual([]);
  });

  it('answers a burst of three with one message to the customer and one order; a redelivery is processed once', async () => {
    const { t, sent, typing } = await setUp();
    for (const [i, text] of BURST.entries()) {
      const body = inbound(`wamid.${i + 1}`, text);
      expect((await t.webhook('whatsapp', body, signed(body))).status).toBe(200);
      await new Promise((resolve) => setTimeout(resolve, 30));
    }
    const again = inbound('wamid.2', BURST[1]!);
    expect((await t.webhook('whatsapp', again, signed(again))).status).toBe(200);
    await until(() => sent().length > 0, 'the reply on WhatsApp');
    await t.service.idle();
    expect(sent()).toHaveLength(1);
    expect(sent()[0]!.body).toMatchObject({ to: CUSTOMER, type: 'text' });
    expect(sent()[0]!.body.text.body).toMatch(/pizza/i);
    expect(t.shop.orders(CONVERSATION)).toHaveLength(1);
    expect(t.shop.orders(CONVERSATION)[0]!.items).toEqual(EXPECTED_ITEMS);
    const events = await t.eventsOf(CONVERSATION);
    expect(count(events, 'message.received')).toBe(3);
    expect(events.filter((e) => e.type === 'reply.committed')).toMatchObject([
      { covers: ['wamid.1', 'wamid.2', 'wamid.3'] },
    ]);
    // The typing indicator rides on the latest inbound message, and was refreshed.
    expect(typing().length).toBeGreaterThanOrEqual(2);
    const after = typing().length;
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(typing().length).toBe(after);
  });
});
