import type { Sql, TransactionSql } from 'postgres';
import {
  defineTool,
  type KeyContext,
  type ToolContext,
  type ToolDefinition,
} from '../../tools/define-tool.js';
import { type Catalogue, defaultCatalogue } from './catalogue.js';
import {
  checkItems,
  type KeyRecord,
  type Order,
  type OrderItem,
  ranOrder,
  refusals,
  replayOf,
  type Shop,
  type WriteTool,
} from './shop.js';
import {
  cancelApprovalFields,
  cancelOrderArgs,
  createOrderArgs,
  getOrderArgs,
  listProductsArgs,
  orderView,
  type ShopToolOptions,
  updateOrderArgs,
} from './tools.js';

/**
 * The demo shop in a SQL database: the same SQLite file or PostgreSQL database as graft's events,
 * in tables of its own (`shop_products`, `shop_orders`, `shop_writes`). Every write runs in one
 * transaction that records its idempotency key (unique per conversation) with its result, so a
 * key that comes again — from this instance or another one on the same PostgreSQL — gets the
 * recorded result and changes nothing.
 *
 * `fence` (what `reconcile` calls) takes a key that did not run with a tombstone: a `shop_writes`
 * row under the same primary key whose `tool` is `fence`. A write and a fence of one key both
 * insert that row, so the primary key lets exactly one of them have it; a write that finds the
 * tombstone is refused with a `ToolRejection` (code `fenced`).
 */

/** The shop, with every operation asynchronous (a database answers later). */
export interface AsyncShop {
  readonly catalogue: Catalogue;
  createOrder(request: {
    conversationId: string;
    items: readonly OrderItem[];
    idempotencyKey: string;
  }): Promise<Order>;
  updateOrder(request: {
    conversationId: string;
    orderId: string;
    items: readonly OrderItem[];
    idempotencyKey: string;
  }): Promise<Order>;
  cancelOrder(request: { conversationId: string; orderId: string; idempotencyKey: string }): Promise<Order>;
  getOrder(conversationId: string, orderId?: string): Promise<Order | null>;
  listProducts(): Promise<{ product: string; priceCents: number }[]>;
  /** Every order (of one conversation, when given), oldest first. */
  orders(conversationId?: string): Promise<Order[]>;
  /** The order a write with this key produced, if the key ran in the conversation (read-only). */
  findByKey(conversationId: string, idempotencyKey: string): Promise<Order | null>;
  /**
   * Atomically, the order the key's write produced if the key ran in the conversation; otherwise a
   * tombstone under the key and null, after which every write with the key is refused
   * (`ToolRejection` with code `fenced`). Fencing a fenced key returns null again.
   */
  fence(conversationId: string, idempotencyKey: string): Promise<Order | null>;
}

/** The subset of better-sqlite3's `Database` the shop uses. */
export interface SqliteDatabase {
  exec(source: string): unknown;
  prepare(source: string): {
    run(...params: unknown[]): { lastInsertRowid: number | bigint };
    get(...params: unknown[]): unknown;
    all(...params: unknown[]): unknown[];
  };
}

interface OrderRow {
  id: number | string;
  conversation_id: string;
  items: string;
  status: string;
  idempotency_key: string;
  created_at: number | string;
}

/** Runs synchronous work as a promise: a throw becomes a rejection, as from a real database. */
function later<T>(work: () => T): Promise<T> {
  try {
    return Promise.resolve(work());
  } catch (error) {
    return Promise.reject(error instanceof Error ? error : new Error(String(error)));
  }
}

const toOrder = (row: OrderRow): Order => ({
  orderId: `ord_${row.id}`,
  conversationId: row.conversation_id,
  items: JSON.parse(row.items) as OrderItem[],
  status: row.status === 'cancelled' ? 'cancelled' : 'confirmed',
  idempotencyKey: row.idempotency_key,
  createdAt: Number(row.created_at),
});

/** The row id of `ord_N`, or null for anything else (it then matches no order). */
const rowId = (orderId: string): number | null =>
  /^ord_[1-9]\d{0,15}$/.test(orderId) ? Number(orderId.slice(4)) : null;

/** What a write does to an existing order (create has no order). Refuses when it may not. */
function planChange(
  tool: WriteTool,
  order: Order | null,
  orderId: string,
  catalogue: Catalogue,
  items: readonly OrderItem[] | undefined,
): Order {
  if (!order) throw refusals.unknownOrder(orderId);
  if (tool === 'cancel_order') return { ...order, status: 'cancelled' };
  if (order.status === 'cancelled') throw refusals.cancelledOrder(orderId);
  return { ...order, items: checkItems(catalogue, items ?? []) };
}

/** The `tool` of a tombstone row in `shop_writes`: a fence took the key, and no write ran under it. */
const FENCE = 'fence';

/** A `shop_writes` row as it is read back. */
interface KeyRow {
  tool: string;
  /** JSON; null only while a PostgreSQL write holds its claim, which no other transaction sees. */
  result: string | null;
}

function keyRecord(row: KeyRow | undefined): KeyRecord | undefined {
  if (!row) return undefined;
  if (row.tool === FENCE) return { kind: 'fenced' };
  if (row.result === null) throw new Error(`Invariant: the committed key of ${row.tool} has no result.`);
  return { kind: 'ran', tool: row.tool, result: JSON.parse(row.result) as Order };
}

const SQLITE_SCHEMA = `
CREATE TABLE IF NOT EXISTS shop_products (product TEXT PRIMARY KEY, price_cents INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS shop_orders (
  id INTEGER PRIMARY KEY AUTOINCREMENT, conversation_id TEXT NOT NULL, items TEXT NOT NULL,
  status TEXT NOT NULL, idempotency_key TEXT NOT NULL, created_at INTEGER NOT NULL,
  UNIQUE (conversation_id, idempotency_key));
CREATE INDEX IF NOT EXISTS shop_orders_conversation ON shop_orders (conversation_id, id);
CREATE TABLE IF NOT EXISTS shop_writes (
  conversation_id TEXT NOT NULL, idempotency_key TEXT NOT NULL, tool TEXT NOT NULL, result TEXT NOT NULL,
  PRIMARY KEY (conversation_id, idempotency_key));`;

type CreateRequest = Parameters<AsyncShop['createOrder']>[0];
type ChangeRequest = {
  conversationId: string;
  orderId: string;
  idempotencyKey: string;
  items?: readonly OrderItem[];
};

/**
 * The shop in a SQLite database (better-sqlite3). Each write is one synchronous `BEGIN IMMEDIATE`
 * transaction, so nothing else on the connection can interleave with it.
 *
 * @example
 * const shop = createSqliteShop(sqliteStore.database);
 * const tools = createAsyncShopTools(shop);
 */
export function createSqliteShop(
  db: SqliteDatabase,
  catalogue: Catalogue = defaultCatalogue,
  options: { now?: () => number } = {},
): AsyncShop {
  return new SqliteShop(db, catalogue, options.now ?? Date.now);
}

class SqliteShop implements AsyncShop {
  constructor(
    private readonly db: SqliteDatabase,
    readonly catalogue: Catalogue,
    private readonly now: () => number,
  ) {
    db.exec(SQLITE_SCHEMA);
    const seed = db.prepare('INSERT OR IGNORE INTO shop_products (product, price_cents) VALUES (?, ?)');
    for (const entry of catalogue) seed.run(entry.product, entry.priceCents);
  }

  createOrder(r: CreateRequest): Promise<Order> {
    return later(() =>
      this.write('create_order', r.conversationId, r.idempotencyKey, () => {
        const items = checkItems(this.catalogue, r.items);
        const at = this.now();
        const { lastInsertRowid } = this.db
          .prepare(
            'INSERT INTO shop_orders (conversation_id, items, status, idempotency_key, created_at) VALUES (?, ?, ?, ?, ?)',
          )
          .run(r.conversationId, JSON.stringify(items), 'confirmed', r.idempotencyKey, at);
        const orderId = `ord_${lastInsertRowid}`;
        return {
          orderId,
          conversationId: r.conversationId,
          items,
          status: 'confirmed',
          idempotencyKey: r.idempotencyKey,
          createdAt: at,
        };
      }),
    );
  }

  updateOrder(r: ChangeRequest & { items: readonly OrderItem[] }): Promise<Order> {
    return later(() => this.change('update_order', r));
  }

  cancelOrder(r: ChangeRequest): Promise<Order> {
    return later(() => this.change('cancel_order', r));
  }

  getOrder(conversationId: string, orderId?: string): Promise<Order | null> {
    return later(() =>
      orderId === undefined ? (this.list(conversationId).at(-1) ?? null) : this.find(conversationId, orderId),
    );
  }

  listProducts(): Promise<{ product: string; priceCents: number }[]> {
    return later(() => {
      const rows = this.db.prepare('SELECT product, price_cents FROM shop_products ORDER BY rowid').all();
      return (rows as { product: string; price_cents: number }[]).map((row) => ({
        product: row.product,
        priceCents: Number(row.price_cents),
      }));
    });
  }

  orders(conversationId?: string): Promise<Order[]> {
    return later(() => this.list(conversationId));
  }

  findByKey(conversationId: string, key: string): Promise<Order | null> {
    return later(() => ranOrder(this.keyed(conversationId, key)));
  }

  fence(conversationId: string, key: string): Promise<Order | null> {
    return later(() =>
      this.transaction(() => {
        const keyed = this.keyed(conversationId, key);
        if (!keyed) this.record(conversationId, key, FENCE, null);
        return ranOrder(keyed);
      }),
    );
  }

  private keyed(conversationId: string, key: string): KeyRecord | undefined {
    const row = this.db
      .prepare('SELECT tool, result FROM shop_writes WHERE conversation_id = ? AND idempotency_key = ?')
      .get(conversationId, key) as KeyRow | undefined;
    return keyRecord(row);
  }

  /** Takes the key for a write (with its result) or a fence; the primary key refuses a second taker. */
  private record(conversationId: string, key: string, tool: string, result: Order | null): void {
    this.db
      .prepare('INSERT INTO shop_writes VALUES (?, ?, ?, ?)')
      .run(conversationId, key, tool, JSON.stringify(result));
  }

  private find(conversationId: string, orderId: string): Order | null {
    const row = this.db
      .prepare('SELECT * FROM shop_orders WHERE id = ? AND conversation_id = ?')
      .get(rowId(orderId), conversationId);
    return row ? toOrder(row as OrderRow) : null;
  }

  private list(conversationId?: string): Order[] {
    const rows =
      conversationId === undefined
        ? this.db.prepare('SELECT * FROM shop_orders ORDER BY id').all()
        : this.db
            .prepare('SELECT * FROM shop_orders WHERE conversation_id = ? ORDER BY id')
            .all(conversationId);
    return rows.map((row) => toOrder(row as OrderRow));
  }

  /**
   * One write, atomically: the recorded result of a key that ran, or the work and the key's record.
   * A fenced key is refused.
   */
  private write(tool: WriteTool, conversationId: string, key: string, work: () => Order): Order {
    return this.transaction(() => {
      const replay = replayOf(tool, this.keyed(conversationId, key));
      if (replay) return replay;
      const result = work();
      this.record(conversationId, key, tool, result);
      return result;
    });
  }

  /** `BEGIN IMMEDIATE` takes the database's write lock, so no other connection interleaves. */
  private transaction<T>(work: () => T): T {
    this.db.exec('BEGIN IMMEDIATE');
    try {
      const result = work();
      this.db.exec('COMMIT');
      return result;
    } catch (error) {
      this.db.exec('ROLLBACK');
      throw error;
    }
  }

  private change(tool: WriteTool, r: ChangeRequest): Order {
    return this.write(tool, r.conversationId, r.idempotencyKey, () => {
      const order = planChange(
        tool,
        this.find(r.conversationId, r.orderId),
        r.orderId,
        this.catalogue,
        r.items,
      );
      this.db
        .prepare('UPDATE shop_orders SET items = ?, status = ? WHERE id = ?')
        .run(JSON.stringify(order.items), order.status, rowId(order.orderId));
      return order;
    });
  }
}

async function migratePostgres(sql: Sql, catalogue: Catalogue): Promise<void> {
  // Several demo instances may start at once on one database: the lock serializes the migration.
  await sql.begin(async (tx) => {
    await tx`SELECT pg_advisory_xact_lock(hashtext('shop_orders'))`;
    await tx`CREATE TABLE IF NOT EXISTS shop_products (product TEXT PRIMARY KEY, price_cents INTEGER NOT NULL, position INTEGER NOT NULL)`;
    await tx`CREATE TABLE IF NOT EXISTS shop_orders (
      id BIGSERIAL PRIMARY KEY, conversation_id TEXT NOT NULL, items TEXT NOT NULL, status TEXT NOT NULL,
      idempotency_key TEXT NOT NULL, created_at BIGINT NOT NULL, UNIQUE (conversation_id, idempotency_key))`;
    await tx`CREATE INDEX IF NOT EXISTS shop_orders_conversation ON shop_orders (conversation_id, id)`;
    await tx`CREATE TABLE IF NOT EXISTS shop_writes (
      conversation_id TEXT NOT NULL, idempotency_key TEXT NOT NULL, tool TEXT NOT NULL, result TEXT,
      PRIMARY KEY (conversation_id, idempotency_key))`;
    for (const [i, entry] of catalogue.entries()) {
      await tx`INSERT INTO shop_products VALUES (${entry.product}, ${entry.priceCents}, ${i}) ON CONFLICT (product) DO NOTHING`;
    }
  });
}

/**
 * The shop in PostgreSQL (postgres.js). A write first claims its key in `shop_writes`
 * (`ON CONFLICT DO NOTHING` waits for a concurrent claim of the same key to commit), then changes
 * the order it has locked (`FOR UPDATE`), all in one transaction: several instances share one shop.
 *
 * @example
 * const shop = await createPostgresShop(postgresStore.sql);
 */
export async function createPostgresShop(
  sql: Sql,
  catalogue: Catalogue = defaultCatalogue,
  options: { now?: () => number } = {},
): Promise<AsyncShop> {
  await migratePostgres(sql, catalogue);
  return new PostgresShop(sql, catalogue, options.now ?? Date.now);
}

class PostgresShop implements AsyncShop {
  constructor(
    private readonly sql: Sql,
    readonly catalogue: Catalogue,
    private readonly now: () => number,
  ) {}

  createOrder(r: CreateRequest): Promise<Order> {
    return this.write('create_order', r.conversationId, r.idempotencyKey, async (tx) => {
      const items = checkItems(this.catalogue, r.items);
      const [row] = await tx<
        OrderRow[]
      >`INSERT INTO shop_orders (conversation_id, items, status, idempotency_key, created_at)
        VALUES (${r.conversationId}, ${JSON.stringify(items)}, 'confirmed', ${r.idempotencyKey}, ${this.now()}) RETURNING *`;
      return toOrder(row!);
    });
  }

  updateOrder(r: ChangeRequest & { items: readonly OrderItem[] }): Promise<Order> {
    return this.change('update_order', r);
  }

  cancelOrder(r: ChangeRequest): Promise<Order> {
    return this.change('cancel_order', r);
  }

  async getOrder(conversationId: string, orderId?: string): Promise<Order | null> {
    const [row] =
      orderId === undefined
        ? await this.sql<
            OrderRow[]
          >`SELECT * FROM shop_orders WHERE conversation_id = ${conversationId} ORDER BY id DESC LIMIT 1`
        : await this.sql<
            OrderRow[]
          >`SELECT * FROM shop_orders WHERE id = ${rowId(orderId)} AND conversation_id = ${conversationId}`;
    return row ? toOrder(row) : null;
  }

  async listProducts(): Promise<{ product: string; priceCents: number }[]> {
    const rows = await this.sql<
      { product: string; price_cents: number }[]
    >`SELECT product, price_cents FROM shop_products ORDER BY position`;
    return rows.map((row) => ({ product: row.product, priceCents: Number(row.price_cents) }));
  }

  async orders(conversationId?: string): Promise<Order[]> {
    const rows =
      conversationId === undefined
        ? await this.sql<OrderRow[]>`SELECT * FROM shop_orders ORDER BY id`
        : await this.sql<
            OrderRow[]
          >`SELECT * FROM shop_orders WHERE conversation_id = ${conversationId} ORDER BY id`;
    return rows.map(toOrder);
  }

  async findByKey(conversationId: string, key: string): Promise<Order | null> {
    return ranOrder(await this.keyed(this.sql, conversationId, key));
  }

  /**
   * Inserts the tombstone unless the key is taken. `ON CONFLICT DO NOTHING` waits for a write
   * that holds the key uncommitted: if it commits, the fence reads its result; if it rolls back,
   * the fence takes the key. A committed row never changes, so the read needs no transaction.
   */
  async fence(conversationId: string, key: string): Promise<Order | null> {
    const taken = await this.sql`INSERT INTO shop_writes (conversation_id, idempotency_key, tool, result)
      VALUES (${conversationId}, ${key}, ${FENCE}, 'null') ON CONFLICT DO NOTHING RETURNING 1`;
    if (taken.length > 0) return null;
    return ranOrder(await this.keyed(this.sql, conversationId, key));
  }

  private async keyed(sql: Sql | TransactionSql, conversationId: string, key: string) {
    const [row] = await sql<KeyRow[]>`SELECT tool, result FROM shop_writes
      WHERE conversation_id = ${conversationId} AND idempotency_key = ${key}`;
    return keyRecord(row);
  }

  /**
   * One write: claims the key (or returns what it recorded, or is refused when the key is fenced),
   * does the work, records the result.
   */
  private write(
    tool: WriteTool,
    conversationId: string,
    key: string,
    work: (tx: TransactionSql) => Promise<Order>,
  ): Promise<Order> {
    return this.sql.begin<Order>(async (tx) => {
      const claimed = await tx`INSERT INTO shop_writes (conversation_id, idempotency_key, tool)
        VALUES (${conversationId}, ${key}, ${tool}) ON CONFLICT DO NOTHING RETURNING 1`;
      if (claimed.length === 0) {
        const replay = replayOf(tool, await this.keyed(tx, conversationId, key));
        if (!replay) throw new Error(`Invariant: the key of ${tool} conflicted, but no row holds it.`);
        return replay;
      }
      const result = await work(tx);
      await tx`UPDATE shop_writes SET result = ${JSON.stringify(result)}
        WHERE conversation_id = ${conversationId} AND idempotency_key = ${key}`;
      return result;
    });
  }

  private change(tool: WriteTool, r: ChangeRequest): Promise<Order> {
    return this.write(tool, r.conversationId, r.idempotencyKey, async (tx) => {
      const [row] = await tx<OrderRow[]>`SELECT * FROM shop_orders
        WHERE id = ${rowId(r.orderId)} AND conversation_id = ${r.conversationId} FOR UPDATE`;
      const order = planChange(tool, row ? toOrder(row) : null, r.orderId, this.catalogue, r.items);
      await tx`UPDATE shop_orders SET items = ${JSON.stringify(order.items)}, status = ${order.status} WHERE id = ${rowId(order.orderId)}`;
      return order;
    });
  }
}

/** The memory shop behind the asynchronous interface (the demo on the in-memory store). */
export function asyncShop(shop: Shop): AsyncShop {
  return {
    catalogue: shop.catalogue,
    createOrder: (r) => later(() => shop.createOrder(r)),
    updateOrder: (r) => later(() => shop.updateOrder(r)),
    cancelOrder: (r) => later(() => shop.cancelOrder(r)),
    getOrder: (conversationId, orderId) => later(() => shop.getOrder(conversationId, orderId)),
    listProducts: () => later(() => shop.listProducts()),
    orders: (conversationId) => later(() => shop.orders(conversationId)),
    findByKey: (conversationId, key) => later(() => shop.findByKey(conversationId, key)),
    fence: (conversationId, key) => later(() => shop.fence(conversationId, key)),
  };
}

const writeKey = (ctx: ToolContext): string => ctx.idempotencyKey ?? ctx.toolCallId;

/**
 * The shop's five tools over an asynchronous shop: the same names, descriptions, schemas and
 * options as `createShopTools`, with `run` returning a promise. Refusals reject with a
 * `ToolRejection`; a database error leaves the outcome unknown, and `reconcile` then fences the
 * key. With `cancelApproval`, a cancellation waits for a person's approval (`graft.decide`).
 *
 * @example
 * const tools = createAsyncShopTools(createSqliteShop(database), { cancelApproval: true });
 */
export function createAsyncShopTools(
  shop: AsyncShop,
  options: ShopToolOptions = {},
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- each tool has its own argument type
): ToolDefinition<any>[] {
  // `fence` makes "did not happen" final: a late run of the call is refused.
  const reconcile = async (key: string, ctx: KeyContext) => {
    const order = await shop.fence(ctx.conversationId, key);
    return order ? { happened: true as const, output: orderView(order) } : { happened: false as const };
  };
  return [
    defineTool({
      name: 'create_order',
      description:
        'Create a new order for this conversation with the given items. Only when the customer has no open order.',
      parameters: createOrderArgs,
      effect: 'write',
      reconcile,
      run: async ({ items }, ctx) =>
        orderView(
          await shop.createOrder({
            conversationId: ctx.conversationId,
            items,
            idempotencyKey: writeKey(ctx),
          }),
        ),
    }),
    defineTool({
      name: 'update_order',
      description: "Replace the items of the customer's open order with the complete new item list.",
      parameters: updateOrderArgs,
      effect: 'write',
      reconcile,
      run: async ({ order_id, items }, ctx) =>
        orderView(
          await shop.updateOrder({
            conversationId: ctx.conversationId,
            orderId: order_id,
            items,
            idempotencyKey: writeKey(ctx),
          }),
        ),
    }),
    defineTool({
      name: 'cancel_order',
      description: "Cancel the customer's order.",
      parameters: cancelOrderArgs,
      effect: 'write',
      reconcile,
      ...cancelApprovalFields(options),
      run: async ({ order_id }, ctx) =>
        orderView(
          await shop.cancelOrder({
            conversationId: ctx.conversationId,
            orderId: order_id,
            idempotencyKey: writeKey(ctx),
          }),
        ),
    }),
    defineTool({
      name: 'get_order',
      description: "Look up one of the customer's orders (by default the latest) and its status.",
      parameters: getOrderArgs,
      effect: 'read',
      run: async ({ order_id }, ctx) => {
        const order = await shop.getOrder(ctx.conversationId, order_id);
        return order ? orderView(order) : { status: 'not_found' };
      },
    }),
    defineTool({
      name: 'list_products',
      description: 'List the products the shop sells, with prices in cents.',
      parameters: listProductsArgs,
      effect: 'read',
      run: async () => ({
        products: (await shop.listProducts()).map((e) => ({ product: e.product, price_cents: e.priceCents })),
      }),
    }),
  ];
}
