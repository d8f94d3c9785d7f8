import { z } from 'zod';
import { defineTool, type ToolContext, type ToolDefinition } from '../../tools/define-tool.js';
import { MAX_LINE_QUANTITY } from './catalogue.js';
import type { Order, Shop } from './shop.js';

/**
 * The demo shop's tools, as the model sees them. Results use the API's snake_case because they
 * are sent to the model as JSON text.
 */

const orderLine = z.object({
  product: z.string().min(1).max(64).describe('The product id, as list_products names it, e.g. "pizza".'),
  quantity: z.number().int().min(1).max(MAX_LINE_QUANTITY),
});

const itemList = z.array(orderLine).min(1).max(20);

export const createOrderArgs = z.object({ items: itemList });
export const updateOrderArgs = z.object({
  order_id: z.string().min(1).max(64),
  items: itemList.describe('The complete new item list; it replaces the old one.'),
});
export const cancelOrderArgs = z.object({ order_id: z.string().min(1).max(64) });
export const getOrderArgs = z.object({
  order_id: z
    .string()
    .min(1)
    .max(64)
    .optional()
    .describe('Leave out to get the latest order of this conversation.'),
});
export const listProductsArgs = z.object({});

/** An order as the tools return it. */
export interface OrderView {
  order_id: string;
  status: Order['status'];
  items: { product: string; quantity: number }[];
}

/** The order as a tool result. */
export function orderView(order: Order): OrderView {
  return {
    order_id: order.orderId,
    status: order.status,
    items: order.items.map((item) => ({ product: item.product, quantity: item.quantity })),
  };
}

/** The key a write stores: graft's scoped key, or the call id when a host runs tools without graft. */
function writeKey(ctx: ToolContext): string {
  return ctx.idempotencyKey ?? ctx.toolCallId;
}

/** Options of `createShopTools` and `createAsyncShopTools`. */
export interface ShopToolOptions {
  /**
   * `cancel_order` needs a person's approval (the demo turns it on), and a request waits this long
   * for a decision (default: the tool default, 24 hours).
   */
  cancelApproval?: boolean | { timeoutMs: number };
}

/** The approval fields of `cancel_order` under these options (none without `cancelApproval`). */
export function cancelApprovalFields(options: ShopToolOptions): {
  approval?: true;
  approvalTimeoutMs?: number;
} {
  const approval = options.cancelApproval;
  if (!approval) return {};
  return typeof approval === 'object'
    ? { approval: true, approvalTimeoutMs: approval.timeoutMs }
    : { approval: true };
}

/**
 * The shop's five tools: three writes (`create_order`, `update_order`, `cancel_order`) and two
 * reads (`get_order`, `list_products`). Refusals (an unknown product or order, a cancelled order,
 * a fenced key) throw a `ToolRejection`, which graft records as a failed call that changed
 * nothing. `reconcile` answers from the shop's key record and fences a key that did not run, so a
 * late run of that call is refused instead of writing. With `cancelApproval`, a cancellation
 * waits for a person's approval (`graft.decide`).
 *
 * @example
 * const tools = createShopTools(createMemoryShop(), { cancelApproval: true });
 * const graft = createGraft({ store, model, tools, deliver });
 */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- each tool has its own argument type; hosts validate with the tool's schema.
export function createShopTools(shop: Shop, options: ShopToolOptions = {}): ToolDefinition<any>[] {
  const reconcile = (key: string, ctx: { conversationId: string }) => {
    const order = shop.fence(ctx.conversationId, key);
    return Promise.resolve(
      order ? { happened: true as const, output: orderView(order) } : { happened: false as const },
    );
  };
  return [
    defineTool({
      name: 'create_order',
      description:
        'Create a new order for this conversation with the given items. Only when the customer has no open order.',
      parameters: createOrderArgs,
      effect: 'write',
      reconcile,
      run: ({ items }, ctx) =>
        orderView(
          shop.createOrder({ conversationId: ctx.conversationId, items, idempotencyKey: writeKey(ctx) }),
        ),
    }),
    defineTool({
      name: 'update_order',
      description: "Replace the items of the customer's open order with the complete new item list.",
      parameters: updateOrderArgs,
      effect: 'write',
      reconcile,
      run: ({ order_id, items }, ctx) =>
        orderView(
          shop.updateOrder({
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
      run: ({ order_id }, ctx) =>
        orderView(
          shop.cancelOrder({
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
      run: ({ order_id }, ctx) => {
        const order = shop.getOrder(ctx.conversationId, order_id);
        return order ? orderView(order) : { status: 'not_found' };
      },
    }),
    defineTool({
      name: 'list_products',
      description: 'List the products the shop sells, with prices in cents.',
      parameters: listProductsArgs,
      effect: 'read',
      run: () => ({
        products: shop
          .listProducts()
          .map((entry) => ({ product: entry.product, price_cents: entry.priceCents })),
      }),
    }),
  ];
}
