import { createHmac } from 'node:crypto';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Adapter } from 'chat';
import { adaptersFromEnv, chatLogger, createGraftChannels } from '../../src/channels/index.js';
import type { GraftChannels } from '../../src/channels/index.js';
import type { GraftEvent } from '../../src/core/events.js';
import { conversationKey, type EventStore } from '../../src/core/ports.js';
import { createMemoryShop } from '../../src/demo/shop/shop.js';
import { createShopTools } from '../../src/demo/shop/tools.js';
import { RetryableError } from '../../src/core/errors.js';
import { createEmulator } from '../../src/emulator/index.js';
import { OpenAIModelClient } from '../../src/model/openai/index.js';
import { MemoryKeyStore } from '../../src/server/keys/key-store.js';
import type { Service } from '../../src/server/service.js';
import { createService } from '../../src/server/service.js';
import { MemoryStore } from '../../src/store/memory/memory-store.js';
import { slowTools } from '../server/helpers.js';

export { until } from '../server/helpers.js';

/** A call a bot made to the fake platform API. */
export interface PlatformCall {
  method: string;
  path: string;
  body: any;
}

/**
 * A platform's HTTP API, faked on 127.0.0.1: records every call, answers with `answer(call)` (a
 * JSON body), or with 500 while `failing` is set.
 */
export async function fakePlatform(answer: (call: PlatformCall) => unknown) {
  const calls: PlatformCall[] = [];
  const state = { failing: false };
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const raw = Buffer.concat(chunks).toString('utf8');
      let body: any = raw;
      if ((req.headers['content-type'] ?? '').includes('json') && raw) body = JSON.parse(raw);
      else if ((req.headers['content-type'] ?? '').includes('x-www-form-urlencoded'))
        body = Object.fromEntries(new URLSearchParams(raw));
      const call = { method: req.method ?? 'GET', path: (req.url ?? '/').split('?')[0]!, body };
      calls.push(call);
      if (state.failing) {
        res.writeHead(500, { 'content-type': 'application/json' }).end('{"ok":false,"error":"down"}');
        return;
      }
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(answer(call)));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const close = () =>
    new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    });
  return {
    url,
    calls,
    state,
    close,
    named: (suffix: string) => calls.filter((c) => c.path.endsWith(suffix)),
  };
}

export const TENANT = 'shop';

/**
 * graft's service with Chat SDK channels in front, over the emulator's shop clerk (latency scaled
 * down) and the memory shop. The adapters come from `env` exactly as `graft serve --channels` makes them.
 */
export async function channelService(options: {
  names: string[];
  env: Record<string, string>;
  store?: EventStore;
  typing?: { refreshMs?: number; maxMs?: number } | false;
  toolLatencyMs?: number;
  adapters?: Record<string, Adapter>;
  leaseMs?: number;
}) {
  const emulator = await createEmulator({ latency: { ttftMs: 60, perTokenMs: 2 }, seed: 1 }).listen(
    0,
    '127.0.0.1',
  );
  const shop = createMemoryShop();
  const store = options.store ?? new MemoryStore();
  const keys = new MemoryKeyStore();
  const key = (await keys.create(TENANT)).key;
  const errors: unknown[] = [];
  const adapters =
    options.adapters ?? (await adaptersFromEnv(options.names, options.env, chatLogger(undefined)));
  let service: Service | null = null;
  const channels: GraftChannels = createGraftChannels({
    adapters,
    tenantId: TENANT,
    store,
    receive: (message) => service!.tenants.get(TENANT).receive(message),
    ...(options.typing !== undefined ? { typing: options.typing } : {}),
  });
  service = createService({
    store,
    keys,
    model: new OpenAIModelClient({ apiKey: 'test', baseURL: emulator.url }),
    tools: slowTools(createShopTools(shop), options.toolLatencyMs ?? 150),
    channels,
    graft: {
      delivery: { backoffMs: 50 },
      ...(options.leaseMs ? { limits: { leaseMs: options.leaseMs } } : {}),
    },
    authCacheMs: 0,
    onError: (e) => errors.push(e),
  });
  await service.start();
  const webhook = (name: string, body: string, headers: Record<string, string>, method = 'POST') =>
    service.app.request(`/v1/channels/${name}`, {
      method,
      headers,
      ...(method === 'POST' ? { body } : {}),
    });
  const eventsOf = (conversationId: string): Promise<GraftEvent[]> =>
    store.read(conversationKey(TENANT, conversationId), 0);
  const close = async () => {
    await service.close();
    await emulator.close();
  };
  return { service, channels, store, shop, key, errors, webhook, eventsOf, close };
}

export const BURST = ["I'd like 2 pizzas.", 'Add a cola.', 'Please add a salad.'];
export const EXPECTED_ITEMS = [
  { product: 'cola', quantity: 1 },
  { product: 'pizza', quantity: 2 },
  { product: 'salad', quantity: 1 },
];

export const hmacHex = (secret: string, text: string) =>
  createHmac('sha256', secret).update(text).digest('hex');

export const count = (events: GraftEvent[], type: GraftEvent['type']) =>
  events.filter((e) => e.type === type).length;

/** A memory store whose next append fails as a database outage would, when `failing.next` is set. */
export function flakyStore() {
  const failing = { next: false };
  const memory = new MemoryStore();
  const store = new Proxy(memory, {
    get(target, property, receiver) {
      if (property === 'append')
        return (...args: Parameters<MemoryStore['append']>) => {
          if (failing.next) {
            failing.next = false;
            return Promise.reject(new RetryableError('the store is down', 100, 'store_unavailable'));
          }
          return target.append(...args);
        };
      const value: unknown = Reflect.get(target, property, receiver);
      return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value;
    },
  }) as EventStore;
  return { store, failing };
}
