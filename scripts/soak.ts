/**
 * `npm run soak -- --minutes N`: two graft processes on one PostgreSQL under a steady stream of
 * customer messages, one of them killed with SIGKILL and restarted every few seconds; at the end
 * the crash checker's criteria must hold and each process's memory must be flat. The figures go to
 * BENCHMARKS.md between `<!-- bench:soak:begin -->` and `<!-- bench:soak:end -->`.
 *
 *   --minutes N            how long messages are sent (default 3)
 *   --rate R               messages per second, over all conversations (default 4)
 *   --kill-every-s S       SIGKILL instance b this often, then restart it (default 20)
 *   --max-rss-growth-pct P the most a judged instance's RSS may grow, first to last quarter (default 25)
 *   --seed N               the customers' scripts (default 1)
 *   --no-record            leave BENCHMARKS.md alone
 *
 * The instances are the crash tests' child (`test/crash/child.ts` through `test/crash/spawn.ts`):
 * the shop clerk with a latency, the SQL shop in the same database, writes logged before they run
 * and deliveries logged as they happen. Customers are the simulator's (`customerScript`, bursts of
 * up to four messages), their gaps shortened fourfold; each sends its messages one after another,
 * each once an instance acknowledged the one before, and a message the instance died holding goes
 * to the other (as a channel retries). Instance a lives through the whole run, so its memory
 * series is the long one; b is the one killed, and each b is a new series. The database is checked
 * by `test/crash/checker.ts` once every conversation is finished. Everything lives in a schema of
 * its own in the PostgreSQL at `GRAFT_SOAK_PG_URL`, else `GRAFT_TEST_PG_URL`, else
 * `postgres://postgres@127.0.0.1:5432/test`; it is dropped at the end.
 *
 * Exit 0 when every criterion holds, 1 when one fails (the summary says which).
 */
import { randomBytes } from 'node:crypto';
import { cpus } from 'node:os';
import { parseArgs } from 'node:util';
import postgres from 'postgres';
import type { DesiredOrder } from '../src/demo/clerk/language.js';
import { applyIntent } from '../src/demo/clerk/language.js';
import { createPostgresShop } from '../src/demo/shop/sql-shop.js';
import { KeyedRandom } from '../src/sim/rng.js';
import { type CustomerScript, customerScript } from '../src/sim/workload.js';
import { openStore } from '../src/store/index.js';
import { checkDatabase } from '../test/crash/checker.js';
import { type Instance, type MemorySample, startInstance } from '../test/crash/spawn.js';
import { testTables } from '../test/crash/tables.js';
import { recordSection } from './benchmarks-file.js';

const PG_URL =
  process.env.GRAFT_SOAK_PG_URL || process.env.GRAFT_TEST_PG_URL || 'postgres://postgres@127.0.0.1:5432/test';
/** Customers' gaps (1.5 s within a burst, 20 s between bursts) are divided by this. */
const SPEEDUP = 4;
const PROGRESS_EVERY_MS = 5_000;
const MEMORY_EVERY_MS = 1_000;
const SETTLE_TIMEOUT_MS = 120_000;
/** A memory series shorter than this is reported, not judged: its first quarter is start-up. */
const JUDGED_LIFE_MS = 60_000;

const { values: flags } = parseArgs({
  options: {
    minutes: { type: 'string', default: '3' },
    rate: { type: 'string', default: '4' },
    'kill-every-s': { type: 'string', default: '20' },
    'max-rss-growth-pct': { type: 'string', default: '25' },
    seed: { type: 'string', default: '1' },
    'no-record': { type: 'boolean', default: false },
  },
});
const positive = (name: keyof typeof flags): number => {
  const n = Number(flags[name]);
  if (!(n > 0)) throw new Error(`--${name} must be a positive number, not ${flags[name]}`);
  return n;
};
const durationMs = positive('minutes') * 60_000;
const ratePerSecond = positive('rate');
const killEveryMs = positive('kill-every-s') * 1000;
const maxGrowthPct = positive('max-rss-growth-pct');
const seed = Number(flags.seed);

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const mb = (bytes: number) => bytes / 2 ** 20;
const say = (line: string) => process.stderr.write(`soak: ${line}\n`);

/** One customer being played: its script, when it started, its next message, what it wants so far. */
interface Customer {
  script: CustomerScript;
  number: number;
  startedMs: number;
  next: number;
  busy: boolean;
}

interface Counts {
  sent: number;
  acknowledged: number;
  duplicates: number;
  resent: number;
  kills: number;
  /** Kills while some conversation was unfinished (so the other instance had work to take over). */
  killsMidTurn: number;
}

/** A memory series in brief: start-up is in the first quarter, so only long lives are judged. */
interface Growth {
  instance: string;
  lifeS: number;
  samples: number;
  firstMb: number;
  lastMb: number;
  growthMb: number;
  growthPct: number;
  heapFirstMb: number;
  heapLastMb: number;
  judged: boolean;
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? Number.NaN;
}

/** The growth of an instance's RSS between the first and the last quarter of its life (medians). */
function growthOf(instance: Instance): Growth | null {
  const samples = instance.memory;
  const first = samples[0];
  const last = samples.at(-1);
  if (!first || !last || samples.length < 8) return null;
  const span = last.atMs - first.atMs;
  const quarter = (from: number, to: number) => samples.filter((s) => s.atMs >= from && s.atMs <= to);
  const head = quarter(first.atMs, first.atMs + span / 4);
  const tail = quarter(last.atMs - span / 4, last.atMs);
  const rss = (xs: MemorySample[]) => mb(median(xs.map((s) => s.rssBytes)));
  const heap = (xs: MemorySample[]) => mb(median(xs.map((s) => s.heapUsedBytes)));
  const firstMb = rss(head);
  const lastMb = rss(tail);
  return {
    instance: instance.name,
    lifeS: span / 1000,
    samples: samples.length,
    firstMb,
    lastMb,
    growthMb: lastMb - firstMb,
    growthPct: ((lastMb - firstMb) / firstMb) * 100,
    heapFirstMb: heap(head),
    heapLastMb: heap(tail),
    judged: span >= JUDGED_LIFE_MS,
  };
}

/** The two instances: a for the whole run, b killed and restarted; every instance that ever ran. */
class Fleet {
  readonly all: Instance[] = [];
  readonly current: Instance[] = [];
  private generation = 0;

  constructor(private readonly env: Record<string, string>) {}

  async start(): Promise<void> {
    // One after the other: their first start creates the test tables, which must not race.
    this.current.push(await this.spawn('a'));
    this.current.push(await this.spawn(this.nextB()));
  }

  /** SIGKILLs b and starts a new b; messages meanwhile go to a. */
  async killAndRestartB(): Promise<void> {
    this.current[1]?.kill();
    this.current[1] = await this.spawn(this.nextB());
  }

  alive(): Instance[] {
    return this.current.filter((x) => x.alive);
  }

  private nextB(): string {
    this.generation += 1;
    return `b${this.generation}`;
  }

  private async spawn(name: string): Promise<Instance> {
    const instance = await startInstance(name, this.env);
    this.all.push(instance);
    return instance;
  }
}

/** Plays customers at a fixed rate: each tick sends the oldest due message, or starts a customer. */
class Traffic {
  readonly desired = new Map<string, DesiredOrder>();
  readonly counts: Counts = {
    sent: 0,
    acknowledged: 0,
    duplicates: 0,
    resent: 0,
    kills: 0,
    killsMidTurn: 0,
  };
  private readonly active: Customer[] = [];
  private readonly inFlight = new Set<Promise<void>>();
  private customers = 0;

  constructor(
    private readonly rng: KeyedRandom,
    private readonly fleet: Fleet,
  ) {}

  tick(now: number): void {
    const due = this.active.find(
      (c) => !c.busy && now >= c.startedMs + c.script.messages[c.next]!.atMs / SPEEDUP,
    );
    const customer = due ?? this.newCustomer(now);
    const sending = this.send(customer).finally(() => this.inFlight.delete(sending));
    this.inFlight.add(sending);
  }

  async drain(): Promise<void> {
    await Promise.all([...this.inFlight]);
  }

  private newCustomer(now: number): Customer {
    const number = this.customers;
    this.customers += 1;
    const customer = {
      script: customerScript(this.rng, number),
      number,
      startedMs: now,
      next: 0,
      busy: false,
    };
    this.desired.set(customer.script.conversationId, null);
    this.active.push(customer);
    return customer;
  }

  /** Sends the customer's next message until an instance acknowledges it; then it counts as asked. */
  private async send(customer: Customer): Promise<void> {
    const { conversationId, messages } = customer.script;
    const m = messages[customer.next]!;
    customer.busy = true;
    this.counts.sent += 1;
    for (let attempt = 0; ; attempt += 1) {
      const alive = this.fleet.alive();
      const to = alive[Math.floor(this.rng.uniform('route', customer.number, m.id, attempt) * alive.length)];
      const status = to ? await to.send({ conversationId, messageId: m.id, text: m.text }) : 'lost';
      if (status === 'duplicate') this.counts.duplicates += 1;
      if (status !== 'lost') break;
      this.counts.resent += 1;
      if (!to) await sleep(100);
    }
    this.counts.acknowledged += 1;
    this.desired.set(conversationId, applyIntent(this.desired.get(conversationId) ?? null, m.intent));
    customer.next += 1;
    customer.busy = false;
    if (customer.next === messages.length) this.active.splice(this.active.indexOf(customer), 1);
  }
}

const rssNow = (x: Instance) => {
  const last = x.memory.at(-1);
  return `${x.name} ${last ? `${mb(last.rssBytes).toFixed(0)} MB` : '-'}`;
};

/** Sends for `durationMs`, killing b every `killEveryMs`, and prints a progress line now and then. */
async function run(
  traffic: Traffic,
  fleet: Fleet,
  progress: () => Promise<string>,
  busy: () => Promise<boolean>,
): Promise<void> {
  const started = Date.now();
  const periodMs = 1000 / ratePerSecond;
  let ticks = 0;
  let nextKill = started + killEveryMs;
  let nextProgress = started + PROGRESS_EVERY_MS;
  let restarting: Promise<void> | null = null;
  const restart: { failed?: Error } = {};
  while (Date.now() - started < durationMs) {
    if (restart.failed) throw restart.failed;
    if (!fleet.current[0]?.alive)
      throw new Error(`instance a died on its own: ${fleet.all[0]?.errors.join('')}`);
    const now = Date.now();
    // Fixed rate: tick k is due at started + k × period, however long the ticks before took.
    while (started + ticks * periodMs <= now) {
      traffic.tick(now);
      ticks += 1;
    }
    if (now >= nextKill && restarting === null) {
      traffic.counts.kills += 1;
      if (await busy()) traffic.counts.killsMidTurn += 1;
      restarting = fleet
        .killAndRestartB()
        .catch(
          (error: unknown) =>
            void (restart.failed = error instanceof Error ? error : new Error(String(error))),
        )
        .finally(() => (restarting = null));
      nextKill = now + killEveryMs;
    }
    if (now >= nextProgress) {
      say(`${Math.round((now - started) / 1000)} s: ${await progress()}`);
      nextProgress += PROGRESS_EVERY_MS;
    }
    await sleep(Math.max(1, Math.min(50, started + ticks * periodMs - Date.now())));
  }
  await restarting;
}

async function waitSettled(store: { unfinished(): Promise<unknown[]> }, progress: () => Promise<string>) {
  const started = Date.now();
  let lastSaid = started;
  for (;;) {
    const left = (await store.unfinished()).length;
    if (left === 0) return true;
    if (Date.now() - started > SETTLE_TIMEOUT_MS) return false;
    if (Date.now() - lastSaid >= PROGRESS_EVERY_MS) {
      say(`settling, ${left} unfinished: ${await progress()}`);
      lastSaid = Date.now();
    }
    await sleep(200);
  }
}

interface Outcome {
  minutes: number;
  counts: Counts;
  conversations: number;
  replies: number;
  settled: boolean;
  violations: string[];
  errors: string[];
  growth: Growth[];
}

function failures(o: Outcome): string[] {
  const failed: string[] = [];
  if (!o.settled)
    failed.push(`conversations still unfinished ${SETTLE_TIMEOUT_MS / 1000} s after the last message`);
  if (o.violations.length > 0) failed.push(`${o.violations.length} checker violations`);
  if (o.errors.length > 0) failed.push(`${o.errors.length} errors reported by the instances`);
  for (const g of o.growth)
    if (g.judged && g.growthPct > maxGrowthPct)
      failed.push(`${g.instance}'s RSS grew ${g.growthPct.toFixed(1)}% (more than ${maxGrowthPct}%)`);
  if (!o.growth.some((g) => g.judged)) failed.push('no instance lived long enough to judge its memory');
  return failed;
}

function section(o: Outcome, failed: string[]): string {
  const c = o.counts;
  const judged = o.growth.filter((g) => g.judged);
  const b = o.growth.filter((g) => !g.judged);
  const row = (g: Growth) =>
    `| ${g.instance} | ${g.lifeS.toFixed(0)} s | ${g.firstMb.toFixed(0)} → ${g.lastMb.toFixed(0)} MB | ${g.growthMb >= 0 ? '+' : ''}${g.growthMb.toFixed(1)} MB (${g.growthPct >= 0 ? '+' : ''}${g.growthPct.toFixed(1)}%) | ${g.heapFirstMb.toFixed(0)} → ${g.heapLastMb.toFixed(0)} MB |`;
  const bGrowth = b.map((g) => g.growthPct);
  return [
    '## Soak (`npm run soak`)',
    '',
    `${cpus().length} cores (${cpus()[0]?.model ?? 'unknown'}), Node ${process.version}; ${new Date().toISOString().slice(0, 10)}. Two graft processes (the crash tests' child: the shop clerk with 40–250 ms latency, the SQL shop with 20–120 ms tools) on PostgreSQL at 127.0.0.1, NOTIFY on; ${ratePerSecond} customer messages per second for ${o.minutes} min (the simulator's customers, gaps shortened ${SPEEDUP}×); instance b killed with SIGKILL and restarted every ${killEveryMs / 1000} s, a never.`,
    '',
    '| measure | value |',
    '| --- | --- |',
    `| messages sent / acknowledged | ${c.sent} / ${c.acknowledged} (${c.resent} resent after a kill, ${c.duplicates} of them already stored) |`,
    `| conversations / replies delivered | ${o.conversations} / ${o.replies} |`,
    `| kills (while a conversation was unfinished) | ${c.kills} (${c.killsMidTurn}) |`,
    `| all settled | ${o.settled ? 'yes' : 'no'} |`,
    `| checker violations | ${o.violations.length} |`,
    `| errors reported by the instances | ${o.errors.length} |`,
    `| b's RSS growth, ${b.length} lives of about ${killEveryMs / 1000} s (not judged: start-up) | ${bGrowth.length > 0 ? `${Math.min(...bGrowth).toFixed(0)}% to ${Math.max(...bGrowth).toFixed(0)}%` : '-'} |`,
    '',
    `Memory of the instances that lived at least ${JUDGED_LIFE_MS / 1000} s, median RSS of the first quarter of the life against the last (limit +${maxGrowthPct}%):`,
    '',
    '| instance | life | RSS | growth | heap used |',
    '| --- | --- | --- | --- | --- |',
    ...judged.map(row),
    '',
    failed.length === 0 ? 'Result: every criterion holds.' : `Result: FAILED: ${failed.join('; ')}.`,
  ].join('\n');
}

/** The details behind the summary: the first violations and errors, every memory series. */
function explain(o: Outcome): void {
  for (const v of o.violations.slice(0, 20)) say(`violation: ${v}`);
  if (o.violations.length > 20) say(`… and ${o.violations.length - 20} more violations`);
  for (const e of o.errors.slice(0, 10)) say(`error: ${e.trim()}`);
  for (const g of o.growth)
    say(
      `memory ${g.instance}: ${g.lifeS.toFixed(0)} s, ${g.samples} samples, RSS ${g.firstMb.toFixed(0)} → ${g.lastMb.toFixed(0)} MB (${g.growthPct.toFixed(1)}%), heap ${g.heapFirstMb.toFixed(0)} → ${g.heapLastMb.toFixed(0)} MB${g.judged ? '' : ' (not judged)'}`,
    );
}

/** Starts the fleet, sends for the run's length, waits for the work to settle, and checks the database. */
async function soak(fleet: Fleet, spec: string, schema: string): Promise<Outcome> {
  await fleet.start();
  const store = await openStore(spec, { schema, notify: false });
  if (store.kind !== 'postgres') throw new Error('expected PostgreSQL');
  const traffic = new Traffic(new KeyedRandom(seed), fleet);
  const replies = async () =>
    Number(
      (await store.sql`SELECT count(DISTINCT (conversation_id, reply_id)) AS n FROM test_deliveries`)[0]?.n ??
        0,
    );
  const progress = async () => {
    const c = traffic.counts;
    return `sent ${c.sent}, acknowledged ${c.acknowledged}, replies ${await replies()}, kills ${c.kills}, RSS ${fleet.current.map(rssNow).join(', ')}`;
  };
  const sendingFrom = Date.now();
  const busy = async () => (await store.unfinished()).length > 0;
  await run(traffic, fleet, progress, busy);
  const minutes = Math.round((Date.now() - sendingFrom) / 6_000) / 10;
  await traffic.drain();
  const settled = await waitSettled(store, progress);
  say(`checking ${traffic.desired.size} conversations`);
  const violations = await checkDatabase(
    store,
    await testTables(store),
    await createPostgresShop(store.sql),
    traffic.desired,
  );
  const outcome: Outcome = {
    minutes,
    counts: traffic.counts,
    conversations: traffic.desired.size,
    replies: await replies(),
    settled,
    violations,
    errors: fleet.all.flatMap((x) => x.errors.map((e) => `${x.name}: ${e}`)),
    growth: [],
  };
  await Promise.all(fleet.alive().map((x) => x.quit()));
  await store.close();
  outcome.growth = fleet.all.map(growthOf).filter((g): g is Growth => g !== null);
  return outcome;
}

async function main(): Promise<number> {
  const schema = `graft_soak_${randomBytes(4).toString('hex')}`;
  const url = new URL(PG_URL);
  // The search path puts the shop's and the checker's tables in the schema too, so one DROP clears all.
  url.searchParams.set('search_path', schema);
  const spec = url.toString();
  const admin = postgres(PG_URL, { max: 1, onnotice: () => undefined, connect_timeout: 5 });
  await admin.unsafe(`CREATE SCHEMA ${schema}`);
  const fleet = new Fleet({
    STORE: spec,
    SCHEMA: schema,
    POLL_MS: '100',
    LEASE_MS: '1000',
    MEMORY_MS: String(MEMORY_EVERY_MS),
  });
  // Once, whether the run ends or Ctrl-C comes first (the run then fails: its instances are gone).
  let dropping: Promise<void> | null = null;
  const dropSchema = () =>
    (dropping ??= (async () => {
      for (const x of fleet.all) if (x.alive) x.kill();
      await sleep(200);
      await admin.unsafe(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
      await admin.end({ timeout: 5 });
    })());
  // Ctrl-C reaches the instances too (one process group): there is nothing left to check.
  const onInterrupt = () => {
    say(`interrupted: dropping ${schema}`);
    void dropSchema().finally(() => process.exit(130));
  };
  process.once('SIGINT', onInterrupt);
  try {
    say(
      `schema ${schema}; ${ratePerSecond} messages/s for ${durationMs / 60_000} min, b killed every ${killEveryMs / 1000} s`,
    );
    const outcome = await soak(fleet, spec, schema);
    const failed = failures(outcome);
    explain(outcome);
    const text = section(outcome, failed);
    if (!flags['no-record']) recordSection('soak', text);
    console.log(text);
    return failed.length === 0 ? 0 : 1;
  } finally {
    process.off('SIGINT', onInterrupt);
    await dropSchema();
  }
}

process.exitCode = await main();
