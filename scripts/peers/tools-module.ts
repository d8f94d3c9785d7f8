import { writeFileSync } from 'node:fs';
import { join } from 'node:path';

/**
 * The demo shop's five tools over the benchmark's shared shop, as a plain ES module that
 * `graft serve --tools` can load with plain Node (and that every peer imports too, so that all
 * systems run the same tool code): the demo's `createAsyncShopTools` — names, descriptions, zod
 * schemas, `reconcile` — over an `AsyncShop` whose every operation is a POST to the shared shop.
 *
 * It imports graft from dist/, the files `bin/graft.js` runs, so that a refusal is the
 * `ToolRejection` class graft checks with `instanceof`. It is written at run time into a
 * temporary directory because a JavaScript file under scripts/ would sit outside the TypeScript
 * project that ESLint's type-aware rules need.
 */
function source(dist: string): string {
  return `// Written by scripts/peers/tools-module.ts for npm run bench:peers.
import { createAsyncShopTools } from '${dist}/demo/shop/sql-shop.js';
import { defaultCatalogue } from '${dist}/demo/shop/catalogue.js';
import { ToolRejection } from '${dist}/tools/define-tool.js';

async function call(baseUrl, operation, body) {
  const response = await fetch(baseUrl + '/shop/' + operation, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  if (!response.ok) throw new Error('shop ' + operation + ': HTTP ' + response.status);
  const answer = await response.json();
  if (answer.ok) return answer.value;
  // A refusal changed nothing (the shop refuses before it writes): graft records a failed call.
  if (answer.refused) throw new ToolRejection(answer.error, answer.code === 'fenced' ? 'fenced' : 'rejected');
  throw new Error(answer.error);
}

export function createHttpShop(baseUrl) {
  const op = (operation) => (body) => call(baseUrl, operation, body);
  return {
    catalogue: defaultCatalogue,
    createOrder: op('createOrder'),
    updateOrder: op('updateOrder'),
    cancelOrder: op('cancelOrder'),
    getOrder: (conversationId, orderId) => call(baseUrl, 'getOrder', { conversationId, orderId }),
    listProducts: () => call(baseUrl, 'listProducts', {}),
    orders: (conversationId) => call(baseUrl, 'orders', { conversationId }),
    findByKey: (conversationId, idempotencyKey) => call(baseUrl, 'findByKey', { conversationId, idempotencyKey }),
    fence: (conversationId, idempotencyKey) => call(baseUrl, 'fence', { conversationId, idempotencyKey }),
  };
}

export default function tools() {
  const baseUrl = process.env.PEERS_SHOP_URL;
  if (!baseUrl) throw new Error('PEERS_SHOP_URL is not set');
  return createAsyncShopTools(createHttpShop(baseUrl));
}
`;
}

/** Writes the module into `dir` and returns its path. */
export function writeToolsModule(dir: string): string {
  const dist = new URL('../../dist', import.meta.url).href;
  const path = join(dir, 'shop-tools.mjs');
  writeFileSync(path, source(dist));
  return path;
}
