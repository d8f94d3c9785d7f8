/**
 * One fault run: graft (the library, one instance, the shop clerk, the SQL shop) on a fresh
 * PostgreSQL schema reached through a `FaultProxy`, customers sending bursts, a fault in the
 * middle of them, then the fault healed; it waits until all work is done and checks the crash
 * checker's guarantees. The shop and the test's own tables are reached directly, so the fault is
 * between graft's store and PostgreSQL only. Used by the tests and by `npm run bench:faults`.
 */
import { randomBytes } from 'node:crypto';
import postgres from 'postgres';
import { createShopClerk } from '../../src/demo/clerk/index.js';
import type { DesiredOrder } from '../../src/demo/clerk/language.js';
import { applyIntent } from '../../src/demo/clerk/language.js';
import { createAsyncShopTools, createPostgresShop } from '../../src/demo/shop/sql-shop.js';
import { GraftError } from '../../src/core/errors.js';
import { BrainModel } from '../../src/model/brain-model.js';
import { systemClock } from '../../src/runtime/clock.js';
import { createGraft } from '../../src/runtime/graft.js';
import { KeyedRandom } from '../../src/sim/rng.js';
import { customerScript } from '../../src/sim/workload.js';
import type { OpenedStore } from '../../src/store/index.js';
import { openStore } from '../../src/store/index.js';
import { defineTool } from '../../src/tools/define-tool.js';
import { checkDatabase } from '../crash/checker.js';
import { testTables } from '../crash/tables.js';
import { FaultProxy } from './proxy.js';

export type Fault = 'stall' | 'drop' | 'reset' | 'terminate';

export interface FaultRun {
  fault: Fault;
  violations: string[];
  /** Background errors that are not retryable (a bug, if any). */
  unexpected: string[];
  /** Retryable errors seen (the fault at work). */
  retryable: number;
  /** From healing the fault to the first append that succeeded after it. */
  firstAppendMs: number | null;
  /** From healing the fault to every message accepted and nothing unfinished. */
  allDoneMs: number;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** The store settings the fault runs use: deadlines short enough to recover in seconds. */
export const FAULT_STORE_OPTIONS = {
  connectTimeoutMs: 1_000,
  statementTimeoutMs: 1_000,
  lockTimeoutMs: 500,
  queryDeadlineMs: 1_500,
  max: 4,
} as const;

export async function runFault(
  url: string,
  fault: Fault,
  options: { seed?: number; conversations?: number; faultMs?: number } = {},
): Promise<FaultRun> {
  const schema = `graft_fault_${randomBytes(5).toString('hex')}`;
  const applicationName = `graft_${schema}`;
  const direct = await openStore(url, { schema });
  const sql = postgres(url, { max: 2, onnotice: () => undefined, connection: { search_path: schema } });
  const proxy = await FaultProxy.start(Number(new URL(url).port || 5432));
  let store: OpenedStore | null = null;
  try {
    const tables = await testTables({ kind: 'postgres', sql } as never);
    const shop = await createPostgresShop(sql);
    store = await openStore(proxy.url(url), { schema, applicationName, ...FAULT_STORE_OPTIONS });
    const errors: unknown[] = [];
    let healedAt = Infinity;
    let firstAppendAt: number | null = null;
    const tools = createAsyncShopTools(shop).map((t) =>
      defineTool<unknown>({
        ...t,
        run: async (args, ctx) => {
          await sleep(10 + Math.random() * 40);
          if (t.effect === 'write')
            await tables.invoked(ctx.conversationId, t.name, ctx.idempotencyKey ?? ctx.toolCallId, 'one');
          return t.run(args, ctx);
        },
      }),
    );
    const graft = createGraft({
      store,
      model: new BrainModel(createShopClerk(), {
        clock: systemClock,
        latencyMs: () => 20 + Math.random() * 60,
      }),
      tools,
      tenantId: 't',
      instanceId: 'one',
      limits: { leaseMs: 1_000 },
      deliver: (d) => tables.delivered(d.conversationId, d.replyId, d.deliveryId, d.text, 'one'),
      onEvent: () => {
        if (firstAppendAt === null && Date.now() >= healedAt) firstAppendAt = Date.now();
      },
      onError: (e) => errors.push(e),
    });
    const rng = new KeyedRandom(options.seed ?? 1);
    const scripts = Array.from({ length: options.conversations ?? 6 }, (_, c) => customerScript(rng, c));
    const desired = new Map<string, DesiredOrder>();
    const sends = scripts.map(async (script) => {
      for (const [i, m] of script.messages.entries()) {
        if (i > 0) await sleep(Math.min(150, (m.atMs - script.messages[i - 1]!.atMs) / 20));
        // The channel retries a message graft did not accept (the service answers 503).
        for (;;) {
          try {
            await graft.receive({ conversationId: script.conversationId, messageId: m.id, text: m.text });
            break;
          } catch (error) {
            if (!(error instanceof GraftError && error.kind === 'retryable')) throw error;
            errors.push(error);
            await sleep(100);
          }
        }
      }
      desired.set(
        script.conversationId,
        script.messages.reduce<DesiredOrder>((d, m) => applyIntent(d, m.intent), null),
      );
    });
    await sleep(300);
    await injure(proxy, fault, sql, applicationName, options.faultMs ?? 1_500);
    proxy.heal();
    healedAt = Date.now();
    await Promise.all(sends);
    for (; (await direct.unfinished()).length > 0; await sleep(50)) {
      if (Date.now() - healedAt > 30_000)
        throw new Error(
          `${fault}: not settled 30 s after healing: ${JSON.stringify(await direct.unfinished())}`,
        );
    }
    const allDoneMs = Date.now() - healedAt;
    await graft.close();
    const violations = await checkDatabase(direct, tables, shop, desired);
    const retryable = errors.filter((e) => e instanceof GraftError && e.kind === 'retryable');
    return {
      fault,
      violations,
      unexpected: errors
        .filter((e) => !retryable.includes(e))
        .map((e) => (e instanceof Error ? (e.stack ?? e.message) : String(e))),
      retryable: retryable.length,
      firstAppendMs: firstAppendAt === null ? null : firstAppendAt - healedAt,
      allDoneMs,
    };
  } finally {
    await store?.close();
    await proxy.close();
    await sql.end({ timeout: 1 });
    if (direct.kind === 'postgres') await direct.sql.unsafe(`DROP SCHEMA ${schema} CASCADE`);
    await direct.close();
  }
}

/** Makes the fault last `ms`. */
async function injure(proxy: FaultProxy, fault: Fault, sql: postgres.Sql, app: string, ms: number) {
  const until = Date.now() + ms;
  switch (fault) {
    case 'stall':
      proxy.stall();
      return sleep(ms);
    case 'drop':
      proxy.drop();
      return sleep(ms);
    case 'reset':
      for (; Date.now() < until; await sleep(150)) proxy.reset();
      return;
    case 'terminate':
      for (; Date.now() < until; await sleep(100))
        await sql`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = ${app}`;
      return;
  }
}
