/**
 * `npm run bench:http`: graft's HTTP service over the emulator at zero latency, recorded in
 * BENCHMARKS.md between its own markers.
 *
 * - added latency per message: turns of one message ("I want 2 pizzas.": a model call asking for
 *   create_order, the write, a second model call with its output, the reply), one at a time, from
 *   the POST to the reply webhook's arrival; graft's share is that time less the time its model
 *   calls took (measured around each call). The same two calls made directly through the SDK are
 *   timed too, as the baseline.
 * - throughput: 200 conversations at once, each sending 5 messages, each after the reply to the
 *   one before; messages per second over the whole run.
 *
 * A round of 200 concurrent messages opens the connections before the throughput is measured.
 * The emulator runs in a child process, as a model API would (in one process with 200 client
 * streams, the event loop's unfairness gave some requests multi-second stalls that were not
 * graft's); the service, the webhook receiver and the clients run in this one, on 127.0.0.1.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { createMemoryShop } from '../src/demo/shop/shop.js';
import { createShopTools } from '../src/demo/shop/tools.js';
import { coreConfig } from '../src/core/config.js';
import type { ModelClient, ModelRequest } from '../src/core/ports.js';
import { OpenAIModelClient } from '../src/model/openai/index.js';
import { listen } from '../src/server/listen.js';
import { openServiceStore } from '../src/server/open-store.js';
import { createService } from '../src/server/service.js';
import { toolSpec } from '../src/tools/define-tool.js';
import { quantile, recordSection } from './benchmarks-file.js';

const LATENCY_TURNS = 200;
const CONVERSATIONS = 200;
const MESSAGES_PER_CONVERSATION = 5;
const SCRIPT = [
  'I want 2 pizzas.',
  'Add a cola.',
  'Do you have fries?',
  'Please add a salad.',
  'Thanks, that is all.',
];
const TIME_LIMIT_MS = 120_000;

const ms = (value: number): string => `${value.toFixed(1)} ms`;

/** Starts `graft emulator` at zero latency in a child process; resolves with its URL. */
function startEmulator(): Promise<{ url: string; close: () => Promise<void> }> {
  const code =
    "const { emulatorCommand } = await import('./src/emulator/cli'); process.exitCode = await emulatorCommand(['--port', '0', '--latency', 'zero']);";
  const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', code], {
    cwd: new URL('..', import.meta.url),
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const close = () =>
    new Promise<void>((resolve) => {
      child.once('exit', () => resolve());
      child.kill('SIGTERM');
    });
  return new Promise((resolve, reject) => {
    let out = '';
    child.once('exit', (code) => reject(new Error(`the emulator exited (${code}) before listening: ${out}`)));
    child.stdout.on('data', (chunk: Buffer) => {
      out += chunk.toString('utf8');
      const match = /listening on (http:\/\/\S+)/.exec(out);
      if (match) resolve({ url: match[1]!, close });
    });
  });
}

/** A webhook receiver that resolves a waiter when a reply covering a message arrives. */
async function receiver() {
  const waiters = new Map<string, () => void>();
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as {
        conversationId: string;
        covers: string[];
      };
      for (const id of body.covers) waiters.get(`${body.conversationId}/${id}`)?.();
      res.writeHead(204).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/replies`;
  const replyTo = (conversationId: string, messageId: string) =>
    new Promise<void>((resolve) =>
      waiters.set(
        `${conversationId}/${messageId}`,
        () => (waiters.delete(`${conversationId}/${messageId}`), resolve()),
      ),
    );
  return {
    url,
    replyTo,
    close: () =>
      new Promise<void>((resolve) => (server.close(() => resolve()), server.closeAllConnections())),
  };
}

/** Adds the time of every model call to `spent`. */
function timedModel(inner: ModelClient, spent: { ms: number }): ModelClient {
  return {
    async create(request, options) {
      const started = performance.now();
      try {
        return await inner.create(request, options);
      } finally {
        spent.ms += performance.now() - started;
      }
    },
  };
}

/** The turn's two model calls made directly through the SDK, without graft. */
async function directTurn(model: ModelClient, tools: ModelRequest['tools']): Promise<number> {
  const base = {
    model: 'gpt-4.1-mini',
    instructions: coreConfig({ instanceId: 'x' }).instructions,
    store: true,
    tools,
    include: [],
  };
  const started = performance.now();
  const signal = new AbortController().signal;
  const first = await model.create(
    { ...base, input: [{ type: 'message', role: 'user', content: SCRIPT[0]! }], previousResponseId: null },
    { signal },
  );
  const call = first.output.find((o) => o.type === 'function_call');
  if (!call || call.type !== 'function_call') throw new Error('the clerk did not call create_order');
  const output = JSON.stringify({
    order_id: 'ord_1',
    status: 'confirmed',
    items: [{ product: 'pizza', quantity: 2 }],
  });
  await model.create(
    {
      ...base,
      input: [{ type: 'function_call_output', call_id: call.call_id, output }],
      previousResponseId: first.responseId,
    },
    { signal },
  );
  return performance.now() - started;
}

type Post = (conversationId: string, id: string, text: string) => Promise<void>;
type Hook = Awaited<ReturnType<typeof receiver>>;

/** One message, from the POST to the reply webhook covering it; returns the milliseconds. */
async function turn(
  post: Post,
  hook: Hook,
  conversationId: string,
  id: string,
  text: string,
): Promise<number> {
  const reply = hook.replyTo(conversationId, id);
  const started = performance.now();
  await post(conversationId, id, text);
  await reply;
  return performance.now() - started;
}

/** Turns one at a time: end to end, and less the time graft's model calls took. */
async function latencyPhase(post: Post, hook: Hook, spent: { ms: number }, deadline: number) {
  for (let i = 0; i < 20; i += 1) await turn(post, hook, `warm-${i}`, 'm1', SCRIPT[0]!);
  const endToEnd: number[] = [];
  const added: number[] = [];
  for (let i = 0; i < LATENCY_TURNS && performance.now() < deadline; i += 1) {
    spent.ms = 0;
    const total = await turn(post, hook, `lat-${i}`, 'm1', SCRIPT[0]!);
    endToEnd.push(total);
    added.push(total - spent.ms);
  }
  return { endToEnd, added };
}

/**
 * 200 conversations at once, each message after the reply to the one before. A first round opens
 * the connections (a burst of 200 new loopback connections stalls some for a second or more, with
 * or without graft), so that the figures are those of the steady state.
 */
async function loadPhase(post: Post, hook: Hook, idle: () => Promise<void>, deadline: number) {
  await Promise.all(
    Array.from({ length: CONVERSATIONS }, (_, c) => turn(post, hook, `warm-load-${c}`, 'm1', SCRIPT[0]!)),
  );
  await idle();
  const replyLatency: number[] = [];
  const started = performance.now();
  await Promise.all(
    Array.from({ length: CONVERSATIONS }, async (_, c) => {
      for (let m = 0; m < MESSAGES_PER_CONVERSATION && performance.now() < deadline; m += 1) {
        replyLatency.push(await turn(post, hook, `load-${c}`, `m${m}`, SCRIPT[m]!));
      }
    }),
  );
  return { replyLatency, seconds: (performance.now() - started) / 1000 };
}

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'graft-bench-'));
  const opened = await openServiceStore(`sqlite:${join(dir, 'bench.db')}`);
  const emulator = await startEmulator();
  const sdk = new OpenAIModelClient({ apiKey: 'bench', baseURL: emulator.url });
  const hook = await receiver();
  const spent = { ms: 0 };
  const tools = createShopTools(createMemoryShop());
  const service = createService({
    store: opened.store,
    keys: opened.keys,
    model: timedModel(sdk, spent),
    tools,
    webhook: { url: hook.url },
    staticKeys: { bench: 'bench' },
    limits: { burst: 1_000, perMinute: 60_000 },
  });
  await service.start();
  const server = await listen(service.app, { port: 0 });
  const post: Post = async (conversationId, id, text) => {
    const res = await fetch(`${server.url}/v1/conversations/${conversationId}/messages`, {
      method: 'POST',
      headers: { authorization: 'Bearer bench', 'content-type': 'application/json' },
      body: JSON.stringify({ id, text }),
    });
    if (res.status !== 202) throw new Error(`POST answered ${res.status}: ${await res.text()}`);
    await res.arrayBuffer();
  };
  const deadline = performance.now() + TIME_LIMIT_MS;
  const { endToEnd, added } = await latencyPhase(post, hook, spent, deadline);
  await service.idle();
  const specs = tools.map((t) => toolSpec(t));
  const direct: number[] = [];
  for (let i = 0; i < LATENCY_TURNS && performance.now() < deadline; i += 1)
    direct.push(await directTurn(sdk, specs));
  const load = await loadPhase(post, hook, () => service.idle(), deadline);
  await service.idle();
  await server.close();
  await service.close();
  await hook.close();
  await emulator.close();
  await opened.close();
  rmSync(dir, { recursive: true, force: true });
  record({ endToEnd, added, direct, ...load });
}

function record(r: {
  endToEnd: number[];
  added: number[];
  direct: number[];
  replyLatency: number[];
  seconds: number;
}): void {
  const { endToEnd, added, direct, replyLatency } = r;
  const sent = replyLatency.length;
  const loadSeconds = r.seconds;
  const rows = [
    [
      'graft, POST to reply webhook, one turn at a time (p50 / p99)',
      `${ms(quantile(endToEnd, 0.5))} / ${ms(quantile(endToEnd, 0.99))}`,
    ],
    [
      'the same two model calls made directly through the SDK (p50 / p99)',
      `${ms(quantile(direct, 0.5))} / ${ms(quantile(direct, 0.99))}`,
    ],
    [
      "graft's added latency per message: end to end less its model calls' time (p50 / p99)",
      `${ms(quantile(added, 0.5))} / ${ms(quantile(added, 0.99))}`,
    ],
    [
      `messages per second, ${CONVERSATIONS} conversations at once × ${MESSAGES_PER_CONVERSATION} messages`,
      `${(sent / loadSeconds).toFixed(0)} (${sent} messages in ${loadSeconds.toFixed(1)} s)`,
    ],
    [
      'reply latency under that load, a closed loop at saturation (mean / p50 / p99)',
      `${ms(replyLatency.reduce((a, b) => a + b, 0) / replyLatency.length)} / ${ms(quantile(replyLatency, 0.5))} / ${ms(quantile(replyLatency, 0.99))}`,
    ],
  ];
  const cpu = cpus();
  const section = [
    '## HTTP service (`npm run bench:http`)',
    '',
    `Store: SQLite (a file in the temp directory, WAL). The emulator at zero latency (the shop clerk) in a child process; graft, the memory shop, a local webhook receiver and the clients in another, on 127.0.0.1; each turn is "I want 2 pizzas." (two model calls, one write, one reply); ${cpu.length} cores (${cpu[0]?.model.trim() ?? 'unknown'}), Node ${process.version}; ${new Date().toISOString().slice(0, 10)}.`,
    '',
    '| measure | value |',
    '| --- | --- |',
    ...rows.map(([k, v]) => `| ${k} | ${v} |`),
    '',
    'Under load the one process is saturated: the mean reply latency is about conversations ÷ throughput, as in any closed loop, and the long tail is reply-webhook POSTs waiting in its event loop.',
  ].join('\n');
  recordSection('http', section);
  console.log(section);
}

await main();
