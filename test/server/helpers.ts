import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { z } from 'zod';
import { createMemoryShop } from '../../src/demo/shop/shop.js';
import { createShopTools } from '../../src/demo/shop/tools.js';
import type { GraftEvent } from '../../src/core/events.js';
import { conversationKey, type EventStore } from '../../src/core/ports.js';
import { createEmulator } from '../../src/emulator/index.js';
import type { LatencyOption } from '../../src/emulator/options.js';
import type { ModelResult } from '../../src/core/model-port.js';
import { BrainModel } from '../../src/model/brain-model.js';
import type { ScriptStep } from '../../src/model/scripted-brain.js';
import { createScriptedBrain } from '../../src/model/scripted-brain.js';
import { systemClock } from '../../src/runtime/clock.js';
import { OpenAIModelClient } from '../../src/model/openai/index.js';
import type { ServerLimits } from '../../src/server/app.js';
import { MemoryKeyStore } from '../../src/server/keys/key-store.js';
import type { KeyStore } from '../../src/server/keys/key-store.js';
import { listen } from '../../src/server/listen.js';
import { createService } from '../../src/server/service.js';
import { verifySignature } from '../../src/server/signature.js';
import { MemoryStore } from '../../src/store/memory/memory-store.js';
import type { ToolDefinition } from '../../src/tools/define-tool.js';
import { defineTool } from '../../src/tools/define-tool.js';

export const WEBHOOK_SECRET = 'whsec_test';

/** A local webhook receiver: records each POST, checks its signature, can fail the first ones. */
export async function webhookReceiver(options: { failFirst?: number } = {}) {
  const received: {
    body: any;
    raw: Buffer;
    signature: string | undefined;
    signed: boolean;
    deliveryHeader: string | undefined;
  }[] = [];
  let failures = options.failFirst ?? 0;
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      if (failures > 0) {
        failures -= 1;
        res.writeHead(503).end();
        return;
      }
      const raw = Buffer.concat(chunks);
      const signature = req.headers['x-graft-signature'] as string | undefined;
      const signed = verifySignature(WEBHOOK_SECRET, raw, signature);
      received.push({
        body: JSON.parse(raw.toString('utf8')),
        raw,
        signature,
        signed,
        deliveryHeader: req.headers['x-graft-delivery-id'] as string | undefined,
      });
      res.writeHead(204).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/replies`;
  const close = () =>
    new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    });
  return { url, received, close };
}

/** Wraps every tool so that it takes `ms` to run (as a real shop's API would). */
export function slowTools(tools: ToolDefinition<any>[], ms: number): ToolDefinition<any>[] {
  return tools.map((t) =>
    defineTool<unknown>({
      ...t,
      run: async (args, ctx) => {
        await new Promise((resolve) => setTimeout(resolve, ms));
        return t.run(args, ctx);
      },
    }),
  );
}

export interface TestServiceOptions {
  latency?: LatencyOption;
  toolLatencyMs?: number;
  webhookUrl?: string;
  limits?: Partial<ServerLimits>;
  store?: EventStore;
  keys?: KeyStore;
}

/** The service over the emulator (HTTP, through the official SDK) and the memory shop, with two tenants. */
export async function testService(options: TestServiceOptions = {}) {
  const emulator = await createEmulator({ latency: options.latency ?? 'zero', seed: 1 }).listen(
    0,
    '127.0.0.1',
  );
  const shop = createMemoryShop();
  const store = options.store ?? new MemoryStore();
  const keys = options.keys ?? new MemoryKeyStore();
  const acme = (await keys.create('acme')).key;
  const globex = (await keys.create('globex')).key;
  const errors: unknown[] = [];
  const service = createService({
    store,
    keys,
    model: new OpenAIModelClient({ apiKey: 'test', baseURL: emulator.url }),
    tools: slowTools(createShopTools(shop), options.toolLatencyMs ?? 0),
    webhook: { url: options.webhookUrl ?? null, secret: WEBHOOK_SECRET },
    ...(options.limits ? { limits: options.limits } : {}),
    authCacheMs: 0,
    onError: (e) => errors.push(e),
  });
  await service.start();
  const request = (
    method: string,
    path: string,
    init: { key?: string | null; body?: unknown; headers?: Record<string, string> } = {},
  ) => {
    const headers: Record<string, string> = { ...init.headers };
    const key = init.key === undefined ? acme : init.key;
    if (key !== null) headers.authorization = `Bearer ${key}`;
    let body: string | undefined;
    if (init.body !== undefined) {
      body = typeof init.body === 'string' ? init.body : JSON.stringify(init.body);
      headers['content-type'] ??= 'application/json';
    }
    return service.app.request(path, { method, headers, ...(body !== undefined ? { body } : {}) });
  };
  const post = (conversationId: string, id: string, text: string, key?: string) =>
    request('POST', `/v1/conversations/${conversationId}/messages`, {
      body: { id, text },
      ...(key ? { key } : {}),
    });
  const eventsOf = (conversationId: string, tenantId = 'acme'): Promise<GraftEvent[]> =>
    store.read(conversationKey(tenantId, conversationId), 0);
  const close = async () => {
    await service.close();
    await emulator.close();
  };
  return { service, store, keys, shop, keysOf: { acme, globex }, errors, request, post, eventsOf, close };
}

/** Polls `condition` every few ms until it holds, or fails after `timeoutMs`. */
export async function until(
  condition: () => boolean | Promise<boolean>,
  what: string,
  timeoutMs = 10_000,
): Promise<void> {
  for (const started = Date.now(); !(await condition());) {
    if (Date.now() - started > timeoutMs) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

/**
 * The service over a scripted brain, listening on 127.0.0.1, with two tenants (`acme`, `globex`),
 * a reply webhook, and two writes that record their runs in `runs`: `cancel` needs a person's
 * approval (it expires after a minute), `add` does not. `latencyMs` delays chosen responses.
 */
export async function scriptedService(
  script: readonly ScriptStep[],
  options: { latencyMs?: (result: ModelResult) => number } = {},
) {
  const runs: string[] = [];
  const tools = [
    defineTool({
      name: 'cancel',
      description: 'cancel an order',
      parameters: z.object({ order: z.string() }),
      effect: 'write',
      approval: true,
      approvalTimeoutMs: 60_000,
      run: ({ order }) => {
        runs.push(`cancel ${order}`);
        return { cancelled: order };
      },
    }),
    defineTool({
      name: 'charge',
      description: 'charge the card (it throws after charging, and cannot be reconciled)',
      parameters: z.object({ amount: z.number() }),
      effect: 'write',
      run: ({ amount }) => {
        runs.push(`charge ${amount}`);
        throw new Error('the payment gateway timed out after charging');
      },
    }),
    defineTool({
      name: 'add',
      description: 'add an item to the order',
      parameters: z.object({ item: z.string() }),
      effect: 'write',
      run: ({ item }) => {
        runs.push(`add ${item}`);
        return { added: item };
      },
    }),
  ];
  const brain = createScriptedBrain(script);
  const receiver = await webhookReceiver();
  const store = new MemoryStore();
  const keys = new MemoryKeyStore();
  const keysOf = { acme: (await keys.create('acme')).key, globex: (await keys.create('globex')).key };
  const errors: unknown[] = [];
  const service = createService({
    store,
    keys,
    model: new BrainModel(brain, {
      clock: systemClock,
      ...(options.latencyMs ? { latencyMs: options.latencyMs } : {}),
    }),
    tools,
    webhook: { url: receiver.url, secret: WEBHOOK_SECRET },
    authCacheMs: 0,
    onError: (e) => errors.push(e),
  });
  await service.start();
  const server = await listen(service.app, { port: 0, hostname: '127.0.0.1' });
  /** A request to the service; the answer's status and JSON body. */
  const api = async (
    method: 'GET' | 'POST',
    path: string,
    init: { body?: unknown; key?: string | null } = {},
  ) => {
    const key = init.key === undefined ? keysOf.acme : init.key;
    const response = await fetch(`${server.url}${path}`, {
      method,
      headers: {
        ...(key === null ? {} : { authorization: `Bearer ${key}` }),
        ...(init.body === undefined ? {} : { 'content-type': 'application/json' }),
      },
      ...(init.body === undefined
        ? {}
        : { body: typeof init.body === 'string' ? init.body : JSON.stringify(init.body) }),
    });
    return { status: response.status, body: (await response.json()) as any };
  };
  const post = (conversationId: string, id: string, text: string) =>
    api('POST', `/v1/conversations/${conversationId}/messages`, { body: { id, text } });
  const eventsOf = (conversationId: string): Promise<GraftEvent[]> =>
    store.read(conversationKey('acme', conversationId), 0);
  const close = async () => {
    await server.close();
    await service.close();
    await receiver.close();
  };
  return { url: server.url, service, brain, runs, receiver, keysOf, errors, api, post, eventsOf, close };
}
