/**
 * A graft process for the crash and multi-instance tests: SQLite or PostgreSQL, the shop clerk,
 * the SQL shop. It kills itself with SIGKILL at a named crash point when told to.
 *
 * Env: STORE (spec), MODE (`batch`: recover, send SCRIPT, wait until nothing is unfinished, exit 0;
 * `serve`: read messages as JSON lines on stdin), SCRIPT (JSON [{conversationId, messageId, text,
 * gapMs}]), CRASH_POINT / CRASH_HIT (die at the HIT-th time that point is reached), LEASE_MS,
 * POLL_MS, NOTIFY (`0` turns PostgreSQL NOTIFY off), SCHEMA, MEMORY_MS (print `memory RSS HEAP_USED`, in
 * bytes, this often: the soak's memory series).
 */
import { randomUUID } from 'node:crypto';
import { writeSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { createPostgresShop, createAsyncShopTools, createSqliteShop } from '../../src/demo/shop/sql-shop.js';
import { coreConfig } from '../../src/core/config.js';
import { plan } from '../../src/core/plan.js';
import { replay } from '../../src/core/state.js';
import { BrainModel } from '../../src/model/brain-model.js';
import { createShopClerk } from '../../src/demo/clerk/index.js';
import { systemClock } from '../../src/runtime/clock.js';
import { createGraft } from '../../src/runtime/graft.js';
import { openStore } from '../../src/store/index.js';
import { defineTool, toolSpec } from '../../src/tools/define-tool.js';
import { testTables } from './tables.js';

const env = process.env;
const say = (line: string) => writeSync(1, `${line}\n`);
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const jitter = (min: number, max: number) => min + Math.random() * (max - min);

const store = await openStore(env.STORE, {
  ...(env.SCHEMA ? { schema: env.SCHEMA } : {}),
  notify: env.NOTIFY !== '0',
});
const tables = await testTables(store);
const shop =
  store.kind === 'sqlite'
    ? createSqliteShop(store.database)
    : store.kind === 'postgres'
      ? await createPostgresShop(store.sql)
      : null;
if (!shop) throw new Error('the crash tests need SQLite or PostgreSQL');

const hits = new Map<string, number>();
const crashPoint = env.CRASH_POINT ?? '';
const crashHit = Number(env.CRASH_HIT ?? 1);
const instanceId = `inst_${randomUUID().slice(0, 8)}`;

// The shop's tools, slowed down like a real shop's API, logging every write invocation before it writes.
const tools = createAsyncShopTools(shop).map((t) =>
  defineTool<unknown>({
    ...t,
    run: async (args, ctx) => {
      await sleep(jitter(20, 120));
      if (t.effect === 'write')
        await tables.invoked(ctx.conversationId, t.name, ctx.idempotencyKey ?? ctx.toolCallId, instanceId);
      return t.run(args, ctx);
    },
  }),
);

const leaseMs = Number(env.LEASE_MS ?? 1_000);
const graftConfig = coreConfig({
  instanceId,
  tools: tools.map((t) => toolSpec(t)),
  limits: { leaseMs } as never,
});
const graft = createGraft({
  store,
  model: new BrainModel(createShopClerk(), {
    clock: systemClock,
    latencyMs: () => jitter(40, 250),
    idPrefix: `${instanceId.slice(5)}_`,
  }),
  tools,
  tenantId: 't',
  instanceId,
  limits: { leaseMs },
  ...(env.POLL_MS ? { pollMs: Number(env.POLL_MS) } : {}),
  deliver: (d) => tables.delivered(d.conversationId, d.replyId, d.deliveryId, d.text, instanceId),
  onError: (error) => say(`error ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`),
  onCrashPoint: (point) => {
    const n = (hits.get(point) ?? 0) + 1;
    hits.set(point, n);
    if (point === crashPoint && n === crashHit) {
      say(`crash ${point}`);
      process.kill(process.pid, 'SIGKILL');
    }
  },
});

async function settled(timeoutMs: number): Promise<boolean> {
  for (const started = Date.now(); Date.now() - started < timeoutMs; await sleep(50)) {
    if ((await store.unfinished()).length === 0) return true;
  }
  return false;
}

/** What each unfinished conversation still waits for, and what the core would do now. */
async function diagnose(): Promise<string[]> {
  const lines: string[] = [];
  for (const key of await store.unfinished()) {
    const state = replay(key.conversationId, await store.read(key, 0));
    const now = Date.now();
    const attempts = [...state.attempts.values()]
      .filter((a) => a.status === 'live')
      .map((a) => `${a.attemptId} owner ${a.owner} lease ${a.leaseUntil - now}ms`);
    const effects = [...state.effects.values()]
      .filter((e) => e.status === 'running' || e.status === 'unknown')
      .map(
        (e) =>
          `${e.effectId} ${e.tool} ${e.status} owner ${e.owner} lease ${e.leaseUntil - now}ms checkBy ${e.checkBy} checked ${e.checked}`,
      );
    const replies = state.replies.filter((r) => r.deliveredAt === null).map((r) => r.replyId);
    const uncovered = state.messages.filter((m) => m.coveredBy === null).map((m) => m.messageId);
    const pending = [...state.calls.values()]
      .filter((c) => c.status === 'pending')
      .map((c) => `${c.callId} owner ${c.owner}`);
    const next = plan(state, graftConfig, now);
    const commands =
      next.kind === 'append'
        ? [`append ${next.events.map((e) => e.type).join(',')}`]
        : [...next.commands.map((c) => c.type), ...(next.wakeAt === null ? [] : ['wake'])];
    lines.push(
      `diagnose ${key.conversationId} seq ${state.seq} me ${instanceId}: live [${attempts.join('; ')}] calls [${pending.join('; ')}] effects [${effects.join('; ')}] undelivered [${replies.join(',')}] uncovered [${uncovered.join(',')}] plan [${commands.join('; ')}]`,
    );
  }
  return lines;
}

if (env.MEMORY_MS) {
  const report = () => {
    const { rss, heapUsed } = process.memoryUsage();
    say(`memory ${rss} ${heapUsed}`);
  };
  report();
  setInterval(report, Number(env.MEMORY_MS)).unref();
}

if (env.MODE === 'serve') {
  await graft.recover();
  say(`ready ${instanceId}`);
  for await (const line of createInterface({ input: process.stdin })) {
    if (line === 'quit') break;
    const m = JSON.parse(line) as { conversationId: string; messageId: string; text: string };
    const { status } = await graft.receive(m);
    say(`${status} ${m.conversationId}/${m.messageId}`);
  }
  await graft.close();
  await store.close();
  process.exit(0);
} else {
  await graft.recover();
  for (const m of JSON.parse(env.SCRIPT ?? '[]') as {
    conversationId: string;
    messageId: string;
    text: string;
    gapMs: number;
  }[]) {
    await sleep(m.gapMs);
    const { status } = await graft.receive(m);
    say(`${status} ${m.messageId}`);
  }
  const ok = await settled(30_000);
  if (!ok) for (const line of await diagnose()) say(line);
  say(ok ? 'settled' : 'stuck');
  await graft.close();
  await store.close();
  process.exit(ok ? 0 : 3);
}
