import { afterEach, describe, expect, it } from 'vitest';
import type { GraftEvent } from '../src/core/events.js';
import type { Delivery } from '../src/core/ports.js';
import { createMemoryShop } from '../src/demo/shop/shop.js';
import { createShopTools } from '../src/demo/shop/tools.js';
import { createEmulator } from '../src/emulator/index.js';
import { OpenAIModelClient } from '../src/model/openai/index.js';
import { createGraft } from '../src/runtime/graft.js';
import { MemoryStore } from '../src/store/memory/memory-store.js';

/**
 * The demo exercises graft's write gate with parallel calls: a customer who cancels the order and
 * orders something else in one message gets `cancel_order` and `create_order` in one response
 * from the emulator's shop clerk, and graft starts both as one batch.
 */

const closers: (() => Promise<void>)[] = [];
afterEach(async () => {
  await Promise.all(closers.splice(0).map((close) => close()));
});

async function setUp(cancelApproval: boolean) {
  const emulator = await createEmulator({ latency: 'zero', seed: 1 }).listen(0, '127.0.0.1');
  closers.push(() => emulator.close());
  const shop = createMemoryShop();
  const delivered: Delivery[] = [];
  const events: GraftEvent[] = [];
  const errors: unknown[] = [];
  const graft = createGraft({
    store: new MemoryStore(),
    model: new OpenAIModelClient({ apiKey: 'test', baseURL: emulator.url }),
    tools: createShopTools(shop, { cancelApproval }),
    deliver: (d) => {
      delivered.push(d);
    },
    onEvent: (_c, e) => events.push(e),
    onError: (e) => errors.push(e),
  });
  closers.push(async () => graft.close());
  const say = async (messageId: string, text: string) => {
    const before = delivered.length;
    await graft.receive({ conversationId: 'c1', messageId, text });
    for (const started = Date.now(); delivered.length === before;) {
      if (Date.now() - started > 10_000) throw new Error(`no reply to ${messageId}`);
      await new Promise((resolve) => setTimeout(resolve, 2));
    }
    await graft.idle();
    return delivered.at(-1)!.text;
  };
  return { graft, shop, events, errors, say };
}

function batches(events: GraftEvent[]): string[][] {
  return events.flatMap((e) => (e.type === 'effect.started' ? [e.effects.map((effect) => effect.tool)] : []));
}

describe('parallel calls through graft', () => {
  it('cancels the order and places the new one as one batch of writes', async () => {
    const t = await setUp(false);
    expect(await t.say('m1', "I'd like 2 pizzas.")).toContain('ord_1');
    const reply = await t.say('m2', 'Cancel ord_1 and order 3 colas instead.');
    expect(reply).toBe(
      'Your order ord_1 is cancelled, and your new order ord_2 is confirmed: 3 colas. Anything else I can get you?',
    );
    expect(batches(t.events)).toEqual([['create_order'], ['cancel_order', 'create_order']]);
    expect(t.shop.orders('c1').map((o) => [o.orderId, o.status])).toEqual([
      ['ord_1', 'cancelled'],
      ['ord_2', 'confirmed'],
    ]);
    expect(t.errors).toEqual([]);
  });

  it('with cancellations approved by a person, places the new order and waits for the decision on the old one', async () => {
    const t = await setUp(true);
    await t.say('m1', "I'd like 2 pizzas.");
    const reply = await t.say('m2', 'Cancel ord_1 and order 3 colas instead.');
    expect(batches(t.events)).toEqual([['create_order'], ['cancel_order', 'create_order']]);
    expect(reply).toContain('A colleague needs to confirm the cancellation of order ord_1');
    expect(reply).toContain('Your new order ord_2 is confirmed: 3 colas.');
    const [request] = await t.graft.approvals();
    await t.graft.decide(request!.id, { decision: 'approve', operator: 'ana' });
    for (const started = Date.now(); t.shop.orders('c1')[0]!.status !== 'cancelled';) {
      if (Date.now() - started > 10_000) throw new Error('the approved cancellation did not run');
      await new Promise((resolve) => setTimeout(resolve, 2));
    }
    await t.graft.idle();
    expect(t.shop.orders('c1').map((o) => [o.orderId, o.status])).toEqual([
      ['ord_1', 'cancelled'],
      ['ord_2', 'confirmed'],
    ]);
    expect(t.errors).toEqual([]);
  });
});
