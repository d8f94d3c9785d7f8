import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ToolContext } from '../../src/tools/define-tool.js';
import { postgresAvailable, postgresSchema } from '../../test/server/postgres.js';
import { createMemoryShop } from './shop.js';
import type { AsyncShop } from './sql-shop.js';
import { asyncShop, createAsyncShopTools, createPostgresShop, createSqliteShop } from './sql-shop.js';

const pizzas = [{ product: 'pizza', quantity: 2 }];
const pizzasAndCola = [
  { product: 'cola', quantity: 1 },
  { product: 'pizza', quantity: 2 },
];

const context = (overrides: Partial<ToolContext> = {}): ToolContext => ({
  tenantId: 'demo',
  conversationId: 'conv',
  turn: 1,
  messageIds: ['m1'],
  attemptId: 'att_1',
  toolCallId: 'call_1',
  effectId: 'eff_1_0',
  idempotencyKey: 'key_1',
  ...overrides,
});

/** One suite, run against every shop. */
function shopContract(name: string, open: () => Promise<AsyncShop>) {
  describe(`the ${name} shop`, () => {
    it('numbers orders across conversations and finds the latest one per conversation', async () => {
      const shop = await open();
      const first = await shop.createOrder({ conversationId: 'a', items: pizzas, idempotencyKey: 'k1' });
      const second = await shop.createOrder({ conversationId: 'b', items: pizzas, idempotencyKey: 'k1' });
      const third = await shop.createOrder({
        conversationId: 'a',
        items: pizzasAndCola,
        idempotencyKey: 'k2',
      });
      expect([first.orderId, second.orderId, third.orderId]).toEqual(['ord_1', 'ord_2', 'ord_3']);
      expect((await shop.getOrder('a'))?.orderId).toBe('ord_3');
      expect((await shop.getOrder('a', 'ord_1'))?.items).toEqual(pizzas);
      expect(await shop.getOrder('a', 'ord_2')).toBeNull();
      expect(await shop.getOrder('a', 'nonsense')).toBeNull();
      expect(await shop.getOrder('c')).toBeNull();
      expect((await shop.orders('a')).map((o) => o.orderId)).toEqual(['ord_1', 'ord_3']);
      expect(await shop.orders()).toHaveLength(3);
    });

    it('returns the recorded result for a key that ran, and refuses it for another tool', async () => {
      const shop = await open();
      const first = await shop.createOrder({ conversationId: 'a', items: pizzas, idempotencyKey: 'k1' });
      const again = await shop.createOrder({
        conversationId: 'a',
        items: pizzasAndCola,
        idempotencyKey: 'k1',
      });
      expect(again).toEqual(first);
      expect(await shop.orders('a')).toHaveLength(1);
      await expect(
        shop.cancelOrder({ conversationId: 'a', orderId: first.orderId, idempotencyKey: 'k1' }),
      ).rejects.toThrow(/already used by create_order/);
      expect(await shop.findByKey('a', 'k1')).toEqual(first);
      expect(await shop.findByKey('a', 'k9')).toBeNull();
    });

    it('updates and cancels an order, and refuses to change a cancelled or unknown one', async () => {
      const shop = await open();
      const { orderId } = await shop.createOrder({
        conversationId: 'a',
        items: pizzas,
        idempotencyKey: 'k1',
      });
      const updated = await shop.updateOrder({
        conversationId: 'a',
        orderId,
        items: [...pizzasAndCola].reverse(),
        idempotencyKey: 'k2',
      });
      expect(updated.items).toEqual(pizzasAndCola);
      expect((await shop.cancelOrder({ conversationId: 'a', orderId, idempotencyKey: 'k3' })).status).toBe(
        'cancelled',
      );
      expect((await shop.getOrder('a', orderId))?.status).toBe('cancelled');
      await expect(
        shop.updateOrder({ conversationId: 'a', orderId, items: pizzas, idempotencyKey: 'k4' }),
      ).rejects.toThrow(/cancelled/);
      await expect(shop.cancelOrder({ conversationId: 'b', orderId, idempotencyKey: 'k5' })).rejects.toThrow(
        /does not exist/,
      );
      await expect(
        shop.createOrder({
          conversationId: 'a',
          items: [{ product: 'caviar', quantity: 1 }],
          idempotencyKey: 'k6',
        }),
      ).rejects.toThrow(/Unknown product/);
      // A rejected write records nothing: its key can run later.
      expect(await shop.findByKey('a', 'k6')).toBeNull();
    });

    it('runs as tools: results as the model sees them, reconcile by key, products listed', async () => {
      const shop = await open();
      const tools = new Map(createAsyncShopTools(shop).map((t) => [t.name, t]));
      const created = await tools.get('create_order')!.run({ items: pizzas }, context());
      expect(created).toEqual({ order_id: 'ord_1', status: 'confirmed', items: pizzas });
      expect(await tools.get('get_order')!.run({}, context())).toEqual(created);
      expect(await tools.get('create_order')!.reconcile!('key_1', context())).toEqual({
        happened: true,
        output: created,
      });
      expect(await tools.get('create_order')!.reconcile!('key_2', context())).toEqual({ happened: false });
      const products = (await tools.get('list_products')!.run({}, context())) as {
        products: { product: string }[];
      };
      expect(products.products[0]).toEqual({ product: 'pizza', price_cents: 1200 });
    });
  });
}

shopContract('memory (async)', () => Promise.resolve(asyncShop(createMemoryShop())));
shopContract('SQLite', () => Promise.resolve(createSqliteShop(new Database(':memory:'))));

const hasPostgres = await postgresAvailable();
describe.runIf(hasPostgres)('on PostgreSQL', () => {
  const schemas: Awaited<ReturnType<typeof postgresSchema>>[] = [];
  afterAll(async () => {
    for (const s of schemas) await s.drop();
  });
  shopContract('PostgreSQL', async () => {
    const schema = await postgresSchema();
    schemas.push(schema);
    return createPostgresShop(schema.sql);
  });

  let shared: Awaited<ReturnType<typeof postgresSchema>>;
  beforeAll(async () => {
    shared = await postgresSchema();
    schemas.push(shared);
  });

  it('is one shop for several instances: concurrent writes with one key make one order', async () => {
    const [a, b] = await Promise.all([
      createPostgresShop(shared.connect()),
      createPostgresShop(shared.connect()),
    ]);
    const results = await Promise.all(
      Array.from({ length: 6 }, (_, i) =>
        (i % 2 === 0 ? a : b).createOrder({ conversationId: 'c', items: pizzas, idempotencyKey: 'same' }),
      ),
    );
    expect(new Set(results.map((r) => r.orderId)).size).toBe(1);
    expect(await a.orders()).toHaveLength(1);
    expect(await b.orders('c')).toEqual(await a.orders('c'));
  });
});
