import { describe, expect, it } from 'vitest';
import { type ToolContext, ToolRejection, toolSpec } from '../../tools/define-tool.js';
import { describeLine, defaultCatalogue } from './catalogue.js';
import { createMemoryShop, type Shop, ShopUnavailableError, type ShopTool } from './shop.js';
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
    signal: new AbortController().signal,
    ...overrides,
  };
}

/** What `fn` threw (it must throw). */
function thrown(fn: () => unknown): unknown {
  try {
    fn();
  } catch (error) {
    return error;
  }
  throw new Error('expected a throw');
}

/** Asserts that `fn` throws a `ToolRejection` with this code. */
function expectRejection(fn: () => unknown, code: ToolRejection['code']): void {
  const error = thrown(fn);
  expect(error).toBeInstanceOf(ToolRejection);
  expect((error as ToolRejection).code).toBe(code);
}

/** A shop with one confirmed order `ord_1` (key `k1`) and one cancelled order `ord_2` (keys `k2`, `k3`) in conversation `a`. */
function shopWithOrders(): Shop {
  const shop = createMemoryShop();
  shop.createOrder({ conversationId: 'a', items: pizzas, idempotencyKey: 'k1' });
  shop.createOrder({ conversationId: 'a', items: pizzas, idempotencyKey: 'k2' });
  shop.cancelOrder({ conversationId: 'a', orderId: 'ord_2', idempotencyKey: 'k3' });
  return shop;
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

  it('refuses every invalid write with a ToolRejection before changing anything', () => {
    const shop = shopWithOrders();
    const before = shop.orders();
    const refusals = [
      () => shop.updateOrder({ conversationId: 'a', orderId: 'ord_9', items: pizzas, idempotencyKey: 'r1' }),
      () => shop.cancelOrder({ conversationId: 'b', orderId: 'ord_1', idempotencyKey: 'r2' }),
      () => shop.updateOrder({ conversationId: 'a', orderId: 'ord_2', items: pizzas, idempotencyKey: 'r3' }),
      () =>
        shop.createOrder({
          conversationId: 'a',
          items: [{ product: 'taco', quantity: 1 }],
          idempotencyKey: 'r4',
        }),
      () =>
        shop.createOrder({
          conversationId: 'a',
          items: [{ product: 'pizza', quantity: 51 }],
          idempotencyKey: 'r5',
        }),
      () => shop.createOrder({ conversationId: 'a', items: [], idempotencyKey: 'r6' }),
      () => shop.cancelOrder({ conversationId: 'a', orderId: 'ord_1', idempotencyKey: 'k1' }),
    ];
    for (const refuse of refusals) {
      expectRejection(refuse, 'rejected');
    }
    expect(shop.orders()).toEqual(before);
    expect(shop.invocations().slice(-refusals.length)).toEqual(
      refusals.map((): unknown => expect.objectContaining({ changed: false, error: expect.any(String) })),
    );
    expect(shop.invocations().some((i) => i.fenced)).toBe(false);
  });

  it('fails injected calls with a ShopUnavailableError, which is a ToolRejection', () => {
    const shop = createMemoryShop(defaultCatalogue, { failNext: () => true });
    const error = thrown(() =>
      shop.createOrder({ conversationId: 'a', items: pizzas, idempotencyKey: 'k1' }),
    );
    expect(error).toBeInstanceOf(ShopUnavailableError);
    expect(error).toBeInstanceOf(ToolRejection);
    expect(error).toMatchObject({ code: 'rejected' });
  });

  it('fences a key that ran by returning its order, and the key still replays', () => {
    const shop = shopWithOrders();
    const created = shop.getOrder('a', 'ord_1')!;
    expect(shop.fence('a', 'k1')).toEqual(created);
    expect(shop.fence('a', 'k3')).toMatchObject({ orderId: 'ord_2', status: 'cancelled' });
    expect(shop.createOrder({ conversationId: 'a', items: pizzas, idempotencyKey: 'k1' })).toEqual(created);
    expect(shop.orders('a')).toHaveLength(2);
  });

  it('fences an unused key with a tombstone: a later create, update or cancel with it is refused as fenced, changes nothing and is logged as fenced', () => {
    const shop = shopWithOrders();
    const before = shop.orders();
    const logged = shop.invocations().length;
    expect(shop.fence('a', 'late')).toBeNull();
    const lateRuns = [
      () => shop.createOrder({ conversationId: 'a', items: pizzas, idempotencyKey: 'late' }),
      () =>
        shop.updateOrder({
          conversationId: 'a',
          orderId: 'ord_1',
          items: pizzasAndCola,
          idempotencyKey: 'late',
        }),
      () => shop.cancelOrder({ conversationId: 'a', orderId: 'ord_1', idempotencyKey: 'late' }),
    ];
    for (const run of lateRuns) {
      expectRejection(run, 'fenced');
    }
    expect(shop.orders()).toEqual(before);
    expect(shop.findByKey('a', 'late')).toBeNull();
    expect(shop.invocations().slice(logged)).toEqual(
      (['create_order', 'update_order', 'cancel_order'] as const).map((tool) => ({
        tool,
        conversationId: 'a',
        args: expect.anything(),
        idempotencyKey: 'late',
        changed: false,
        fenced: true,
        error: expect.stringMatching(/fenced/),
      })),
    );
  });

  it('fences per conversation: the same key in another conversation still runs', () => {
    const shop = createMemoryShop();
    expect(shop.fence('a', 'k1')).toBeNull();
    expect(shop.createOrder({ conversationId: 'b', items: pizzas, idempotencyKey: 'k1' }).orderId).toBe(
      'ord_1',
    );
  });

  it('fences idempotently: fencing a fenced key returns null again and keeps it fenced', () => {
    const shop = createMemoryShop();
    expect(shop.fence('a', 'k1')).toBeNull();
    expect(shop.fence('a', 'k1')).toBeNull();
    expectRejection(
      () => shop.createOrder({ conversationId: 'a', items: pizzas, idempotencyKey: 'k1' }),
      'fenced',
    );
    expect(shop.fence('a', 'k1')).toBeNull();
    expect(shop.orders()).toEqual([]);
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

  it('rejects an unknown product with a clear ToolRejection', () => {
    const { tool } = byName('create_order');
    expect(() => tool.run({ items: [{ product: 'taco', quantity: 1 }] }, context())).toThrow(
      /Unknown product 'taco'/,
    );
    expectRejection(() => tool.run({ items: [{ product: 'taco', quantity: 1 }] }, context()), 'rejected');
  });

  it('reconciles a key that ran as happened, with the order it made', async () => {
    const { tool } = byName('create_order');
    const keyContext = { tenantId: 'tenant', conversationId: 'conv', turn: 1, messageIds: [] };
    tool.run({ items: pizzas }, context());
    await expect(tool.reconcile!('key_1', keyContext)).resolves.toEqual({
      happened: true,
      output: { order_id: 'ord_1', status: 'confirmed', items: pizzas },
    });
  });

  it('reconciles a key that did not run as not happened, fenced: a late run of the call is refused', async () => {
    const { shop, tool } = byName('create_order');
    const keyContext = { tenantId: 'tenant', conversationId: 'conv', turn: 1, messageIds: [] };
    await expect(tool.reconcile!('key_1', keyContext)).resolves.toEqual({ happened: false });
    expectRejection(() => tool.run({ items: pizzas }, context()), 'fenced');
    expect(shop.orders()).toEqual([]);
    await expect(tool.reconcile!('key_1', keyContext)).resolves.toEqual({ happened: false });
  });
});
