import { describe, expect, it } from 'vitest';
import { type ToolContext, toolSpec } from '../../src/tools/define-tool.js';
import { describeLine, defaultCatalogue } from './catalogue.js';
import { createMemoryShop, type ShopTool } from './shop.js';
import { createShopTools } from './tools.js';

const pizzas = [{ product: 'pizza', quantity: 2 }];
const pizzasAndCola = [
  { product: 'cola', quantity: 1 },
  { product: 'pizza', quantity: 2 },
];

function context(overrides: Partial<ToolContext> = {}): ToolContext {
  return {
    tenantId: 'tenant',
    conversationId: 'conv',
    turn: 1,
    messageIds: ['m1'],
    attemptId: 'att_1',
    toolCallId: 'call_1',
    effectId: 'eff_1_0',
    idempotencyKey: 'key_1',
    ...overrides,
  };
}

describe('the memory shop', () => {
  it('numbers orders across conversations and finds the latest one per conversation', () => {
    const shop = createMemoryShop();
    const first = shop.createOrder({ conversationId: 'a', items: pizzas, idempotencyKey: 'k1' });
    const second = shop.createOrder({ conversationId: 'b', items: pizzas, idempotencyKey: 'k1' });
    const third = shop.createOrder({ conversationId: 'a', items: pizzasAndCola, idempotencyKey: 'k2' });
    expect([first.orderId, second.orderId, third.orderId]).toEqual(['ord_1', 'ord_2', 'ord_3']);
    expect(shop.getOrder('a')?.orderId).toBe('ord_3');
    expect(shop.getOrder('a', 'ord_1')?.items).toEqual(pizzas);
    expect(shop.getOrder('a', 'ord_2')).toBeNull();
    expect(shop.getOrder('c')).toBeNull();
    expect(shop.orders('a').map((o) => o.orderId)).toEqual(['ord_1', 'ord_3']);
    expect(shop.orders()).toHaveLength(3);
  });

  it('returns the existing order for a key already used, without a new row', () => {
    const shop = createMemoryShop();
    const first = shop.createOrder({ conversationId: 'a', items: pizzas, idempotencyKey: 'k1' });
    const again = shop.createOrder({ conversationId: 'a', items: pizzasAndCola, idempotencyKey: 'k1' });
    expect(again).toEqual(first);
    expect(shop.orders('a')).toHaveLength(1);
    expect(shop.invocations().map((i) => i.changed)).toEqual([true, false]);
  });

  it('replaces the items of an order and logs a no-op update as unchanged', () => {
    const shop = createMemoryShop();
    const { orderId } = shop.createOrder({ conversationId: 'a', items: pizzas, idempotencyKey: 'k1' });
    const updated = shop.updateOrder({
      conversationId: 'a',
      orderId,
      items: pizzasAndCola,
      idempotencyKey: 'k2',
    });
    expect(updated.items).toEqual(pizzasAndCola);
    shop.updateOrder({
      conversationId: 'a',
      orderId,
      items: [...pizzasAndCola].reverse(),
      idempotencyKey: 'k3',
    });
    expect(shop.invocations()).toMatchObject([
      { tool: 'create_order', changed: true },
      { tool: 'update_order', conversationId: 'a', idempotencyKey: 'k2', changed: true },
      { tool: 'update_order', idempotencyKey: 'k3', changed: false },
    ]);
    expect(shop.getOrder('a')?.items).toEqual(pizzasAndCola);
  });

  it('refuses to update an unknown or cancelled order, and logs the refusal', () => {
    const shop = createMemoryShop();
    const { orderId } = shop.createOrder({ conversationId: 'a', items: pizzas, idempotencyKey: 'k1' });
    expect(() =>
      shop.updateOrder({ conversationId: 'b', orderId, items: pizzas, idempotencyKey: 'k2' }),
    ).toThrow(/does not exist/);
    shop.cancelOrder({ conversationId: 'a', orderId, idempotencyKey: 'k3' });
    expect(() =>
      shop.updateOrder({ conversationId: 'a', orderId, items: pizzasAndCola, idempotencyKey: 'k4' }),
    ).toThrow(/cancelled/);
    expect(shop.getOrder('a')).toMatchObject({ status: 'cancelled', items: pizzas });
    expect(shop.invocations().at(-1)).toMatchObject({
      tool: 'update_order',
      changed: false,
      error: expect.stringMatching(/cancelled/),
    });
  });

  it('cancels an order once: a repeated cancel returns it unchanged and is logged as a no-op', () => {
    const shop = createMemoryShop();
    const { orderId } = shop.createOrder({ conversationId: 'a', items: pizzas, idempotencyKey: 'k1' });
    const cancelled = shop.cancelOrder({ conversationId: 'a', orderId, idempotencyKey: 'k2' });
    const again = shop.cancelOrder({ conversationId: 'a', orderId, idempotencyKey: 'k3' });
    expect(cancelled.status).toBe('cancelled');
    expect(again).toEqual(cancelled);
    expect(shop.invocations().map((i) => [i.tool, i.changed])).toEqual([
      ['create_order', true],
      ['cancel_order', true],
      ['cancel_order', false],
    ]);
    expect(() => shop.cancelOrder({ conversationId: 'a', orderId: 'ord_9', idempotencyKey: 'k4' })).toThrow(
      /does not exist/,
    );
  });

  it('rejects unknown products and impossible quantities with a clear message', () => {
    const shop = createMemoryShop();
    expect(() =>
      shop.createOrder({
        conversationId: 'a',
        items: [{ product: 'taco', quantity: 1 }],
        idempotencyKey: 'k1',
      }),
    ).toThrow("Unknown product 'taco'. Products: pizza, burger, salad, fries, cola, water, coffee.");
    expect(() =>
      shop.createOrder({
        conversationId: 'a',
        items: [{ product: 'pizza', quantity: 0 }],
        idempotencyKey: 'k2',
      }),
    ).toThrow(/whole number from 1 to 50/);
    expect(shop.orders()).toEqual([]);
  });

  it('fails injected calls before changing anything', () => {
    const failing = new Set<ShopTool>(['create_order', 'get_order']);
    const shop = createMemoryShop(defaultCatalogue, { failNext: (tool) => failing.has(tool) });
    expect(() => shop.createOrder({ conversationId: 'a', items: pizzas, idempotencyKey: 'k1' })).toThrow(
      /unavailable/,
    );
    expect(() => shop.getOrder('a')).toThrow(/unavailable/);
    expect(shop.orders()).toEqual([]);
    expect(shop.invocations()).toMatchObject([
      { tool: 'create_order', changed: false, error: expect.any(String) },
    ]);
    shop.failNext = undefined;
    expect(shop.createOrder({ conversationId: 'a', items: pizzas, idempotencyKey: 'k1' }).orderId).toBe(
      'ord_1',
    );
  });

  it('hands out copies, so callers cannot change the shop', () => {
    const shop = createMemoryShop();
    const order = shop.createOrder({ conversationId: 'a', items: pizzas, idempotencyKey: 'k1' });
    order.items[0]!.quantity = 9;
    shop.getOrder('a')!.status = 'cancelled';
    expect(shop.getOrder('a')).toMatchObject({ status: 'confirmed', items: pizzas });
  });

  it('stamps orders with the injected clock', () => {
    const shop = createMemoryShop(defaultCatalogue, { now: () => 42 });
    expect(shop.createOrder({ conversationId: 'a', items: pizzas, idempotencyKey: 'k1' }).createdAt).toBe(42);
  });
});

describe('the catalogue', () => {
  it('describes lines with their counting unit', () => {
    expect(describeLine(defaultCatalogue, { product: 'pizza', quantity: 1 })).toBe('1 pizza');
    expect(describeLine(defaultCatalogue, { product: 'fries', quantity: 2 })).toBe('2 portions of fries');
  });
});

describe('the shop tools', () => {
  const byName = (name: string) => {
    const shop = createMemoryShop();
    const tool = createShopTools(shop).find((t) => t.name === name)!;
    return { shop, tool };
  };

  it('declares three writes and two reads', () => {
    const tools = createShopTools(createMemoryShop());
    expect(tools.map((t) => [t.name, t.effect])).toEqual([
      ['create_order', 'write'],
      ['update_order', 'write'],
      ['cancel_order', 'write'],
      ['get_order', 'read'],
      ['list_products', 'read'],
    ]);
    expect(toolSpec(tools[0]!).parameters).toMatchObject({ type: 'object', required: ['items'] });
  });

  it('rejects quantities that are not whole numbers from 1 to 50, and empty item lists', () => {
    const { tool } = byName('create_order');
    for (const quantity of [-1, 0, 51, 2.5, '2']) {
      expect(tool.parameters.safeParse({ items: [{ product: 'pizza', quantity }] }).success).toBe(false);
    }
    expect(tool.parameters.safeParse({ items: [] }).success).toBe(false);
    expect(tool.parameters.safeParse({}).success).toBe(false);
    expect(tool.parameters.safeParse({ items: [{ product: 'pizza', quantity: 50 }] }).success).toBe(true);
    expect(byName('update_order').tool.parameters.safeParse({ items: pizzas }).success).toBe(false);
    expect(byName('get_order').tool.parameters.safeParse({}).success).toBe(true);
  });

  it('creates an order under graft’s idempotency key, or the call id without one', () => {
    const { shop, tool } = byName('create_order');
    expect(tool.run({ items: pizzas }, context())).toEqual({
      order_id: 'ord_1',
      status: 'confirmed',
      items: pizzas,
    });
    expect(tool.run({ items: pizzas }, context())).toEqual({
      order_id: 'ord_1',
      status: 'confirmed',
      items: pizzas,
    });
    tool.run({ items: pizzas }, context({ idempotencyKey: null, toolCallId: 'call_7' }));
    expect(shop.orders('conv').map((o) => o.idempotencyKey)).toEqual(['key_1', 'call_7']);
  });

  it('updates, cancels and reads orders with snake_case results', () => {
    const shop = createMemoryShop();
    const [create, update, cancel, get, list] = createShopTools(shop);
    expect(get!.run({}, context({ idempotencyKey: null }))).toEqual({ status: 'not_found' });
    create!.run({ items: pizzas }, context());
    expect(
      update!.run({ order_id: 'ord_1', items: pizzasAndCola }, context({ idempotencyKey: 'key_2' })),
    ).toEqual({
      order_id: 'ord_1',
      status: 'confirmed',
      items: pizzasAndCola,
    });
    expect(cancel!.run({ order_id: 'ord_1' }, context({ idempotencyKey: 'key_3' }))).toMatchObject({
      status: 'cancelled',
    });
    expect(get!.run({ order_id: 'ord_1' }, context({ idempotencyKey: null }))).toMatchObject({
      order_id: 'ord_1',
      status: 'cancelled',
    });
    expect(list!.run({}, context({ idempotencyKey: null }))).toMatchObject({
      products: expect.arrayContaining([{ product: 'pizza', price_cents: 1200 }]),
    });
  });

  it('throws a clear error for an unknown product', () => {
    const { tool } = byName('create_order');
    expect(() => tool.run({ items: [{ product: 'taco', quantity: 1 }] }, context())).toThrow(
      /Unknown product 'taco'/,
    );
  });

  it('reconciles a key by looking up what it did', async () => {
    const { tool } = byName('create_order');
    const keyContext = { tenantId: 'tenant', conversationId: 'conv', turn: 1, messageIds: [] };
    await expect(tool.reconcile!('key_1', keyContext)).resolves.toEqual({ happened: false });
    tool.run({ items: pizzas }, context());
    await expect(tool.reconcile!('key_1', keyContext)).resolves.toEqual({
      happened: true,
      output: { order_id: 'ord_1', status: 'confirmed', items: pizzas },
    });
  });
});
