/**
 * `npm run bench:scaleout`: 1, 2 and 3 `graft serve` instances on one PostgreSQL (a fresh
 * database for each, created and dropped here), behind a round-robin client, and the memory a
 * loaded 10-turn conversation takes.
 *
 * - Load: `--conversations` (120) customers at once, each the bench:peers burst customer (3
 *   bursts of 2–3 messages, 100/300/800 ms apart), each burst sent once the previous one's reply
 *   came. Every message goes to the next instance in turn, so a conversation's messages land on
 *   different instances. The model is the emulator at zero latency (one process; graft's own
 *   cost is what is measured) and the tools are the shared shop's (0 ms by default).
 * - Figures: messages per second (all messages over the wall time of the load), reply latency
 *   p50/p99 (a burst's last message to the first reply covering it, on this process's clock),
 *   append conflicts and lease claims per 1,000 messages. graft's /metrics counts neither (it
 *   counts messages, attempts, calls, effects, replies), so they are read from PostgreSQL: lease
 *   claims are the `lease.claimed` events in the log; conflicts are the database's rolled-back
 *   transactions (`pg_stat_database.xact_rollback`: a losing append at a stale seq rolls back;
 *   no duplicate messages are sent, so nothing else should).
 * - Memory: one instance (`scripts/peers/memory-serve.ts`: `graft serve`'s own start-up plus a
 *   route that answers `process.memoryUsage()` after a full GC) loads `--memory-conversations`
 *   (300) conversations of 10 turns each, in two halves; the growth of heapUsed and RSS from the
 *   first half to the second, per conversation, is the memory of a loaded 10-turn conversation.
 *
 * - Routing: round robin, as asked; then (unless --no-sticky) the same load with each conversation
 *   kept on one instance (a hash of its id), what a load balancer with affinity would do.
 *
 * Flags: --instances 1,2,3 --conversations 120 --memory-conversations 300 --tool-latency-ms 0
 * --seed 1 --no-sticky --no-record. PostgreSQL: PGURL (default postgres://postgres@127.0.0.1:5432/test).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import postgres from 'postgres';
import { quantile, recordSection } from './benchmarks-file.js';
import { ReplyBook } from './peers/batch.js';
import { listenJson, postJson, sleep } from './peers/http.js';
import { startSharedShop } from './peers/shop-server.js';
import { spawnReady, stopChild } from './peers/systems.js';
import { writeToolsModule } from './peers/tools-module.js';
import { conversationPlan } from './peers/workload.js';
import { renderIntent, type Intent } from '../src/demo/clerk/language.js';

const { values } = parseArgs({
  options: {
    instances: { type: 'string', default: '1,2,3' },
    conversations: { type: 'string', default: '120' },
    'memory-conversations': { type: 'string', default: '300' },
    'tool-latency-ms': { type: 'string', default: '0' },
    seed: { type: 'string', default: '1' },
    sticky: { type: 'boolean', default: true },
    'no-sticky': { type: 'boolean', default: false },
    'no-record': { type: 'boolean', default: false },
  },
});
if (values['no-sticky']) values.sticky = false;
const instanceCounts = values.instances.split(',').map(Number);
const conversations = Number(values.conversations);
const memoryConversations = Number(values['memory-conversations']);
const seed = Number(values.seed);
const adminUrl = process.env.PGURL ?? 'postgres://postgres@127.0.0.1:5432/test';
const began = performance.now();
const log = (line: string) =>
  console.log(`[${((performance.now() - began) / 1000).toFixed(0).padStart(4)} s] ${line}`);

const admin = postgres(adminUrl, { max: 1, onnotice: () => undefined });
const scratch = mkdtempSync(join(tmpdir(), 'bench-scaleout-'));
const toolsModule = writeToolsModule(scratch);
const emulator = await spawnReady(
  process.execPath,
  ['bin/graft-emulator.js', '--port', '0', '--latency', 'zero', '--seed', String(seed)],
  {},
  /listening on (\S+)/,
  'emulator',
);
const shop = await startSharedShop(Number(values['tool-latency-ms']));
const replies = new ReplyBook();
const replyServer = await listenJson((_path, body) => {
  const reply = body as { conversationId?: string; text?: string; covers?: string[] } | null;
  if (!reply?.conversationId) return [400, { error: 'no conversation' }];
  replies.add({
    conversationId: reply.conversationId,
    text: reply.text ?? '',
    covers: reply.covers ?? [],
    at: performance.now(),
  });
  return [200, { ok: true }];
});

interface Instance {
  url: string;
  pid: number;
  close(): Promise<void>;
}

/** A fresh database; returns its URL and a function that drops it. */
async function freshDatabase(label: string): Promise<{ url: string; drop: () => Promise<void> }> {
  const name = `graft_bench_${label}_${process.pid}`;
  await admin.unsafe(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
  await admin.unsafe(`CREATE DATABASE ${name}`);
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  return {
    url: url.href,
    drop: async () => void (await admin.unsafe(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`)),
  };
}

async function createKey(store: string): Promise<string> {
  const keys = await spawnReady(
    process.execPath,
    ['bin/graft.js', 'keys', 'create', '--tenant', 'bench', '--store', store],
    {},
    /^(\S+)\s*$/m,
    'graft keys',
  );
  if (keys.child.exitCode === null) await new Promise((resolve) => keys.child.once('exit', resolve));
  return keys.match;
}

async function startInstance(store: string, memory = false): Promise<Instance> {
  const flags = [
    'serve',
    '--port',
    '0',
    '--store',
    store,
    '--model',
    'openai',
    '--openai-base-url',
    emulator.match,
    '--tools',
    toolsModule,
    '--webhook-url',
    `${replyServer.url}/reply`,
    '--log-level',
    'warn',
    '--rate-burst',
    '100000',
    '--rate-per-minute',
    '1000000',
  ];
  const args = memory
    ? ['--expose-gc', '--import', 'tsx', 'scripts/peers/memory-serve.ts', ...flags.slice(1)]
    : ['bin/graft.js', ...flags];
  const { child, match } = await spawnReady(
    process.execPath,
    args,
    { OPENAI_API_KEY: 'bench', PEERS_SHOP_URL: shop.url },
    /graft listening on (\S+)/,
    'graft serve',
  );
  return { url: match, pid: child.pid!, close: () => stopChild(child) };
}

interface LoadResult {
  instances: number;
  routing: Routing;
  messages: number;
  wallS: number;
  messagesPerS: number;
  p50: number;
  p99: number;
  unanswered: number;
  conflicts: number;
  leaseClaims: number;
  conflictsPer1000: number;
  leaseClaimsPer1000: number;
}

/** Sums the /metrics counters whose name matches, over every instance. */
async function scrape(instances: Instance[], pattern: RegExp): Promise<number> {
  let total = 0;
  for (const instance of instances) {
    const text = await (await fetch(`${instance.url}/metrics`)).text();
    for (const line of text.split('\n'))
      if (!line.startsWith('#') && pattern.test(line.split(/[{ ]/)[0] ?? ''))
        total += Number(line.split(' ').pop());
  }
  return total;
}

type Routing = 'round-robin' | 'sticky';

/** A conversation's instance under sticky routing: a hash of its id. */
function stickyIndex(conversationId: string, count: number): number {
  let h = 0;
  for (const ch of conversationId) h = (h * 31 + ch.charCodeAt(0)) >>> 0;
  return h % count;
}

async function runLoad(count: number, routing: Routing): Promise<LoadResult> {
  const database = await freshDatabase(`scale${count}`);
  const key = await createKey(database.url);
  const instances: Instance[] = [];
  try {
    for (let i = 0; i < count; i += 1) instances.push(await startInstance(database.url));
    let next = 0;
    const headers = { authorization: `Bearer ${key}` };
    const pick = (conversationId: string) =>
      routing === 'sticky' ? stickyIndex(conversationId, count) : next++ % instances.length;
    const send = (conversationId: string, id: string, text: string) =>
      postJson(
        `${instances[pick(conversationId)]!.url}/v1/conversations/${conversationId}/messages`,
        { id, text },
        headers,
      );
    // Warm-up: one turn per instance.
    for (const [i, instance] of instances.entries()) {
      const id = `warm-${count}-${routing}-${i}`;
      await postJson(
        `${instance.url}/v1/conversations/${id}/messages`,
        { id: `${id}.m`, text: 'What do you sell?' },
        headers,
      );
      while (!replies.covering(id, `${id}.m`)) await sleep(20);
    }
    const db = postgres(database.url, { max: 1, onnotice: () => undefined });
    const rollbacks = async () =>
      Number(
        (await db`SELECT xact_rollback FROM pg_stat_database WHERE datname = current_database()`)[0]!
          .xact_rollback,
      );
    await sleep(1_000);
    const rollbacksBefore = await rollbacks();
    const latencies: number[] = [];
    let messages = 0;
    let unanswered = 0;
    const start = performance.now();
    await Promise.all(
      Array.from({ length: conversations }, async (_, c) => {
        const plan = conversationPlan(seed, 100 + count, c, 'burst');
        const conversationId = `scale${count}-${routing}-c${c}`;
        for (const burst of plan.bursts) {
          let previous = performance.now();
          let last = '';
          let lastAt = 0;
          for (const message of burst) {
            const wait = previous + message.gapMs - performance.now();
            if (wait > 0) await sleep(wait);
            previous = performance.now();
            last = `${conversationId}.${message.id}`;
            lastAt = previous;
            await send(conversationId, last, message.text);
            messages += 1;
          }
          const deadline = performance.now() + 30_000;
          while (!replies.covering(conversationId, last) && performance.now() < deadline) await sleep(10);
          const reply = replies.covering(conversationId, last);
          if (reply) latencies.push(reply.at - lastAt);
          else unanswered += 1;
        }
      }),
    );
    const wallS = (performance.now() - start) / 1000;
    await sleep(2_000);
    const conflicts = (await rollbacks()) - rollbacksBefore;
    const leaseClaims = Number(
      (await db`SELECT count(*) AS n FROM graft.events WHERE type = 'lease.claimed'`)[0]!.n,
    );
    const counted = await scrape(instances, /^graft_messages_total$/);
    await db.end();
    log(
      `${count} instance(s), ${routing}: ${messages} messages (/metrics counted ${counted} incl. warm-up) in ${wallS.toFixed(1)} s`,
    );
    return {
      instances: count,
      routing,
      messages,
      wallS,
      messagesPerS: messages / wallS,
      p50: quantile(latencies, 0.5),
      p99: quantile(latencies, 0.99),
      unanswered,
      conflicts,
      leaseClaims,
      conflictsPer1000: (conflicts / messages) * 1000,
      leaseClaimsPer1000: (leaseClaims / messages) * 1000,
    };
  } finally {
    for (const instance of instances) await instance.close();
    await database.drop();
  }
}

interface MemoryResult {
  conversations: number;
  heapPerConversation: number;
  rssPerConversation: number;
  heapUsedMiB: number;
  rssMiB: number;
}

/** Ten customer messages, each its own turn: order, add, change, ask, chat. */
function tenTurns(c: number): string[] {
  const intents: Intent[] = [
    { kind: 'order', items: [{ product: ['pizza', 'burger', 'salad'][c % 3]!, quantity: 1 + (c % 3) }] },
    { kind: 'add', items: [{ product: 'cola', quantity: 1 }] },
    { kind: 'status' },
    { kind: 'add', items: [{ product: 'fries', quantity: 2 }] },
    { kind: 'set', product: 'cola', quantity: 2 },
    { kind: 'chat' },
    { kind: 'add', items: [{ product: 'water', quantity: 1 }] },
    { kind: 'status' },
    { kind: 'set', product: 'fries', quantity: 1 },
    { kind: 'chat' },
  ];
  return intents.map((intent, i) => renderIntent(intent, c + i));
}

async function measureMemory(): Promise<MemoryResult> {
  const database = await freshDatabase('memory');
  const key = await createKey(database.url);
  const instance = await startInstance(database.url, true);
  const headers = { authorization: `Bearer ${key}` };
  const memory = async () =>
    (await (await fetch(`${instance.url}/bench/memory`)).json()) as { heapUsed: number; rss: number };
  const load = async (from: number, to: number) => {
    const all = Array.from({ length: to - from }, (_, k) => from + k);
    // 50 at a time, each conversation's turns one after the other.
    for (let i = 0; i < all.length; i += 50)
      await Promise.all(
        all.slice(i, i + 50).map(async (c) => {
          const conversationId = `mem-c${c}`;
          for (const [t, text] of tenTurns(c).entries()) {
            const id = `${conversationId}.t${t}`;
            await postJson(
              `${instance.url}/v1/conversations/${conversationId}/messages`,
              { id, text },
              headers,
            );
            while (!replies.covering(conversationId, id)) await sleep(5);
          }
        }),
      );
    await sleep(1_500);
  };
  try {
    const half = Math.floor(memoryConversations / 2);
    await load(0, half);
    const first = await memory();
    await load(half, memoryConversations);
    const second = await memory();
    const n = memoryConversations - half;
    log(
      `memory: heapUsed ${(first.heapUsed / 2 ** 20).toFixed(1)} → ${(second.heapUsed / 2 ** 20).toFixed(1)} MiB, rss ${(first.rss / 2 ** 20).toFixed(1)} → ${(second.rss / 2 ** 20).toFixed(1)} MiB`,
    );
    return {
      conversations: memoryConversations,
      heapPerConversation: (second.heapUsed - first.heapUsed) / n,
      rssPerConversation: (second.rss - first.rss) / n,
      heapUsedMiB: second.heapUsed / 2 ** 20,
      rssMiB: second.rss / 2 ** 20,
    };
  } finally {
    await instance.close();
    await database.drop();
  }
}

const results: LoadResult[] = [];
let memoryResult: MemoryResult | null = null;
try {
  for (const count of instanceCounts) results.push(await runLoad(count, 'round-robin'));
  // The same load with each conversation kept on one instance (what a load balancer with affinity does).
  if (values.sticky)
    for (const count of instanceCounts) if (count > 1) results.push(await runLoad(count, 'sticky'));
  if (memoryConversations > 0) memoryResult = await measureMemory();
} finally {
  await replyServer.close();
  await shop.close();
  await stopChild(emulator.child);
  await admin.end();
  rmSync(scratch, { recursive: true, force: true });
}

const kib = (bytes: number) => `${(bytes / 1024).toFixed(1)} KiB`;
const lines = [
  '| instances | routing | messages | messages/s | reply latency p50 / p99 | unanswered bursts | conflicts per 1,000 messages | lease claims per 1,000 messages |',
  '| ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: |',
  ...results.map(
    (r) =>
      `| ${r.instances} | ${r.instances === 1 ? '–' : r.routing} | ${r.messages} | ${r.messagesPerS.toFixed(0)} | ${Math.round(r.p50)} / ${Math.round(r.p99)} ms | ${r.unanswered} | ${r.conflictsPer1000.toFixed(1)} (${r.conflicts}) | ${r.leaseClaimsPer1000.toFixed(1)} (${r.leaseClaims}) |`,
  ),
];
const memoryLine = memoryResult
  ? `Memory per loaded 10-turn conversation (one instance, ${memoryResult.conversations} conversations of 10 turns loaded in two halves; the growth from the first half to both, per conversation): ` +
    `heap ${kib(memoryResult.heapPerConversation)} (heapUsed after a full GC), RSS ${kib(memoryResult.rssPerConversation)} (the rougher figure: RSS also holds pages the allocator has not returned, and moves by tens of MiB on its own). ` +
    `At the end: heapUsed ${memoryResult.heapUsedMiB.toFixed(1)} MiB, RSS ${memoryResult.rssMiB.toFixed(1)} MiB.`
  : '';
console.log(
  `\n${lines.join('\n')}\n\n${memoryLine}\nrun time ${((performance.now() - began) / 1000).toFixed(0)} s`,
);

if (!values['no-record']) {
  const cpu = cpus();
  recordSection(
    'scaleout',
    [
      '## Scale-out on one PostgreSQL (`npm run bench:scaleout`)',
      '',
      `${new Date().toISOString().slice(0, 10)}, ${cpu.length} × ${cpu[0]?.model ?? 'CPU'}, Node ${process.version}, PostgreSQL on 127.0.0.1 (a fresh database per row, dropped after). ` +
        `${conversations} conversations at once, each the bench:peers burst customer (3 bursts of 2–3 messages, 100/300/800 ms apart; the next burst once the reply came), ` +
        'every message sent to the next `graft serve` instance in turn (round robin; the `sticky` rows keep each conversation on one instance instead). The emulator at zero latency in its own process, the shared shop at ' +
        `${values['tool-latency-ms']} ms a tool; every process (PostgreSQL, the emulator, the instances, this client) shares the same cores, so more instances add coordination, not CPU.`,
      '',
      ...lines,
      '',
      "Messages/s: every message of the load over its wall time. Latency: from a burst's last message to the first reply that covers it (this process's clock). " +
        "graft's /metrics counts neither conflicts nor lease claims; they are read from PostgreSQL: conflicts are the database's rolled-back transactions during the load " +
        '(`pg_stat_database.xact_rollback`: an append at a stale seq rolls back), lease claims are the `lease.claimed` events in the log.',
      '',
      memoryLine,
    ].join('\n'),
  );
  console.log('wrote BENCHMARKS.md (section scaleout)');
}
