import { afterEach, describe, expect, it } from 'vitest';
import { verifySignature } from '../../src/server/signature.js';
import { testService, until, webhookReceiver } from './helpers.js';

const closers: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const close of closers.splice(0).reverse()) await close();
});

describe('reply delivery', () => {
  it("POSTs to the tenant's own webhook, signed with its own secret, and to the service default for the others", async () => {
    const fallback = await webhookReceiver();
    const own = await webhookReceiver();
    closers.push(fallback.close, own.close);
    const t = await testService({ webhookUrl: fallback.url });
    closers.push(async () => {
      await t.service.idle();
      await t.close();
    });
    await t.keys.setTenant({
      tenantId: 'globex',
      webhookUrl: own.url,
      webhookSecret: 'globex_secret',
      inboundSecret: null,
    });
    await t.post('c1', 'm1', 'Hello!');
    await t.post('c1', 'm1', 'Hello!', t.keysOf.globex);
    await until(() => fallback.received.length === 1 && own.received.length === 1, 'both webhooks');
    expect(fallback.received[0]!.body).toMatchObject({
      tenantId: 'acme',
      conversationId: 'c1',
      covers: ['m1'],
    });
    expect(fallback.received[0]!.signed).toBe(true);
    expect(own.received[0]!.body).toMatchObject({ tenantId: 'globex', conversationId: 'c1', covers: ['m1'] });
    // Signed with globex's secret, not the default one.
    expect(own.received[0]!.signed).toBe(false);
    expect(verifySignature('globex_secret', own.received[0]!.raw, own.received[0]!.signature)).toBe(true);
    expect(fallback.received[0]!.body.deliveryId).not.toBe(own.received[0]!.body.deliveryId);
  });

  it('sends the reply on the SSE stream when there is no webhook', async () => {
    const t = await testService();
    closers.push(async () => {
      await t.service.idle();
      await t.close();
    });
    await t.post('c1', 'm1', 'Hello!');
    await until(
      async () => (await t.eventsOf('c1')).some((e) => e.type === 'reply.undelivered'),
      'the first reply',
    );
    const response = await t.request('GET', '/v1/conversations/c1/events?after=1');
    const reader = response.body!.getReader();
    let text = '';
    const readUntil = async (needle: string) => {
      while (!text.includes(needle)) text += new TextDecoder().decode((await reader.read()).value);
    };
    await readUntil('event: reply.undelivered');
    expect(text).not.toContain('id: 1\n');
    expect(text).toContain('id: 2\n');
    await t.post('c1', 'm2', 'Do you have fries?');
    while (!/event: reply\ndata: .*\n/.test(text))
      text += new TextDecoder().decode((await reader.read()).value);
    await reader.cancel();
    const reply = /event: reply\ndata: (.*)\n/.exec(text);
    expect(reply).not.toBeNull();
    expect(JSON.parse(reply![1]!)).toMatchObject({
      conversationId: 'c1',
      covers: ['m2'],
      deliveryId: expect.any(String),
    });
  });
});
