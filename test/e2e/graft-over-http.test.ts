import { afterEach, describe, expect, it } from 'vitest';
import { createMemoryShop } from '../../src/demo/shop/shop.js';
import { createShopTools } from '../../src/demo/shop/tools.js';
import type { GraftEvent } from '../../src/core/events.js';
import type { Delivery } from '../../src/core/ports.js';
import { createEmulator } from '../../src/emulator/index.js';
import { OpenAIModelClient } from '../../src/model/openai/index.js';
import { createGraft } from '../../src/runtime/graft.js';
import { MemoryStore } from '../../src/store/memory/memory-store.js';
import { defineTool } from '../../src/tools/define-tool.js';

/** The realistic latency profile, scaled down ten times for test time. */
const LATENCY = { ttftMs: 50, perTokenMs: 2 };

const closers: (() => Promise<void>)[] = [];
afterEach(async () => {
  await Promise.all(closers.splice(0).map((close) => close()));
});

async function setUp(toolLatencyMs: number, mode: 'chain' | 'stateless' = 'chain') {
  const emulator = await createEmulator({ latency: LATENCY, seed: 1 }).listen(0, '127.0.0.1');
  closers.push(() => emulator.close());
  const shop = createMemoryShop();
  const tools = createShopTools(shop).map((t) =>
    defineTool<unknown>({
      ...t,
      run: async (args, ctx) => {
        await new Promise((resolve) => setTimeout(resolve, toolLatencyMs));
        return t.run(args, ctx);
      },
    }),
  );
  const delivered: Delivery[] = [];
  const events: GraftEvent[] = [];
  const errors: unknown[] = [];
  const graft = createGraft({
    store: new MemoryStore(),
    model: new OpenAIModelClient({ apiKey: 'test', baseURL: emulator.url }),
    tools,
    mode,
    deliver: (d) => {
      delivered.push(d);
    },
    onEvent: (_c, e) => events.push(e),
    onError: (e) => errors.push(e),
  });
  const until = async (condition: () => boolean, what: string) => {
    for (const started = Date.now(); !condition();) {
      if (Date.now() - started > 10_000) throw new Error(`timed out waiting for ${what}`);
      await new Promise((resolve) => setTimeout(resolve, 2));
    }
  };
  return { graft, shop, delivered, events, errors, until };
}

describe('graft over HTTP, through the official SDK, against the emulator', () => {
  it("gives one order and one reply when the first message's create_order settled before the second", async () => {
    const t = await setUp(30);
    await t.graft.receive({ conversationId: 'c1', messageId: 'm1', text: "I'd like 2 pizzas." });
    await t.until(() => t.events.some((e) => e.type === 'effect.settled'), 'create_order to settle');
    await t.graft.receive({ conversationId: 'c1', messageId: 'm2', text: 'Add a cola.' });
    await t.until(() => t.delivered.length > 0, 'a reply');
    await t.graft.idle();
    expect(t.errors).toEqual([]);
    expect(t.shop.orders('c1')).toHaveLength(1);
    expect(t.shop.orders('c1')[0]!.items).toEqual([
      { product: 'cola', quantity: 1 },
      { product: 'pizza', quantity: 2 },
    ]);
    expect(t.delivered).toHaveLength(1);
    expect(t.delivered[0]!.covers).toEqual(['m1', 'm2']);
    // The only failed call is the superseded attempt's, aborted when M2 arrived.
    expect(t.events.filter((e) => e.type === 'model.failed' && e.kind !== 'aborted')).toEqual([]);
  });

  for (const mode of ['chain', 'stateless'] as const) {
    it(`gives one order and one reply when create_order is still running as the second message arrives (${mode} mode)`, async () => {
      const t = await setUp(400, mode);
      await t.graft.receive({ conversationId: 'c1', messageId: 'm1', text: "I'd like 2 pizzas." });
      await t.until(() => t.events.some((e) => e.type === 'effect.started'), 'create_order to start');
      await t.graft.receive({ conversationId: 'c1', messageId: 'm2', text: 'Add a cola.' });
      await t.until(() => t.delivered.length > 0, 'a reply');
      await t.graft.idle();
      expect(t.errors).toEqual([]);
      expect(t.shop.orders('c1')).toHaveLength(1);
      expect(t.shop.orders('c1')[0]!.items).toEqual([
        { product: 'cola', quantity: 1 },
        { product: 'pizza', quantity: 2 },
      ]);
      expect(t.delivered.map((d) => d.covers)).toEqual([['m1', 'm2']]);
      // The second attempt was told about the running create_order by a graft the API accepted.
      const grafted = t.events.some(
        (e) =>
          e.type === 'model.requested' &&
          e.entries.some((x) => x.item.type === 'function_call' && x.item.call_id.startsWith('graft_')),
      );
      expect(grafted).toBe(true);
      expect(t.events.filter((e) => e.type === 'model.failed' && e.kind !== 'aborted')).toEqual([]);
    });
  }
});
