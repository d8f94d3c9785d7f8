/**
 * `npm run bench:store`: the durable stores, SQLite and PostgreSQL, recorded in BENCHMARKS.md
 * between their own markers.
 *
 * - appends: one `message.received` event per append (each its own transaction, with its
 *   projections), to 200 conversations in turn. Latency p50/p99 and appends per second one at a
 *   time, and appends per second with all 200 conversations appending at once.
 * - end to end: `createGraft` on the store with the shop clerk answering at once (zero latency)
 *   and the SQL shop in the same database; 200 conversations at once, each sending 5 messages,
 *   each after the reply to the one before; messages per second over the whole run.
 *
 * SQLite runs on a file in a temporary directory; PostgreSQL (`GRAFT_BENCH_PG_URL`, else
 * `GRAFT_TEST_PG_URL`, else the machine's `postgres://postgres@127.0.0.1:5432/test`) in a
 * database of its own, dropped afterwards.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import postgres from 'postgres';
import { createAsyncShopTools, createPostgresShop, createSqliteShop } from '../src/demo/shop/sql-shop.js';
import { EVENT_VERSION, type GraftEvent } from '../src/core/events.js';
import type { MessageId } from '../src/core/ids.js';
import { conversationKey, type EventStore } from '../src/core/ports.js';
import { BrainModel } from '../src/model/brain-model.js';
import { createShopClerk } from '../src/demo/clerk/index.js';
import { createGraft } from '../src/runtime/graft.js';
import { type OpenedStore, openStore } from '../src/store/index.js';
import { quantile, recordSection } from './benchmarks-file.js';

const CONVERSATIONS = 200;
const SEQUENTIAL_APPENDS = 4_000;
const CONCURRENT_APPENDS_EACH = 25;
const MESSAGES_PER_CONVERSATION = 5;
const SCRIPT = [
  "I'd like 2 pizzas",
  'add a cola',
  'where is my order?',
  'make it 3 pizzas',
  'thanks, that is all',
];
const PG_URL =
  process.env.GRAFT_BENCH_PG_URL ||
  process.env.GRAFT_TEST_PG_URL ||
  'postgres://postgres@127.0.0.1:5432/test';

interface Figures {
  sequentialPerSecond: number;
  p50: number;
  p99: number;
  concurrentPerSecond: number;
  messagesPerSecond: number;
  replyP50: number;
  replyP99: number;
  appendsPerMessage: number;
}

const progress = (line: string) => process.stderr.write(`bench:store: ${line}\n`);

/** A one-event append of a new message, as `receive` makes it. */
function messageEvent(seq: number): GraftEvent[] {
  return [
    {
      type: 'message.received',
      messageId: `m${seq}` as MessageId,
      text: "I'd like 2 pizzas",
      v: EVENT_VERSION,
      seq,
      at: Date.now(),
    },
  ];
}

async function appends(
  store: OpenedStore,
): Promise<Pick<Figures, 'sequentialPerSecond' | 'p50' | 'p99' | 'concurrentPerSecond'>> {
  const seqs = new Array<number>(CONVERSATIONS).fill(0);
  const key = (c: number) => conversationKey('bench', `append-${c}`);
  const appendOne = async (c: number) => {
    const seq = seqs[c]!;
    seqs[c] = seq + 1;
    await store.append(key(c), seq, messageEvent(seq + 1), { unfinished: true });
  };
  for (let i = 0; i < CONVERSATIONS; i += 1) await appendOne(i); // warm-up: every conversation exists
  const latencies: number[] = [];
  const started = performance.now();
  for (let i = 0; i < SEQUENTIAL_APPENDS; i += 1) {
    const t = performance.now();
    await appendOne(i % CONVERSATIONS);
    latencies.push(performance.now() - t);
  }
  const sequentialMs = performance.now() - started;
  const concurrentStarted = performance.now();
  await Promise.all(
    Array.from({ length: CONVERSATIONS }, async (_, c) => {
      for (let i = 0; i < CONCURRENT_APPENDS_EACH; i += 1) await appendOne(c);
    }),
  );
  const concurrentMs = performance.now() - concurrentStarted;
  return {
    sequentialPerSecond: SEQUENTIAL_APPENDS / (sequentialMs / 1000),
    p50: quantile(latencies, 0.5),
    p99: quantile(latencies, 0.99),
    concurrentPerSecond: (CONVERSATIONS * CONCURRENT_APPENDS_EACH) / (concurrentMs / 1000),
  };
}

async function endToEnd(
  store: OpenedStore,
): Promise<Pick<Figures, 'messagesPerSecond' | 'replyP50' | 'replyP99' | 'appendsPerMessage'>> {
  const shop =
    store.kind === 'sqlite'
      ? createSqliteShop(store.database)
      : store.kind === 'postgres'
        ? await createPostgresShop(store.sql)
        : null;
  if (!shop) throw new Error('the store benchmark needs SQLite or PostgreSQL');
  const waiters = new Map<string, () => void>();
  const errors: unknown[] = [];
  let appendCalls = 0;
  const graft = createGraft({
    // The store, counting appends (everything else is the store's own, through the prototype).
    store: Object.assign(Object.create(store) as EventStore, {
      append: (...args: Parameters<EventStore['append']>) => ((appendCalls += 1), store.append(...args)),
    }),
    model: new BrainModel(createShopClerk()),
    tools: createAsyncShopTools(shop),
    tenantId: 'bench',
    deliver: (d) => {
      for (const id of d.covers) waiters.get(`${d.conversationId}/${id}`)?.();
    },
    onError: (error) => errors.push(error),
  });
  const turn = async (conversationId: string, messageId: string, text: string): Promise<number> => {
    const started = performance.now();
    const replied = new Promise<void>((resolve) => waiters.set(`${conversationId}/${messageId}`, resolve));
    await graft.receive({ conversationId, messageId, text });
    await replied;
    waiters.delete(`${conversationId}/${messageId}`);
    return performance.now() - started;
  };
  const latencies: number[] = [];
  const started = performance.now();
  await Promise.all(
    Array.from({ length: CONVERSATIONS }, async (_, c) => {
      for (const [i, text] of SCRIPT.slice(0, MESSAGES_PER_CONVERSATION).entries())
        latencies.push(await turn(`e2e-${c}`, `m${i}`, text));
    }),
  );
  const ms = performance.now() - started;
  await graft.idle();
  await graft.close();
  if (errors.length > 0)
    throw new Error(`graft reported ${errors.length} errors, the first: ${String(errors[0])}`);
  const messages = CONVERSATIONS * MESSAGES_PER_CONVERSATION;
  return {
    messagesPerSecond: messages / (ms / 1000),
    replyP50: quantile(latencies, 0.5),
    replyP99: quantile(latencies, 0.99),
    appendsPerMessage: appendCalls / messages,
  };
}

async function measure(name: string, spec: string): Promise<Figures> {
  progress(`${name}: appends`);
  const store = await openStore(spec);
  try {
    const a = await appends(store);
    progress(`${name}: end to end, ${CONVERSATIONS} conversations`);
    const e = await endToEnd(store);
    return { ...a, ...e };
  } finally {
    await store.close();
  }
}

async function sqlite(): Promise<Figures> {
  const dir = mkdtempSync(join(tmpdir(), 'graft-bench-store-'));
  try {
    return await measure('SQLite', `sqlite:${join(dir, 'graft.db')}`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** PostgreSQL in a database of its own; the reason it was not measured when the server cannot be reached. */
async function postgresql(): Promise<Figures | string> {
  const admin = postgres(PG_URL, { max: 1, onnotice: () => undefined, connect_timeout: 5 });
  const database = `graft_bench_${randomBytes(4).toString('hex')}`;
  try {
    await admin.unsafe(`CREATE DATABASE ${database}`);
  } catch (error) {
    await admin.end({ timeout: 1 });
    return `not measured: PostgreSQL at ${new URL(PG_URL).host} could not be reached (${error instanceof Error ? error.message : String(error)})`;
  }
  try {
    const url = new URL(PG_URL);
    url.pathname = `/${database}`;
    return await measure('PostgreSQL', url.toString());
  } finally {
    await admin.unsafe(`DROP DATABASE IF EXISTS ${database} WITH (FORCE)`);
    await admin.end({ timeout: 5 });
  }
}

const row = (name: string, f: Figures | string) =>
  typeof f === 'string'
    ? `| ${name} | ${f} | | | | | | |`
    : `| ${name} | ${Math.round(f.sequentialPerSecond)} | ${f.p50.toFixed(2)} ms | ${f.p99.toFixed(2)} ms | ${Math.round(f.concurrentPerSecond)} | ${Math.round(f.messagesPerSecond)} | ${Math.round(f.replyP50)} / ${Math.round(f.replyP99)} ms | ${f.appendsPerMessage.toFixed(1)} |`;

async function main(): Promise<void> {
  const lite = await sqlite();
  const pg = await postgresql();
  const section = [
    '## Stores (`npm run bench:store`)',
    '',
    `${cpus().length} cores (${cpus()[0]?.model ?? 'unknown'}), Node ${process.version}; ${new Date().toISOString().slice(0, 10)}. SQLite on a file in ${tmpdir()} (WAL, \`synchronous=FULL\`); PostgreSQL on 127.0.0.1.`,
    '',
    `Appends: one \`message.received\` per append, each its own transaction with its projections, over ${CONVERSATIONS} conversations; "one at a time" waits for each append, "${CONVERSATIONS} at once" has every conversation appending concurrently. End to end: \`createGraft\` with the shop clerk answering at once and the SQL shop in the same database; ${CONVERSATIONS} conversations at once, each sending ${MESSAGES_PER_CONVERSATION} messages ("I'd like 2 pizzas", "add a cola", …), each after the reply to the one before.`,
    '',
    `| store | appends/s, one at a time | append p50 | append p99 | appends/s, ${CONVERSATIONS} at once | end-to-end messages/s, ${CONVERSATIONS} conversations | reply latency p50 / p99 | appends per message |`,
    '| --- | --- | --- | --- | --- | --- | --- | --- |',
    row('SQLite', lite),
    row('PostgreSQL', pg),
  ].join('\n');
  recordSection('store', section);
  console.log(section);
}

await main();
