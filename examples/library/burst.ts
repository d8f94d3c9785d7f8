/**
 * A program that uses graft as a library, from its published entry points only: the demo shop's
 * tools, the Responses API emulator as the model (through the OpenAI client), and the store the
 * first argument names. A customer sends two messages in a row; graft answers them with one reply
 * and creates one order. The second part embeds the HTTP service.
 *
 * It is what test/package/pack.test.ts compiles (strict, no skipLibCheck) and runs against the
 * packed tarball:  node burst.js sqlite:./burst.db   or   node burst.js postgres://…
 */
import { createGraft, openStore, OpenAIModelClient, type Delivery, type GraftStore } from 'graft';
import { createMemoryShop, createShopTools } from 'graft/demo';
import { createEmulator } from 'graft/emulator';
import { createService, listen, MemoryKeyStore } from 'graft/service';

const spec = process.argv[2] ?? 'sqlite:./data/burst.db';
const schema = process.argv[3];

const emulator = await createEmulator().listen(0);
const model = new OpenAIModelClient({ apiKey: 'emulator', baseURL: emulator.url });
const store: GraftStore = await openStore(spec, schema === undefined ? {} : { schema });

try {
  // The library: a burst of two messages, one reply, one order.
  const shop = createMemoryShop();
  const replies: Delivery[] = [];
  const graft = createGraft({
    store,
    model,
    tools: createShopTools(shop),
    deliver: (reply) => void replies.push(reply),
  });
  await graft.receive({ conversationId: 'c1', messageId: 'm1', text: 'I want 2 pizzas.' });
  await graft.receive({ conversationId: 'c1', messageId: 'm2', text: 'Add a cola.' });
  await graft.idle();
  await graft.close();

  const orders = shop.orders('c1');
  const reply = replies[0];
  if (replies.length !== 1 || reply === undefined || reply.covers.join() !== 'm1,m2')
    throw new Error(`expected one reply covering m1 and m2, got ${JSON.stringify(replies)}`);
  if (orders.length !== 1) throw new Error(`expected one order, got ${JSON.stringify(orders)}`);
  const items = orders[0]?.items
    .map((item) => `${item.quantity} ${item.product}`)
    .sort()
    .join(', ');
  console.log(`library on ${store.kind}: one reply covering m1 and m2, one order (${items})`);

  // The service, embedded: the same API as `graft serve`, on a port of our own.
  const service = createService({
    store,
    keys: new MemoryKeyStore(),
    model,
    tools: createShopTools(createMemoryShop()),
    staticKeys: { 'example-key': 'example' },
  });
  await service.start();
  const server = await listen(service.app, { port: 0, hostname: '127.0.0.1' });
  try {
    const response = await fetch(`${server.url}/v1/conversations/c2/messages`, {
      method: 'POST',
      headers: { authorization: 'Bearer example-key', 'content-type': 'application/json' },
      body: JSON.stringify({ id: 'm1', text: 'I want a cola.' }),
    });
    if (response.status !== 202)
      throw new Error(`POST answered ${response.status}: ${await response.text()}`);
    await service.idle();
    const view = (await (
      await fetch(`${server.url}/v1/conversations/c2`, { headers: { authorization: 'Bearer example-key' } })
    ).json()) as { replies?: unknown[] };
    if (!Array.isArray(view.replies) || view.replies.length !== 1)
      throw new Error(`expected one reply, got ${JSON.stringify(view)}`);
    console.log(`service on ${store.kind}: POST 202, one reply`);
  } finally {
    await server.close();
    await service.close();
  }
} finally {
  await store.close();
  await emulator.close();
}
