import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { z } from 'zod';
import { buildWidget } from '../../scripts/build-widget.js';
import type { ModelClient, ModelRequest, ModelResult } from '../../src/core/model-port.js';
import { ModelCallAborted } from '../../src/core/model-port.js';
import { messageText, type OutputItem } from '../../src/core/items.js';
import { conversationKey } from '../../src/core/ports.js';
import { MemoryKeyStore } from '../../src/server/keys/key-store.js';
import { signWidgetToken } from '../../src/server/keys/widget-token.js';
import { listen } from '../../src/server/listen.js';
import { createService } from '../../src/server/service.js';
import { SseParser, type SseMessage } from '../../src/dashboard/sse.js';
import { MemoryStore } from '../../src/store/memory/memory-store.js';
import { defineTool } from '../../src/tools/define-tool.js';

export const ACME_SECRET = 'wsec_acme_test';
export const GLOBEX_SECRET = 'wsec_globex_test';

/**
 * A model held at a gate: each call waits until `release()` (or answers at once while released),
 * and stops when graft aborts it (a superseded attempt). Its first call of a turn asks for the
 * write `add` with a secret-looking argument; once the write's output is in its context it replies
 * "Got: <the customer's texts>".
 */
export function gatedModel() {
  let open = false;
  const waiting = new Set<() => void>();
  let n = 0;
  const customerTexts: string[] = [];
  const answer = (request: ModelRequest): OutputItem[] => {
    for (const item of request.input)
      if (item.type === 'message' && item.role === 'user') customerTexts.push(messageText(item));
    n += 1;
    if (!request.input.some((item) => item.type === 'function_call_output'))
      return [
        {
          type: 'function_call',
          id: `fc_${n}`,
          call_id: `tc_${n}`,
          name: 'add',
          arguments: '{"item":"SECRET-ARG"}',
        },
      ];
    return [
      {
        type: 'message',
        id: `msg_${n}`,
        role: 'assistant',
        status: 'completed',
        content: [{ type: 'output_text', text: `Got: ${customerTexts.join(' / ')}`, annotations: [] }],
      },
    ];
  };
  const model: ModelClient = {
    async create(request, { signal }): Promise<ModelResult> {
      if (!open) {
        await new Promise<void>((resolve, reject) => {
          const go = () => {
            waiting.delete(go);
            resolve();
          };
          waiting.add(go);
          signal.addEventListener('abort', () => {
            waiting.delete(go);
            reject(new ModelCallAborted());
          });
        });
      }
      if (signal.aborted) throw new ModelCallAborted();
      return {
        responseId: `resp_${n + 1}`,
        output: answer(request),
        usage: { inputTokens: 1, cachedInputTokens: 0, outputTokens: 1, reasoningTokens: 0 },
        status: 'completed',
      };
    },
  };
  return {
    model,
    release() {
      open = true;
      for (const go of [...waiting]) go();
    },
    hold() {
      open = false;
    },
  };
}

/**
 * The service on 127.0.0.1 with two tenants with web chat (`acme`, `globex`, each with an API
 * key and a widget secret) and `plain` (an API key, no widget secret), over the gated model and a
 * write tool `add` that records its runs.
 */
export async function widgetService() {
  const gate = gatedModel();
  const store = new MemoryStore();
  const keys = new MemoryKeyStore();
  const keysOf = {
    acme: (await keys.create('acme')).key,
    globex: (await keys.create('globex')).key,
    plain: (await keys.create('plain')).key,
  };
  const none = { webhookUrl: null, webhookSecret: null, inboundSecret: null };
  await keys.setTenant({ tenantId: 'acme', ...none, widgetSecret: ACME_SECRET });
  await keys.setTenant({ tenantId: 'globex', ...none, widgetSecret: GLOBEX_SECRET });
  const runs: string[] = [];
  const errors: unknown[] = [];
  const service = createService({
    store,
    keys,
    model: gate.model,
    tools: [
      defineTool({
        name: 'add',
        description: 'add an item to the order',
        parameters: z.object({ item: z.string() }),
        effect: 'write',
        run: ({ item }) => {
          runs.push(item);
          return { added: item, internal: 'SECRET-RESULT' };
        },
      }),
    ],
    authCacheMs: 0,
    sseHeartbeatMs: 60_000,
    onError: (e) => errors.push(e),
  });
  await service.start();
  let server = await listen(service.app, { port: 0, hostname: '127.0.0.1' });
  const token = (customer: string, tenant = 'acme', secret = ACME_SECRET, expiresInSeconds = 3600) =>
    signWidgetToken({ tenant, customer, expiresInSeconds }, secret);
  const eventsOf = (conversationId: string, tenant = 'acme') =>
    store.read(conversationKey(tenant, conversationId), 0);
  return {
    get url() {
      return server.url;
    },
    service,
    store,
    keys,
    keysOf,
    gate,
    runs,
    errors,
    token,
    eventsOf,
    /** Stops listening (every open stream drops), then listens again on the same port. */
    async restart(between: () => Promise<void> = () => Promise.resolve()) {
      const port = server.port;
      await server.close();
      await between();
      server = await listen(service.app, { port, hostname: '127.0.0.1' });
    },
    async close() {
      gate.release();
      await service.idle();
      await server.close();
      await service.close();
    },
  };
}

/** A request with a bearer credential (a widget token or an API key), as the answer's status and JSON. */
export async function call(
  url: string,
  method: 'GET' | 'POST',
  path: string,
  credential: string | null,
  init: { body?: unknown; headers?: Record<string, string> } = {},
) {
  const response = await fetch(`${url}${path}`, {
    method,
    headers: {
      ...init.headers,
      ...(credential === null ? {} : { authorization: `Bearer ${credential}` }),
      ...(init.body === undefined ? {} : { 'content-type': 'application/json' }),
    },
    ...(init.body === undefined ? {} : { body: JSON.stringify(init.body) }),
  });
  const text = await response.text();
  return {
    status: response.status,
    headers: response.headers,
    body: text ? JSON.parse(text) : null,
  };
}

/** Reads a server-sent event stream: `next()` resolves with the next event, `close()` ends it. */
export async function openStream(url: string, token: string, lastEventId?: string) {
  const controller = new AbortController();
  const response = await fetch(`${url}/widget/v1/events`, {
    headers: { authorization: `Bearer ${token}`, ...(lastEventId ? { 'last-event-id': lastEventId } : {}) },
    signal: controller.signal,
  });
  if (!response.ok || !response.body) throw new Error(`the stream answered ${response.status}`);
  const queue: SseMessage[] = [];
  const wakers: (() => void)[] = [];
  const parser = new SseParser((message) => {
    queue.push(message);
    wakers.splice(0).forEach((wake) => wake());
  });
  const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
  void (async () => {
    try {
      for (let chunk = await reader.read(); !chunk.done; chunk = await reader.read())
        parser.feed(chunk.value);
    } catch {
      // closed
    }
  })();
  return {
    async next(timeoutMs = 10_000): Promise<SseMessage> {
      const started = Date.now();
      while (queue.length === 0) {
        if (Date.now() - started > timeoutMs) throw new Error('no event came');
        await new Promise<void>((resolve) => {
          wakers.push(resolve);
          setTimeout(resolve, 50);
        });
      }
      return queue.shift()!;
    },
    close: () => controller.abort(),
  };
}

/** Bundles the widget into a temporary directory; `remove` deletes it. */
export async function freshWidgetBundle(): Promise<{ dir: string; bytes: number; remove: () => void }> {
  const dir = mkdtempSync(join(tmpdir(), 'graft-widget-bundle-'));
  const { bytes } = await buildWidget(dir);
  return { dir, bytes, remove: () => rmSync(dir, { recursive: true, force: true }) };
}
