import { createMemoryShop, type Order, type Shop } from '../../src/demo/shop/shop.js';
import { ToolRejection } from '../../src/tools/define-tool.js';
import { listenJson, sleep } from './http.js';

/**
 * The shared shop: one in-memory demo shop for every system, behind HTTP, so that the orders it
 * holds per conversation are the ground truth. Every operation waits `latencyMs` first (the
 * demo's tool latency: the same for every system, reads and writes alike), then runs atomically.
 * A refusal (`ToolRejection`: nothing changed) is answered as `{ ok: false, refused: true }`.
 */
export interface SharedShop {
  url: string;
  shop: Shop;
  /** Operations received and not answered yet (for the harness's wait for quiet). */
  inFlight(): number;
  close(): Promise<void>;
}

type Body = Record<string, unknown>;

const str = (body: Body, key: string): string => String(body[key]);
const items = (body: Body) => body.items as { product: string; quantity: number }[];

function operate(shop: Shop, operation: string, body: Body): unknown {
  switch (operation) {
    case 'createOrder':
      return shop.createOrder({
        conversationId: str(body, 'conversationId'),
        items: items(body),
        idempotencyKey: str(body, 'idempotencyKey'),
      });
    case 'updateOrder':
      return shop.updateOrder({
        conversationId: str(body, 'conversationId'),
        orderId: str(body, 'orderId'),
        items: items(body),
        idempotencyKey: str(body, 'idempotencyKey'),
      });
    case 'cancelOrder':
      return shop.cancelOrder({
        conversationId: str(body, 'conversationId'),
        orderId: str(body, 'orderId'),
        idempotencyKey: str(body, 'idempotencyKey'),
      });
    case 'getOrder':
      return shop.getOrder(
        str(body, 'conversationId'),
        typeof body.orderId === 'string' ? body.orderId : undefined,
      );
    case 'listProducts':
      return shop.listProducts();
    case 'orders':
      return shop.orders(typeof body.conversationId === 'string' ? body.conversationId : undefined);
    case 'findByKey':
      return shop.findByKey(str(body, 'conversationId'), str(body, 'idempotencyKey'));
    case 'fence':
      return shop.fence(str(body, 'conversationId'), str(body, 'idempotencyKey'));
    default:
      throw new Error(`unknown shop operation ${operation}`);
  }
}

export async function startSharedShop(latencyMs: number): Promise<SharedShop> {
  const shop = createMemoryShop();
  let inFlight = 0;
  const server = await listenJson(async (path, body) => {
    const match = /^\/shop\/(\w+)$/.exec(path);
    if (!match) return [404, { error: 'not found' }];
    inFlight += 1;
    try {
      await sleep(latencyMs);
      try {
        return [200, { ok: true, value: operate(shop, match[1]!, (body ?? {}) as Body) ?? null }];
      } catch (error) {
        if (error instanceof ToolRejection)
          return [200, { ok: false, refused: true, error: error.message, code: error.code }];
        return [200, { ok: false, refused: false, error: String(error) }];
      }
    } finally {
      inFlight -= 1;
    }
  });
  return { url: server.url, shop, inFlight: () => inFlight, close: server.close };
}

export type { Order };
