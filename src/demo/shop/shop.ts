import { ToolRejection } from '../../tools/define-tool.js';
import { type Catalogue, defaultCatalogue, findProduct, MAX_LINE_QUANTITY } from './catalogue.js';

/**
 * The demo business's orders database. It is what the simulator checks at the end of a run
 * (duplicate, missing and orphaned effects), so it records every write invocation it receives,
 * whether or not the invocation changed anything.
 *
 * Every refusal is a `ToolRejection` thrown before anything changed, so graft records the call as
 * failed and may run it again. `fence` is what `reconcile` calls: it answers whether a key ran and,
 * when it did not, tombstones the key so that a late run of that call is refused.
 */

export interface OrderItem {
  product: string;
  quantity: number;
}

export type OrderStatus = 'confirmed' | 'cancelled';

export interface Order {
  /** `ord_1`, `ord_2`, … counted across the whole shop. */
  orderId: string;
  conversationId: string;
  items: OrderItem[];
  status: OrderStatus;
  /** The key of the invocation that created the order; unique per conversation. */
  idempotencyKey: string;
  /** Set when the shop was given a clock. */
  createdAt?: number;
}

export type WriteTool = 'create_order' | 'update_order' | 'cancel_order';
export type ShopTool = WriteTool | 'get_order' | 'list_products';

/** One write invocation, as the shop received it. */
export interface Invocation {
  tool: WriteTool;
  conversationId: string;
  args: unknown;
  idempotencyKey: string;
  /** False when the invocation left the shop as it was: a replayed key, a no-op update, a repeated cancel, or a rejected call. */
  changed: boolean;
  /** Why the shop rejected the invocation (it then changed nothing and threw a `ToolRejection`). */
  error?: string;
  /** Set when the key had been fenced: a late run of a call that `reconcile` said did not happen. */
  fenced?: true;
}

/** Decides whether an operation fails before it touches anything (the call throws, nothing changes). */
export type FailureHook = (tool: ShopTool, conversationId: string) => boolean;

export interface Shop {
  readonly catalogue: Catalogue;
  /** Creates an order; a key already used in the conversation returns that key's order instead. */
  createOrder(request: {
    conversationId: string;
    items: readonly OrderItem[];
    idempotencyKey: string;
  }): Order;
  /** Replaces an order's items; refuses an unknown or cancelled order. */
  updateOrder(request: {
    conversationId: string;
    orderId: string;
    items: readonly OrderItem[];
    idempotencyKey: string;
  }): Order;
  /** Cancels an order; refuses an unknown one, and changes nothing when it is already cancelled. */
  cancelOrder(request: { conversationId: string; orderId: string; idempotencyKey: string }): Order;
  /** An order of the conversation by id, or its latest order when no id is given; null when there is none. */
  getOrder(conversationId: string, orderId?: string): Order | null;
  listProducts(): { product: string; priceCents: number }[];
  /** Every order (of one conversation, when given), oldest first. */
  orders(conversationId?: string): Order[];
  /** The order a write with this key produced, if the key ran in the conversation (read-only). */
  findByKey(conversationId: string, idempotencyKey: string): Order | null;
  /**
   * What `reconcile` calls, atomically: the order the key's write produced if the key ran in the
   * conversation; otherwise a tombstone under the key and null, after which every write with the
   * key is refused (`ToolRejection` with code `fenced`). Fencing a fenced key returns null again.
   */
  fence(conversationId: string, idempotencyKey: string): Order | null;
  /** Every write invocation, in the order received. */
  invocations(): readonly Invocation[];
  /** Set by a simulator to inject failures; checked first, so a failing call changes nothing (a failing write is logged with its error). */
  failNext?: FailureHook | undefined;
}

export interface MemoryShopOptions {
  failNext?: FailureHook;
  /** The clock for `createdAt`; without one, orders carry no time. */
  now?: () => number;
}

/**
 * An injected failure: the shop did nothing, so it is a rejection (the call may run again). Its
 * `name` stays `ToolRejection`, which `ToolRejection` declares as a literal; tell it by `instanceof`.
 */
export class ShopUnavailableError extends ToolRejection {}

/**
 * What a (conversation, key) holds in the shop: the result of the write that ran under it, or the
 * tombstone a `fence` left because nothing ran under it.
 */
export type KeyRecord = { kind: 'ran'; tool: string; result: Order } | { kind: 'fenced' };

/** The shop's refusals, with the same words in every shop. Each is thrown before anything changed. */
export const refusals = {
  unknownOrder: (orderId: string) =>
    new ToolRejection(`Order '${orderId}' does not exist in this conversation.`),
  cancelledOrder: (orderId: string) =>
    new ToolRejection(`Order '${orderId}' is cancelled and can no longer be changed.`),
  keyOfAnotherTool: (used: string, tool: WriteTool) =>
    new ToolRejection(`Idempotency key already used by ${used}; it cannot be reused for ${tool}.`),
  fencedKey: (tool: WriteTool) =>
    new ToolRejection(
      `Idempotency key was fenced: reconcile found that its call did not happen, so ${tool} cannot run under it.`,
      'fenced',
    ),
};

/**
 * The result a write replays for a key that already ran (null when the key is free). Throws when
 * the key was fenced or taken by another tool.
 */
export function replayOf(tool: WriteTool, keyed: KeyRecord | undefined): Order | null {
  if (!keyed) return null;
  if (keyed.kind === 'fenced') throw refusals.fencedKey(tool);
  if (keyed.tool !== tool) throw refusals.keyOfAnotherTool(keyed.tool, tool);
  return keyed.result;
}

/** The order a key's write produced, or null when the key did not run (free or fenced). */
export function ranOrder(keyed: KeyRecord | undefined): Order | null {
  return keyed?.kind === 'ran' ? keyed.result : null;
}

/**
 * An in-memory shop. Writes are synchronous, so each is atomic; the invocation log is appended
 * before the write, as a durable shop would, so a crash between the two shows as a logged
 * invocation whose write is missing.
 *
 * @example
 * const shop = createMemoryShop();
 * const order = shop.createOrder({ conversationId: 'c1', items: [{ product: 'pizza', quantity: 2 }], idempotencyKey: 'k1' });
 * shop.cancelOrder({ conversationId: 'c1', orderId: order.orderId, idempotencyKey: 'k2' });
 */
export function createMemoryShop(
  catalogue: Catalogue = defaultCatalogue,
  options: MemoryShopOptions = {},
): Shop {
  return new MemoryShop(catalogue, options);
}

/** What a write will do, worked out before anything is recorded. */
interface PlannedWrite {
  changed: boolean;
  result: Order;
  apply: () => void;
}

class MemoryShop implements Shop {
  failNext: FailureHook | undefined;
  readonly #rows: Order[] = [];
  readonly #log: Invocation[] = [];
  /** What each (conversation, key) holds: a write's result, replayed when the key comes again, or a fence. */
  readonly #keys = new Map<string, KeyRecord>();
  readonly #now: (() => number) | undefined;
  #counter = 0;

  constructor(
    readonly catalogue: Catalogue,
    options: MemoryShopOptions,
  ) {
    this.failNext = options.failNext;
    this.#now = options.now;
  }

  createOrder(request: {
    conversationId: string;
    items: readonly OrderItem[];
    idempotencyKey: string;
  }): Order {
    const { conversationId, idempotencyKey } = request;
    return this.#write(
      'create_order',
      conversationId,
      { items: copyItems(request.items) },
      idempotencyKey,
      () => {
        const items = checkItems(this.catalogue, request.items);
        const order: Order = {
          orderId: `ord_${this.#counter + 1}`,
          conversationId,
          items,
          status: 'confirmed',
          idempotencyKey,
        };
        if (this.#now) order.createdAt = this.#now();
        const apply = () => {
          this.#counter += 1;
          this.#rows.push(order);
        };
        return { changed: true, result: order, apply };
      },
    );
  }

  updateOrder(request: {
    conversationId: string;
    orderId: string;
    items: readonly OrderItem[];
    idempotencyKey: string;
  }): Order {
    const { conversationId, orderId, idempotencyKey } = request;
    const args = { order_id: orderId, items: copyItems(request.items) };
    return this.#write('update_order', conversationId, args, idempotencyKey, () => {
      const order = this.#find(conversationId, orderId);
      if (order.status === 'cancelled') {
        throw refusals.cancelledOrder(orderId);
      }
      const items = checkItems(this.catalogue, request.items);
      const apply = () => {
        order.items = items;
      };
      return { changed: !sameItems(order.items, items), result: { ...copyOrder(order), items }, apply };
    });
  }

  cancelOrder(request: { conversationId: string; orderId: string; idempotencyKey: string }): Order {
    const { conversationId, orderId, idempotencyKey } = request;
    return this.#write('cancel_order', conversationId, { order_id: orderId }, idempotencyKey, () => {
      const order = this.#find(conversationId, orderId);
      const apply = () => {
        order.status = 'cancelled';
      };
      return {
        changed: order.status !== 'cancelled',
        result: { ...copyOrder(order), status: 'cancelled' },
        apply,
      };
    });
  }

  getOrder(conversationId: string, orderId?: string): Order | null {
    injectFailure(this, 'get_order', conversationId);
    const order =
      orderId === undefined
        ? this.#rows.filter((row) => row.conversationId === conversationId).at(-1)
        : this.#rows.find((row) => row.orderId === orderId && row.conversationId === conversationId);
    return order ? copyOrder(order) : null;
  }

  listProducts(): { product: string; priceCents: number }[] {
    injectFailure(this, 'list_products', '');
    return this.catalogue.map((entry) => ({ product: entry.product, priceCents: entry.priceCents }));
  }

  orders(conversationId?: string): Order[] {
    return this.#rows
      .filter((row) => conversationId === undefined || row.conversationId === conversationId)
      .map(copyOrder);
  }

  findByKey(conversationId: string, idempotencyKey: string): Order | null {
    const order = ranOrder(this.#keys.get(keyOf(conversationId, idempotencyKey)));
    return order ? copyOrder(order) : null;
  }

  fence(conversationId: string, idempotencyKey: string): Order | null {
    const key = keyOf(conversationId, idempotencyKey);
    const order = ranOrder(this.#keys.get(key));
    if (order) return copyOrder(order);
    this.#keys.set(key, { kind: 'fenced' });
    return null;
  }

  invocations(): readonly Invocation[] {
    return this.#log.map((entry) => ({ ...entry }));
  }

  /** The conversation's order with this id (another conversation's order does not exist here). */
  #find(conversationId: string, orderId: string): Order {
    const order = this.#rows.find((row) => row.orderId === orderId && row.conversationId === conversationId);
    if (!order) throw refusals.unknownOrder(orderId);
    return order;
  }

  /**
   * Runs one write invocation: the failure hook first, then the key (a replay of a key that already
   * ran, or a refusal of a fenced one), then the plan, then the log entry, then the write.
   * Rejections are logged too, unchanged, so the log shows every invocation the shop received.
   */
  #write(
    tool: WriteTool,
    conversationId: string,
    args: unknown,
    idempotencyKey: string,
    plan: () => PlannedWrite,
  ): Order {
    const entry = { tool, conversationId, args, idempotencyKey };
    const key = keyOf(conversationId, idempotencyKey);
    let planned: PlannedWrite;
    let replay: Order | null;
    try {
      injectFailure(this, tool, conversationId);
      replay = replayOf(tool, this.#keys.get(key));
      planned = replay ? { changed: false, result: replay, apply: () => undefined } : plan();
    } catch (error) {
      const fenced = error instanceof ToolRejection && error.code === 'fenced';
      this.#log.push({
        ...entry,
        changed: false,
        error: error instanceof Error ? error.message : String(error),
        ...(fenced ? { fenced: true as const } : {}),
      });
      throw error;
    }
    this.#log.push({ ...entry, changed: planned.changed });
    planned.apply();
    if (!replay) this.#keys.set(key, { kind: 'ran', tool, result: copyOrder(planned.result) });
    return copyOrder(planned.result);
  }
}

function keyOf(conversationId: string, idempotencyKey: string): string {
  return `${conversationId}\u0000${idempotencyKey}`;
}

function injectFailure(shop: Shop, tool: ShopTool, conversationId: string): void {
  if (shop.failNext?.(tool, conversationId)) {
    throw new ShopUnavailableError(
      `The shop is unavailable right now (${tool} failed before doing anything).`,
    );
  }
}

/** Validates an item list and returns it merged per product, sorted by product; refuses a bad one. */
export function checkItems(catalogue: Catalogue, items: readonly OrderItem[]): OrderItem[] {
  if (items.length === 0) throw new ToolRejection('An order needs at least one item.');
  const merged = new Map<string, number>();
  for (const item of items) {
    if (!findProduct(catalogue, item.product)) {
      const known = catalogue.map((entry) => entry.product).join(', ');
      throw new ToolRejection(`Unknown product '${item.product}'. Products: ${known}.`);
    }
    if (!Number.isInteger(item.quantity) || item.quantity < 1 || item.quantity > MAX_LINE_QUANTITY) {
      throw new ToolRejection(
        `Quantity of '${item.product}' must be a whole number from 1 to ${MAX_LINE_QUANTITY}.`,
      );
    }
    merged.set(item.product, (merged.get(item.product) ?? 0) + item.quantity);
  }
  const lines = [...merged].map(([product, quantity]) => ({ product, quantity }));
  if (lines.some((line) => line.quantity > MAX_LINE_QUANTITY)) {
    throw new ToolRejection(`A product's total quantity may not exceed ${MAX_LINE_QUANTITY}.`);
  }
  return lines.sort((a, b) => (a.product < b.product ? -1 : a.product > b.product ? 1 : 0));
}

function sameItems(a: readonly OrderItem[], b: readonly OrderItem[]): boolean {
  return (
    a.length === b.length &&
    a.every((item, i) => item.product === b[i]?.product && item.quantity === b[i]?.quantity)
  );
}

function copyItems(items: readonly OrderItem[]): OrderItem[] {
  return items.map((item) => ({ product: item.product, quantity: item.quantity }));
}

function copyOrder(order: Order): Order {
  return { ...order, items: copyItems(order.items) };
}
