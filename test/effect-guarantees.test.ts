import { conversationKey } from '../src/core/ports.js';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import type { BrainRequest } from '../src/core/brain.js';
import type { EventOf, GraftEvent } from '../src/core/events.js';
import { lineage } from '../src/core/context.js';
import { attentionNeeded } from '../src/core/state.js';
import type { Clock } from '../src/core/ports.js';
import { createShopClerk } from '../src/demo/clerk/index.js';
import { callTool, createScriptedBrain, say } from '../src/model/scripted-brain.js';
import { BrainModel } from '../src/model/brain-model.js';
import { createGraft } from '../src/runtime/graft.js';
import { VirtualClock } from '../src/sim/virtual-clock.js';
import { MemoryStore } from '../src/store/memory/memory-store.js';
import type { ToolDefinition } from '../src/tools/define-tool.js';
import { ToolRejection, defineTool } from '../src/tools/define-tool.js';
import { RetryableError } from '../src/core/errors.js';
import { harness, instances, shopOnClock } from './harness.js';

/**
 * Regression tests for the holes in the effect guarantees that an adversarial review found
 * (issue 9), each named after its scenario. Each failed on the code before the fix.
 */

const outputsOf = (r: BrainRequest) =>
  r.input.flatMap((i) => (i.type === 'function_call_output' ? [i.output] : []));
const ofType = <T extends GraftEvent['type']>(events: GraftEvent[], type: T) =>
  events.filter((e): e is EventOf<T> => e.type === type);

function clerkHarness(
  toolLatency: number | Record<string, number>,
  graft: Parameters<typeof harness>[0]['graft'] = {},
) {
  let made!: ReturnType<typeof shopOnClock>;
  const h = harness({
    brain: createShopClerk(),
    tools: (clock) => (made = shopOnClock(clock, toolLatency)).tools,
    graft,
  });
  return { ...h, shop: () => made.shop };
}

/** A write tool on virtual time that records every run, with what it did. */
function ledgerTool(
  clock: VirtualClock,
  options: {
    latencyMs: number;
    behave?: (run: number) => 'ok' | 'throw-after' | 'reject' | 'bigint';
    timeoutMs?: number;
    hangMs?: number;
    reconcile?: boolean;
  },
) {
  const runs: { key: string | null; at: number; wrote: boolean; aborted: number | null }[] = [];
  const written = new Set<string>();
  const tool = defineTool({
    name: 'create_order',
    description: 'create an order',
    parameters: z.object({ item: z.string().optional() }),
    effect: 'write',
    ...(options.timeoutMs !== undefined ? { timeoutMs: options.timeoutMs } : {}),
    ...(options.hangMs !== undefined ? { hangMs: options.hangMs } : {}),
    ...(options.reconcile === false
      ? {}
      : {
          reconcile: (key: string) =>
            Promise.resolve(
              written.has(key)
                ? { happened: true as const, output: { order: key } }
                : { happened: false as const },
            ),
        }),
    async run(_args, ctx) {
      const run = { key: ctx.idempotencyKey, at: clock.now(), wrote: false, aborted: null as number | null };
      runs.push(run);
      ctx.signal.addEventListener('abort', () => (run.aborted = clock.now()), { once: true });
      await clock.sleep(options.latencyMs);
      const behaviour = options.behave?.(runs.length) ?? 'ok';
      if (behaviour === 'reject') throw new ToolRejection('the shop said no');
      run.wrote = true;
      written.add(ctx.idempotencyKey!);
      if (behaviour === 'throw-after') throw new Error('connection reset after the write');
      if (behaviour === 'bigint') return { order: ctx.idempotencyKey, total: 10n };
      return { order: ctx.idempotencyKey };
    },
  });
  return { tool: tool as ToolDefinition, runs };
}

describe('the effect guarantees under an adversarial world', () => {
  it('never goes past a slow write: create_order takes 40 s, a second message comes at 35 s, one order', async () => {
    const h = clerkHarness({ create_order: 40_000 });
    h.sendAt(0, 'm1', "I'd like 2 pizzas.");
    h.sendAt(35_000, 'm2', 'Add a cola.');
    await h.clock.run();
    expect(h.errors).toEqual([]);
    const invocations = h
      .shop()
      .invocations()
      .filter((i) => i.tool === 'create_order');
    expect(invocations).toHaveLength(1);
    expect(h.shop().orders('c1')).toHaveLength(1);
    expect(h.shop().orders('c1')[0]!.items).toEqual([
      { product: 'cola', quantity: 1 },
      { product: 'pizza', quantity: 2 },
    ]);
    // Past the 30 s bound the write was recorded as unknown, and the model was told it still runs.
    expect(ofType(h.events, 'effect.unknown').map((e) => e.cause)).toEqual(['timeout']);
    const told = h.events.some(
      (e) =>
        e.type === 'model.requested' &&
        e.entries.some(
          (x) =>
            x.item.type === 'function_call_output' &&
            x.item.output.includes('still running past its time bound'),
        ),
    );
    expect(told).toBe(true);
    expect(h.delivered.flatMap((d) => d.covers)).toEqual(['m1', 'm2']);
  });

  it('keeps the write gate closed for a write past its time bound, and reads the tool timeoutMs and fires its signal', async () => {
    // The model asks for b while a runs past its bound, and again after the gate rebased it.
    const brain = createScriptedBrain([
      [callTool('create_order', { item: 'a' })],
      [callTool('create_order', { item: 'b' })],
      [callTool('create_order', { item: 'b' })],
      [say('both done')],
    ]);
    let ledger!: ReturnType<typeof ledgerTool>;
    const h = harness({
      brain,
      tools: (clock) => [
        (ledger = ledgerTool(clock, { latencyMs: 5_000, timeoutMs: 1_000, hangMs: 60_000 })).tool,
      ],
    });
    h.sendAt(0, 'm1', 'two orders');
    await h.clock.run();
    expect(h.errors).toEqual([]);
    // The first run's bound is its own 1 s, not the 30 s default: its signal fired at 700 + 1,000.
    expect(ledger.runs[0]!.aborted).toBe(1_700);
    expect(ofType(h.events, 'effect.unknown')[0]).toMatchObject({ cause: 'timeout' });
    // The second write waited for the first to settle (at 5,700), although the first was "unknown" from 1,700.
    expect(ledger.runs).toHaveLength(2);
    expect(ledger.runs[1]!.at).toBeGreaterThanOrEqual(5_700);
  });

  // The append of the write's result fails once (the database is briefly down; found by npm run
  // fuzz), or is reported done but not kept (seen with PostgreSQL under connection resets in
  // test/faults) ... and a second message makes the runtime decide again while the result is not in
  // the log. The result must be appended again, never the write run again.
  it.each([
    ['fails to record its result', 'fail'],
    ['reports its result recorded but did not keep it', 'drop'],
  ] as const)('never runs a write again when the store %s', async (_what, fault) => {
    const brain = createScriptedBrain([
      [callTool('create_order', { item: 'a' })],
      [callTool('create_order', { item: 'a' })],
      [say('ordered')],
    ]);
    let ledger!: ReturnType<typeof ledgerTool>;
    const h = harness({
      brain,
      tools: (clock) => [(ledger = ledgerTool(clock, { latencyMs: 1_000 })).tool],
    });
    const append = h.store.append.bind(h.store);
    let struck = false;
    h.store.append = (key, expectedSeq, events, options) => {
      if (!struck && events.some((e) => e.type === 'effect.settled')) {
        struck = true;
        return fault === 'fail'
          ? Promise.reject(new RetryableError('the database is down', 500))
          : Promise.resolve();
      }
      return append(key, expectedSeq, events, options);
    };
    h.sendAt(0, 'm1', 'an order');
    h.sendAt(3_000, 'm2', 'and quickly please');
    await h.clock.run();
    expect(struck).toBe(true);
    expect(h.errors.map((e) => (e as Error).message)).toEqual(
      fault === 'fail' ? ['the database is down'] : [],
    );
    expect(ledger.runs.map((r) => r.key)).toEqual(['create_order:t1:{"item":"a"}']);
    const log = await h.store.read(conversationKey('default', 'c1'), 0);
    expect(ofType(log, 'effect.settled').map((e) => e.outcome)).toEqual(['done']);
    expect(h.delivered.flatMap((d) => d.covers)).toEqual(['m1', 'm2']);
  });

  it('records a write that throws after writing as unknown, reconciles it, and never runs its key again', async () => {
    // The model repeats the write while it is being reconciled (the gate waits, then rebases), and once more after.
    const brain = createScriptedBrain([
      [callTool('create_order', { item: 'a' })],
      [callTool('create_order', { item: 'a' })],
      [callTool('create_order', { item: 'a' })],
      [say('ordered')],
    ]);
    let ledger!: ReturnType<typeof ledgerTool>;
    const h = harness({
      brain,
      tools: (clock) => [(ledger = ledgerTool(clock, { latencyMs: 100, behave: () => 'throw-after' })).tool],
    });
    h.sendAt(0, 'm1', 'an order');
    await h.clock.run();
    expect(h.errors).toEqual([]);
    expect(ledger.runs.map((r) => r.key)).toEqual(['create_order:t1:{"item":"a"}']);
    expect(ofType(h.events, 'effect.unknown')[0]).toMatchObject({ cause: 'error', reconciler: 'test' });
    expect(ofType(h.events, 'effect.settled')[0]).toMatchObject({ outcome: 'done' });
    // The model's repeat got the recorded result, not a second run.
    expect(ofType(h.events, 'tool.refused').flatMap((e) => e.refusals.map((r) => r.reason))).toEqual([
      'rebase',
      'duplicate-key',
    ]);
  });

  it('runs a key again only under a new generation after a ToolRejection said nothing happened', async () => {
    const brain = createScriptedBrain([
      [callTool('create_order', { item: 'a' })],
      [callTool('create_order', { item: 'a' })],
      [say('ordered')],
    ]);
    let ledger!: ReturnType<typeof ledgerTool>;
    const h = harness({
      brain,
      tools: (clock) => [
        (ledger = ledgerTool(clock, { latencyMs: 100, behave: (n) => (n === 1 ? 'reject' : 'ok') })).tool,
      ],
    });
    h.sendAt(0, 'm1', 'an order');
    await h.clock.run();
    expect(h.errors).toEqual([]);
    expect(ledger.runs.map((r) => [r.key, r.wrote])).toEqual([
      ['create_order:t1:{"item":"a"}', false],
      ['create_order:t1:{"item":"a"}#2', true],
    ]);
    expect(ofType(h.events, 'effect.settled').map((e) => e.outcome)).toEqual(['failed', 'done']);
  });

  it('records a result that cannot be serialised as done, with a placeholder and a warning, and runs it once', async () => {
    const brain = createScriptedBrain([
      [callTool('create_order', { item: 'a' })],
      [callTool('create_order', { item: 'a' })],
      [say('ordered')],
    ]);
    let ledger!: ReturnType<typeof ledgerTool>;
    const h = harness({
      brain,
      tools: (clock) => [(ledger = ledgerTool(clock, { latencyMs: 100, behave: () => 'bigint' })).tool],
    });
    h.sendAt(0, 'm1', 'an order');
    await h.clock.run();
    expect(h.errors).toEqual([]);
    expect(ledger.runs).toHaveLength(1);
    const settled = ofType(h.events, 'effect.settled')[0]!;
    expect(settled.outcome).toBe('done');
    expect(settled.warning).toMatch(/BigInt/);
    expect(JSON.parse(settled.output)).toMatchObject({ status: 'done' });
  });

  it('asks reconcile about a write past its hang bound; without an answer it blocks writes and flags a person', async () => {
    const brain = createScriptedBrain([
      [callTool('create_order', { item: 'a' })],
      [callTool('create_order', { item: 'b' })],
      [say('a colleague will confirm')],
      [say('noted')],
    ]);
    let ledger!: ReturnType<typeof ledgerTool>;
    const h = harness({
      brain,
      tools: (clock) => [(ledger = ledgerTool(clock, { latencyMs: 1_000_000, reconcile: false })).tool],
      graft: { limits: { toolTimeoutMs: 1_000, toolHangMs: 3_000 } },
    });
    h.sendAt(0, 'm1', 'two orders');
    await h.clock.run(200_000);
    expect(h.errors).toEqual([]);
    expect(ofType(h.events, 'effect.unknown').map((e) => e.cause)).toEqual(['timeout', 'hang']);
    expect(h.types()).toContain('effect.checked');
    expect(ledger.runs).toHaveLength(1);
    expect(ofType(h.events, 'tool.refused').flatMap((e) => e.refusals.map((r) => r.reason))).toEqual([
      'blocked',
    ]);
    expect(h.delivered.map((d) => d.text)).toEqual(['a colleague will confirm']);
    expect(ofType(h.events, 'reply.committed')[0]!.needsHuman).toBe(true);
  });

  it('answers a burst of 10 messages within 100 ms with exactly one reply covering all of them', async () => {
    const brain = (r: BrainRequest) => [
      {
        type: 'message' as const,
        text: `answered ${r.input.filter((i) => i.type === 'message' && i.role === 'user').length}`,
      },
    ];
    const h = harness({ brain });
    for (let i = 0; i < 10; i += 1) h.sendAt(i * 10, `m${i}`, `message ${i}`);
    await h.clock.run();
    expect(h.errors).toEqual([]);
    expect(h.delivered).toHaveLength(1);
    expect(h.delivered[0]!.covers).toEqual(Array.from({ length: 10 }, (_, i) => `m${i}`));
    expect(h.delivered[0]!.text).toBe('answered 10');
    expect(ofType(h.events, 'model.requested').some((e) => e.reason === 'steer')).toBe(true);
    expect(ofType(h.events, 'model.requested').length).toBeLessThanOrEqual(24);
  });

  it('steers messages past the attempts-per-turn bound into the live attempt: one reply for the burst', async () => {
    const userTexts = (r: BrainRequest) =>
      r.input.flatMap((i) => (i.type === 'message' && i.role === 'user' ? [String(i.content)] : []));
    const h = harness({
      brain: (r) => [{ type: 'message', text: `answered: ${userTexts(r).join(' / ')}` }],
      graft: { limits: { attemptsPerTurn: 2 } },
    });
    h.sendAt(0, 'm1', 'one');
    h.sendAt(100, 'm2', 'two');
    h.sendAt(200, 'm3', 'three');
    await h.clock.run();
    expect(h.delivered.map((d) => d.covers)).toEqual([['m1', 'm2', 'm3']]);
    expect(h.delivered.map((d) => d.text)).toEqual(['answered: one / two / three']);
  });

  it('does not run a write decided before a steered message: it rebases so the model sees the message', async () => {
    const brain = createScriptedBrain([
      [callTool('create_order', { item: 'a' })],
      [callTool('create_order', { item: 'a' })],
      [callTool('create_order', { item: 'b' })],
      [say('b ordered')],
    ]);
    let ledger!: ReturnType<typeof ledgerTool>;
    const h = harness({
      brain,
      tools: (clock) => [(ledger = ledgerTool(clock, { latencyMs: 100 })).tool],
      graft: { limits: { attemptsPerTurn: 1 } },
    });
    h.sendAt(0, 'm1', 'order a');
    h.sendAt(300, 'm2', 'no, b');
    await h.clock.run();
    expect(h.errors).toEqual([]);
    // The first response's create_order came back at 700, after m2 steered in: refused, not run.
    expect(ofType(h.events, 'tool.refused')[0]!.refusals[0]!.reason).toBe('rebase');
    expect(ofType(h.events, 'model.requested').map((e) => e.reason)).toContain('steer');
    expect(h.delivered.map((d) => d.covers)).toEqual([['m1', 'm2']]);
    expect(outputsOf(brain.calls[1]!).some((o) => o.includes('not_executed'))).toBe(true);
    expect(ledger.runs.length).toBeLessThanOrEqual(2);
  });
});

describe('late and endless news', () => {
  it('checks again a write recorded as not done whose late run threw after writing (a tool that did not fence)', async () => {
    const brain = createScriptedBrain([
      [callTool('create_order', { item: 'a' })],
      [say('a colleague will check')],
      [say('noted')],
      [say('noted')],
    ]);
    let ledger!: ReturnType<typeof ledgerTool>;
    const h = harness({
      brain,
      // reconcile looks only at what was written (no tombstone): at 3.7 s nothing was, yet.
      tools: (clock) => [
        (ledger = ledgerTool(clock, {
          latencyMs: 5_000,
          behave: () => 'throw-after',
          timeoutMs: 1_000,
          hangMs: 3_000,
        })).tool,
      ],
    });
    h.sendAt(0, 'm1', 'an order');
    await h.clock.run(120_000);
    expect(h.errors).toEqual([]);
    expect(ledger.runs.map((r) => r.wrote)).toEqual([true]);
    const late = ofType(h.events, 'effect.unknown').find((e) => e.late === true);
    expect(late).toBeDefined();
    // Reconciled again, it is now known to have happened.
    expect(ofType(h.events, 'effect.settled').map((e) => e.outcome)).toEqual(['failed', 'done']);
    expect(attentionNeeded(await h.graft.conversation('c1'))).toMatch(/settled late/);
  });

  it('bounds the follow-up turns after a customer message, even when a write keeps failing', async () => {
    let n = 0;
    // The model tries the write again in every follow-up; the write never gets through.
    const brain = () => [n++ % 2 === 0 ? callTool('create_order', { item: `a${n}` }) : say('trying')];
    let ledger!: ReturnType<typeof ledgerTool>;
    const h = harness({
      brain,
      tools: (clock) => [(ledger = ledgerTool(clock, { latencyMs: 100, behave: () => 'reject' })).tool],
      graft: { limits: { replyWaitMs: 0 } },
    });
    h.sendAt(0, 'm1', 'an order');
    await h.clock.run(600_000);
    expect(h.errors).toEqual([]);
    expect(
      ofType(h.events, 'attempt.started').filter((e) => e.reason === 'follow-up').length,
    ).toBeLessThanOrEqual(3);
    expect(ledger.runs.length).toBeLessThanOrEqual(4);
  });
});

describe('grafts', () => {
  it('gives each graft pair of an effect its own call id within a lineage (running, then done)', async () => {
    const h = clerkHarness({ create_order: 5_000 });
    h.sendAt(0, 'm1', "I'd like 2 pizzas.");
    h.sendAt(1_000, 'm2', 'Is it on its way?');
    await h.clock.run();
    expect(h.errors).toEqual([]);
    const state = await h.graft.conversation('c1');
    let grafted = 0;
    for (const call of state.calls.values()) {
      const ids = lineage(state, call.callId).flatMap((c) =>
        c.entries.flatMap((e) => (e.item.type === 'function_call' ? [e.item.call_id] : [])),
      );
      grafted = Math.max(grafted, ids.filter((id) => id.startsWith('graft_')).length);
      expect(new Set(ids).size, `call ids repeat in the lineage of ${call.callId}: ${ids.join(', ')}`).toBe(
        ids.length,
      );
    }
    expect(grafted).toBeGreaterThanOrEqual(2);
  });
});

describe('a restart with the same instance id', () => {
  it('reconciles a write that the earlier process left running instead of running it again', async () => {
    const clock = new VirtualClock(0);
    const store = new MemoryStore();
    const written = new Set<string>();
    const runs: string[] = [];
    const tool = (latencyMs: number) =>
      defineTool({
        name: 'create_order',
        description: 'create an order',
        parameters: z.object({}),
        effect: 'write',
        reconcile: (key) =>
          Promise.resolve(
            written.has(key) ? { happened: true as const, output: 'ord_1' } : { happened: false as const },
          ),
        async run(_args, ctx) {
          runs.push(ctx.idempotencyKey!);
          await clock.sleep(latencyMs);
          written.add(ctx.idempotencyKey!);
          return 'ord_1';
        },
      });
    const brain = createScriptedBrain([[callTool('create_order', {})], [say('ordered')]]);
    const make = (latencyMs: number) =>
      createGraft({
        store,
        model: new BrainModel(brain, { clock, latencyMs: () => 700 }),
        tools: [tool(latencyMs)],
        clock,
        instanceId: 'same',
        deliver: () => undefined,
      });
    const first = make(5_000);
    await first.receive({ conversationId: 'c1', messageId: 'm1', text: 'order' });
    await clock.run(1_000);
    // The first process "dies" with its write in flight (it lands at 5.7 s); a new one starts with the same id.
    await first.close();
    const second = make(5_000);
    await second.recover();
    await clock.run(60_000);
    expect(runs).toHaveLength(1);
    const state = await second.conversation('c1');
    const effect = [...state.effects.values()][0]!;
    expect(effect.cause).toBe('owner-lost');
    expect(effect.fenced || effect.status === 'done').toBe(true);
  });
});

/** A clock `skewMs` ahead of `base` (an instance whose clock is wrong, or that stalled and sees leases late). */
function skewedClock(base: VirtualClock, skewMs: number): Clock {
  return { now: () => base.now() + skewMs, setTimer: (at, fn) => base.setTimer(at - skewMs, fn) };
}

describe('a stalled owner', () => {
  async function stalledOwner(fence: boolean) {
    const base = new VirtualClock(0);
    const store = new MemoryStore();
    const { shop, tools } = shopOnClock(base, { create_order: 20_000 });
    const shopTools = tools.map((t) =>
      t.name === 'create_order' && !fence
        ? {
            ...t,
            reconcile: (key: string, ctx: { conversationId: string }) =>
              Promise.resolve(
                shop.findByKey(ctx.conversationId, key)
                  ? { happened: true as const, output: {} }
                  : { happened: false as const },
              ),
          }
        : t,
    );
    const cluster = instances({ store, brain: createShopClerk(), tools: shopTools, modelClock: base });
    const { events, errors, delivered } = cluster;
    // B's clock runs a lease ahead of A's: at B's first sweep (7.5 s) A's write, which lands at
    // 20.7 s, looks abandoned. B claims the attempt and reconciles the write while it is in flight.
    const a = cluster.start('A');
    const b = cluster.start('B', skewedClock(base, 16_000));
    base.setTimer(
      0,
      () => void a.receive({ conversationId: 'c1', messageId: 'm1', text: "I'd like 2 pizzas." }),
    );
    await base.run(300_000);
    await a.close();
    await b.close();
    events.sort((x, y) => x.seq - y.seq);
    return { shop, events, errors, delivered };
  }

  it("fences a stalled owner's write that outlives a reconcile: one order", async () => {
    const { shop, events, errors } = await stalledOwner(true);
    expect(errors).toEqual([]);
    expect(ofType(events, 'lease.claimed').map((e) => e.owner)).toContain('B');
    expect(ofType(events, 'effect.settled')[0]).toMatchObject({ outcome: 'failed', fenced: true });
    expect(shop.orders('c1')).toHaveLength(1);
    expect(shop.invocations().some((i) => i.fenced === true)).toBe(true);
  });

  it("records the late settle of a stalled owner's write when the tool does not fence, and flags it", async () => {
    const { events, errors } = await stalledOwner(false);
    expect(errors).toEqual([]);
    const late = ofType(events, 'effect.settled').find((e) => e.late === true);
    expect(late).toMatchObject({ outcome: 'done' });
    // The next model call is told the truth, and the reply after it asks a person to look.
    const next = ofType(events, 'model.requested').find((e) => e.seq > late!.seq);
    expect(
      next?.entries.some((x) => x.effect?.effectId === late!.effectId && x.effect.status === 'done'),
    ).toBe(true);
    const reply = ofType(events, 'reply.committed').find((e) => e.seq > late!.seq);
    expect(reply?.needsHuman).toBe(true);
  });
});
