import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ToolContext, ToolRejection } from '../../tools/define-tool.js';
import { describePostgres, postgresSchema } from '../../../test/postgres.js';
import { createMemoryShop, type Order } from './shop.js';
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
  signal: new AbortController().signal,
  ...overrides,
});

/** Asserts that `promise` rejects with a `ToolRejection` with this code. */
async function expectRejection(promise: Promise<unknown>, code: ToolRejection['code']): Promise<void> {
  const error = await promise.then(
    () => new Error('expected a rejection'),
    (reason: unknown) => reason,
  );
  expect(error).toBeInstanceOf(ToolRejection);
  expect((error as ToolRejection).code).toBe(code);
}

/**
 * Starts a create and a fence of one key together (in the order given) and checks that exactly one
 * took the key: the create made its order and the fence answered with it, or the fence answered
 * null and the create was refused as fenced. Returns which one took it.
 */
async function raceFenceAndCreate(
  creator: AsyncShop,
  fencer: AsyncShop,
  key: string,
  fenceFirst: boolean,
): Promise<'create' | 'fence'> {
  const create = () => creator.createOrder({ conversationId: 'race', items: pizzas, idempotencyKey: key });
  const fence = () => fencer.fence('race', key);
  let created: Promise<Order>;
  let fenced: Promise<Order | null>;
  if (fenceFirst) {
    fenced = fence();
    created = create();
  } else {
    created = create();
    fenced = fence();
  }
  const [write, tombstone] = await Promise.allSettled([created, fenced]);
  if (tombstone.status === 'rejected') throw tombstone.reason;
  if (write.status === 'fulfilled') {
    expect(tombstone.value).toEqual(write.value);
    return 'create';
  }
  expect(tombstone.value).toBeNull();
  await expectRejection(Promise.reject(write.reason as Error), 'fenced');
  return 'fence';
}

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

    it('refuses every invalid write with a ToolRejection and records nothing', async () => {
      const shop = await open();
      await shop.createOrder({ conversationId: 'a', items: pizzas, idempotencyKey: 'k1' });
      await shop.cancelOrder({ conversationId: 'a', orderId: 'ord_1', idempotencyKey: 'k2' });
      const before = await shop.orders();
      const refusals = [
        () =>
          shop.updateOrder({ conversationId: 'a', orderId: 'ord_9', items: pizzas, idempotencyKey: 'r1' }),
        () => shop.cancelOrder({ conversationId: 'b', orderId: 'ord_1', idempotencyKey: 'r2' }),
        () =>
          shop.updateOrder({ conversationId: 'a', orderId: 'ord_1', items: pizzas, idempotencyKey: 'r3' }),
        () =>
          shop.createOrder({
            conversationId: 'a',
            items: [{ product: 'taco', quantity: 1 }],
            idempotencyKey: 'r4',
          }),
        () =>
          shop.createOrder({
            conversationId: 'a',
            items: [{ product: 'pizza', quantity: 0 }],
            idempotencyKey: 'r5',
          }),
        () => shop.createOrder({ conversationId: 'a', items: [], idempotencyKey: 'r6' }),
        () => shop.createOrder({ conversationId: 'a', items: pizzas, idempotencyKey: 'k2' }),
      ];
      for (const refuse of refusals) await expectRejection(refuse(), 'rejected');
      expect(await shop.orders()).toEqual(before);
      for (const key of ['r1', 'r2', 'r3', 'r4', 'r5', 'r6'])
        expect(await shop.findByKey('a', key)).toBeNull();
    });

    it('fences a key that ran by returning its order, and the key still replays', async () => {
      const shop = await open();
      const created = await shop.createOrder({ conversationId: 'a', items: pizzas, idempotencyKey: 'k1' });
      const cancelled = await shop.cancelOrder({
        conversationId: 'a',
        orderId: created.orderId,
        idempotencyKey: 'k2',
      });
      expect(await shop.fence('a', 'k1')).toEqual(created);
      expect(await shop.fence('a', 'k2')).toEqual(cancelled);
      expect(await shop.createOrder({ conversationId: 'a', items: pizzas, idempotencyKey: 'k1' })).toEqual(
        created,
      );
      expect(await shop.orders()).toHaveLength(1);
    });

    it('fences an unused key with a tombstone: a later create, update or cancel with it is refused as fenced and changes nothing', async () => {
      const shop = await open();
      const { orderId } = await shop.createOrder({
        conversationId: 'a',
        items: pizzas,
        idempotencyKey: 'k1',
      });
      const before = await shop.orders();
      expect(await shop.fence('a', 'late')).toBeNull();
      await expectRejection(
        shop.createOrder({ conversationId: 'a', items: pizzas, idempotencyKey: 'late' }),
        'fenced',
      );
      await expectRejection(
        shop.updateOrder({ conversationId: 'a', orderId, items: pizzasAndCola, idempotencyKey: 'late' }),
        'fenced',
      );
      await expectRejection(
        shop.cancelOrder({ conversationId: 'a', orderId, idempotencyKey: 'late' }),
        'fenced',
      );
      expect(await shop.orders()).toEqual(before);
      expect(await shop.findByKey('a', 'late')).toBeNull();
      // The fence is per conversation.
      expect(
        (await shop.createOrder({ conversationId: 'b', items: pizzas, idempotencyKey: 'late' })).status,
      ).toBe('confirmed');
    });

    it('fences idempotently: fencing a fenced key returns null again and keeps it fenced', async () => {
      const shop = await open();
      expect(await shop.fence('a', 'k1')).toBeNull();
      expect(await shop.fence('a', 'k1')).toBeNull();
      await expectRejection(
        shop.createOrder({ conversationId: 'a', items: pizzas, idempotencyKey: 'k1' }),
        'fenced',
      );
      expect(await shop.fence('a', 'k1')).toBeNull();
      expect(await shop.orders()).toEqual([]);
    });

    it('lets exactly one of a fence and a create of the same key, started together, take the key', async () => {
      const shop = await open();
      const winners = [];
      for (let i = 0; i < 10; i += 1)
        winners.push(await raceFenceAndCreate(shop, shop, `race_${i}`, i % 2 === 1));
      expect(await shop.orders('race')).toHaveLength(winners.filter((w) => w === 'create').length);
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
      // "Did not happen" is a fence: a late run of that call is refused.
      await expectRejection(
        Promise.resolve(
          tools.get('create_order')!.run({ items: pizzas }, context({ idempotencyKey: 'key_2' })),
        ),
        'fenced',
      );
      expect(await shop.orders()).toHaveLength(1);
      const products = (await tools.get('list_products')!.run({}, context())) as {
        products: { product: string }[];
      };
      expect(products.products[0]).toEqual({ product: 'pizza', price_cents: 1200 });
    });
  });
}

shopContract('memory (async)', () => Promise.resolve(asyncShop(createMemoryShop())));
shopContract('SQLite', () => Promise.resolve(createSqliteShop(new Database(':memory:'))));

describePostgres('on PostgreSQL', () => {
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

  it('lets exactly one of a fence and a create of the same key on two instances take the key', async () => {
    const schema = await postgresSchema();
    schemas.push(schema);
    const [a, b] = await Promise.all([
      createPostgresShop(schema.connect()),
      createPostgresShop(schema.connect()),
    ]);
    const winners = await Promise.all(
      Array.from({ length: 40 }, (_, i) => raceFenceAndCreate(a, b, `race_${i}`, i % 2 === 1)),
    );
    expect(await a.orders('race')).toHaveLength(winners.filter((w) => w === 'create').length);
  });

  it('makes a fence wait for a write that holds the key uncommitted, then answer with what the write did', async () => {
    const schema = await postgresSchema();
    schemas.push(schema);
    const shop = await createPostgresShop(schema.sql);
    const writer = schema.connect();
    for (const outcome of ['commit', 'roll back'] as const) {
      const key = `held_${outcome}`;
      const order: Order = {
        orderId: 'ord_1',
        conversationId: 'h',
        items: pizzas,
        status: 'confirmed',
        idempotencyKey: key,
        createdAt: 0,
      };
      let fenced: Promise<Order | null> | undefined;
      let answered = false;
      // The shop's own write in slow motion: claim the key, wait, record the result, then end.
      const write = writer.begin(async (tx) => {
        await tx`INSERT INTO shop_writes (conversation_id, idempotency_key, tool) VALUES ('h', ${key}, 'create_order')`;
        fenced = shop.fence('h', key).finally(() => {
          answered = true;
        });
        await new Promise((resolve) => setTimeout(resolve, 200));
        expect(answered).toBe(false);
        await tx`UPDATE shop_writes SET result = ${JSON.stringify(order)} WHERE conversation_id = 'h' AND idempotency_key = ${key}`;
        if (outcome === 'roll back') throw new Error('the write rolls back');
      });
      if (outcome === 'commit') {
        await write;
        expect(await fenced).toEqual(order);
      } else {
        await expect(write).rejects.toThrow('the write rolls back');
        expect(await fenced).toBeNull();
        await expectRejection(
          shop.createOrder({ conversationId: 'h', items: pizzas, idempotencyKey: key }),
          'fenced',
        );
      }
    }
  });
});
