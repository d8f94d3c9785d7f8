import { afterEach, describe, expect, it } from 'vitest';
import type { GraftEvent } from '../../src/core/events.js';
import { listen } from '../../src/server/listen.js';
import type { ConversationView } from '../../src/server/view.js';
import { testService, until, webhookReceiver } from './helpers.js';

/** The realistic latency profile, scaled down for test time. */
const LATENCY = { ttftMs: 60, perTokenMs: 2 };
const closers: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const close of closers.splice(0).reverse()) await close();
});

const BURST = ["I'd like 2 pizzas.", 'Add a cola.', 'Please add a salad.'];
const EXPECTED_ITEMS = [
  { product: 'cola', quantity: 1 },
  { product: 'pizza', quantity: 2 },
  { product: 'salad', quantity: 1 },
];

async function setUp(toolLatencyMs: number, failFirstDeliveries = 0) {
  const receiver = await webhookReceiver({ failFirst: failFirstDeliveries });
  closers.push(receiver.close);
  const t = await testService({ latency: LATENCY, toolLatencyMs, webhookUrl: receiver.url });
  closers.push(async () => {
    await t.service.idle();
    await t.close();
  });
  const has = async (type: GraftEvent['type'], n = 1) =>
    (await t.eventsOf('c1')).filter((e) => e.type === type).length >= n;
  return { t, receiver, has };
}

function checkOneReplyOneOrder(s: Awaited<ReturnType<typeof setUp>>, events: GraftEvent[]) {
  expect(s.t.shop.orders('c1')).toHaveLength(1);
  expect(s.t.shop.orders('c1')[0]!.items).toEqual(EXPECTED_ITEMS);
  expect(s.receiver.received).toHaveLength(1);
  const [delivery] = s.receiver.received;
  expect(delivery!.signed).toBe(true);
  expect(delivery!.body).toMatchObject({ conversationId: 'c1', covers: ['m1', 'm2', 'm3'], kind: 'reply' });
  expect(delivery!.deliveryHeader).toBe(delivery!.body.deliveryId);
  expect(events.filter((e) => e.type === 'reply.committed')).toHaveLength(1);
  expect(events.filter((e) => e.type === 'attempt.superseded').length).toBeGreaterThanOrEqual(1);
  expect(events.filter((e) => e.type === 'model.failed' && e.kind !== 'aborted')).toEqual([]);
}

describe('a burst of three messages gives one reply and one order', () => {
  it("through app.request(), with the second and third sent while the first attempt's create_order runs", async () => {
    const s = await setUp(400);
    expect((await s.t.post('c1', 'm1', BURST[0]!)).status).toBe(202);
    await until(() => s.has('effect.started'), 'create_order to start');
    expect((await s.t.post('c1', 'm2', BURST[1]!)).status).toBe(202);
    expect((await s.t.post('c1', 'm3', BURST[2]!)).status).toBe(202);
    expect(await s.has('effect.settled')).toBe(false);
    await until(() => s.receiver.received.length > 0, 'the reply webhook');
    await s.t.service.idle();
    const events = await s.t.eventsOf('c1');
    checkOneReplyOneOrder(s, events);
    // The attempts after the first were told about the running create_order by a graft.
    const grafted = events.some(
      (e) =>
        e.type === 'model.requested' &&
        e.entries.some((x) => x.item.type === 'function_call' && x.item.call_id.startsWith('graft_')),
    );
    expect(grafted).toBe(true);
    expect(s.t.errors).toEqual([]);
  });

  it('over real HTTP, with the second and third sent while the model generates, and a webhook that fails once', async () => {
    const s = await setUp(50, 1);
    const server = await listen(s.t.service.app, { port: 0 });
    closers.push(server.close);
    const post = (id: string, text: string) =>
      fetch(`${server.url}/v1/conversations/c1/messages`, {
        method: 'POST',
        headers: { authorization: `Bearer ${s.t.keysOf.acme}`, 'content-type': 'application/json' },
        body: JSON.stringify({ id, text }),
      });
    expect((await post('m1', BURST[0]!)).status).toBe(202);
    await until(() => s.has('model.requested'), 'the first model call');
    expect((await post('m2', BURST[1]!)).status).toBe(202);
    await until(() => s.has('model.requested', 2), 'the second attempt to call the model');
    expect((await post('m3', BURST[2]!)).status).toBe(202);
    expect((await post('m3', BURST[2]!)).status).toBe(200);
    await until(() => s.receiver.received.length > 0, 'the reply webhook', 15_000);
    await s.t.service.idle();
    const events = await s.t.eventsOf('c1');
    checkOneReplyOneOrder(s, events);
    expect(events.filter((e) => e.type === 'message.received')).toHaveLength(3);
    // The failed delivery was retried with the same delivery id (at least once per id, one reply).
    expect(s.t.errors.map(String).join('\n')).toMatch(/answered 503/);
    const view = (await (
      await fetch(`${server.url}/v1/conversations/c1`, {
        headers: { authorization: `Bearer ${s.t.keysOf.acme}` },
      })
    ).json()) as ConversationView;
    expect(view.replies).toHaveLength(1);
    expect(view.replies[0]).toMatchObject({
      status: 'delivered',
      deliveryId: s.receiver.received[0]!.body.deliveryId,
    });
    expect(view.effects).toHaveLength(1);
    expect(view.effects[0]).toMatchObject({ tool: 'create_order', status: 'done' });
    expect(view.attempts.filter((a) => a.status === 'superseded').map((a) => a.supersededBy)).toEqual([
      'm2',
      'm3',
    ]);
  });
});
