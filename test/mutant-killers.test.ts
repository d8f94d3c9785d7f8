import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import type { BrainOutput } from '../src/core/brain.js';
import { knowledgeOf } from '../src/core/context.js';
import type { EventBody, EventOf, GraftEvent } from '../src/core/events.js';
import { EVENT_VERSION } from '../src/core/events.js';
import type { AttemptId, ConversationId } from '../src/core/ids.js';
import { type AppendOptions, conversationKey, type ConversationKey } from '../src/core/ports.js';
import { replay } from '../src/core/state.js';
import { BrainModel } from '../src/model/brain-model.js';
import { callTool, createScriptedBrain, say } from '../src/model/scripted-brain.js';
import { createGraft } from '../src/runtime/graft.js';
import { VirtualClock } from '../src/sim/virtual-clock.js';
import { MemoryStore } from '../src/store/memory/memory-store.js';
import type { ToolDefinition } from '../src/tools/define-tool.js';
import { ToolRejection, defineTool } from '../src/tools/define-tool.js';
import { harness, instances, recordedTool } from './harness.js';

/**
 * Tests written for the mutants of `npm run mutants` that survived the other tests: each plants a
 * safety bug that a test here kills (the mutant's name is in each test's comment).
 */

const ofType = <T extends GraftEvent['type']>(events: readonly GraftEvent[], type: T) =>
  events.filter((e): e is EventOf<T> => e.type === type);
const c1 = 'c1' as ConversationId;
const key: ConversationKey = conversationKey('default', c1);

/** A create_order tool on virtual time that records each run; it may throw, and may have a slow `reconcile`. */
function orderTool(
  clock: VirtualClock,
  options: {
    latencyMs: number;
    outcome?: 'ok' | 'reject' | 'throw-after';
    timeoutMs?: number;
    reconcileMs?: number;
  },
) {
  const runs: { key: string | null; at: number }[] = [];
  const written = new Set<string>();
  const tool = defineTool({
    name: 'create_order',
    description: 'create an order',
    parameters: z.object({ item: z.string().optional() }),
    effect: 'write',
    ...(options.timeoutMs !== undefined ? { timeoutMs: options.timeoutMs, hangMs: options.timeoutMs } : {}),
    async reconcile(k: string) {
      await clock.sleep(options.reconcileMs ?? 0);
      return written.has(k)
        ? { happened: true as const, output: { order: k } }
        : { happened: false as const };
    },
    async run(_args, ctx) {
      runs.push({ key: ctx.idempotencyKey, at: clock.now() });
      await clock.sleep(options.latencyMs);
      if (options.outcome === 'reject') throw new ToolRejection('the shop said no');
      written.add(ctx.idempotencyKey!);
      if (options.outcome === 'throw-after') throw new Error('connection reset after the write');
      return { order: ctx.idempotencyKey };
    },
  });
  return { tool: tool as ToolDefinition, runs };
}

/**
 * A memory store where another instance's events land first, once: right before the first append
 * that `when` picks, `first` is appended at the same expected seq, so that append conflicts.
 */
class LandsFirst extends MemoryStore {
  private landed = false;
  constructor(
    private readonly when: (events: readonly GraftEvent[]) => boolean,
    private readonly first: (events: readonly GraftEvent[]) => EventBody[],
  ) {
    super();
  }

  override async append(
    k: ConversationKey,
    expectedSeq: number,
    events: readonly GraftEvent[],
    options?: AppendOptions,
  ): Promise<void> {
    if (!this.landed && this.when(events)) {
      this.landed = true;
      const at = events[0]!.at;
      await super.append(k, expectedSeq, stamp(this.first(events), expectedSeq, at));
    }
    return super.append(k, expectedSeq, events, options);
  }
}

function stamp(bodies: readonly EventBody[], afterSeq: number, at: number): GraftEvent[] {
  return bodies.map((body, i) => ({ ...body, v: EVENT_VERSION, seq: afterSeq + i + 1, at }));
}

describe('the write gate', () => {
  it('runs a write that one response asks for twice only once, and answers the repeat as a duplicate call', async () => {
    // Mutant gate-drops-duplicate-call-check.
    const brain = createScriptedBrain([
      [callTool('create_order', { item: 'a' }), callTool('create_order', { item: 'a' })],
      [say('ordered')],
    ]);
    const { runs, tools } = recordedTool('create_order', 100);
    const h = harness({ brain, tools });
    h.sendAt(0, 'm1', 'an order, an order');
    await h.clock.run();
    expect(h.errors).toEqual([]);
    expect(runs).toHaveLength(1);
    expect(ofType(h.events, 'tool.refused').flatMap((e) => e.refusals.map((r) => r.reason))).toEqual([
      'duplicate-call',
    ]);
    expect(h.delivered.map((d) => d.text)).toEqual(['ordered']);
  });

  it('never runs a write of an attempt whose newer message landed first from another instance', async () => {
    // Mutant live-attempt-writes-after-newer-message: the message lands between the response that
    // asks for the write and the write gate's append, which conflicts and is decided again.
    const store = new LandsFirst(
      (events) => events.some((e) => e.type === 'effect.started'),
      () => [{ type: 'message.received', messageId: 'm2' as never, text: 'No wait, do not order anything.' }],
    );
    const brain = createScriptedBrain([
      [callTool('create_order', { item: 'a' })],
      [say('Fine, nothing ordered.')],
    ]);
    let made!: ReturnType<typeof orderTool>;
    const h = harness({
      brain,
      tools: (clock) => [(made = orderTool(clock, { latencyMs: 100 })).tool],
      graft: { store },
    });
    h.sendAt(0, 'm1', 'order a');
    await h.clock.run();
    expect(h.errors).toEqual([]);
    expect(made.runs).toEqual([]);
    expect(ofType(h.events, 'attempt.superseded').map((e) => e.byMessageId)).toEqual(['m2']);
    expect(h.delivered.map((d) => d.covers)).toEqual([['m1', 'm2']]);
  });

  it('never runs a write of unknown outcome again while its reconcile is still deciding', async () => {
    // Mutant unknown-key-runs-again: the write throws after writing; reconcile takes 3 s, and the
    // model's next response (and the reply) come meanwhile.
    const brain = createScriptedBrain([
      [callTool('create_order', { item: 'a' })],
      [say('checking on your order')],
    ]);
    let made!: ReturnType<typeof orderTool>;
    const h = harness({
      brain,
      tools: (clock) => [
        (made = orderTool(clock, { latencyMs: 100, outcome: 'throw-after', reconcileMs: 3_000 })).tool,
      ],
    });
    h.sendAt(0, 'm1', 'order a');
    await h.clock.run();
    expect(h.errors).toEqual([]);
    expect(made.runs).toHaveLength(1);
    expect(ofType(h.events, 'effect.settled').map((e) => e.outcome)).toEqual(['done']);
  });
});

describe('the frontier and the grafts', () => {
  it('forks a new attempt from the response holding the most settled effects, not from the latest one', async () => {
    // Mutant frontier-ignores-settled-score. A asks for create_order (5 s); m2 starts B from the
    // head, whose draft knows the order only as running; when m3 comes, A's response holds the
    // settled order and B's later draft does not: C forks from A's response.
    let calls = 0;
    const brain = (): BrainOutput[] =>
      ++calls === 1 ? [callTool('create_order', { item: 'a' })] : [say('ok')];
    const { tools } = recordedTool('create_order', 5_000);
    const h = harness({ brain, tools });
    h.sendAt(0, 'm1', 'order a');
    h.sendAt(1_000, 'm2', 'and quickly');
    h.sendAt(6_000, 'm3', 'well?');
    await h.clock.run();
    expect(h.errors).toEqual([]);
    const attempts = ofType(h.events, 'attempt.started').map((e) => e.attemptId);
    expect(attempts).toHaveLength(3);
    const requests = ofType(h.events, 'model.requested');
    const first = requests.find((e) => e.attemptId === attempts[0])!;
    const third = requests.find((e) => e.attemptId === attempts[2])!;
    expect(third.reason).toBe('start');
    expect(third.parent).toBe(first.callId);
  });

  it('grafts a failed write into the context of the reply: no reply is written believing it still runs', async () => {
    // Mutant grafts-never-graft-failed-effects. A's write fails after B's draft was told it runs.
    let calls = 0;
    const brain = (): BrainOutput[] =>
      ++calls === 1 ? [callTool('create_order', { item: 'a' })] : [say('ok')];
    const h = harness({
      brain,
      tools: (clock) => [orderTool(clock, { latencyMs: 2_000, outcome: 'reject' }).tool],
    });
    h.sendAt(0, 'm1', 'order a');
    h.sendAt(1_000, 'm2', 'and quickly');
    await h.clock.run();
    expect(h.errors).toEqual([]);
    const state = replay(c1, h.events);
    const [effect] = [...state.effects.values()];
    expect(effect?.status).toBe('failed');
    const replies = ofType(h.events, 'reply.committed');
    expect(replies).toHaveLength(1);
    expect(knowledgeOf(state, replies[0]!.callId).effects.get(effect!.effectId)).toBe('failed');
  });
});

describe('leases across instances', () => {
  it("renews a running write's lease, so another instance never takes over a write whose owner is alive", async () => {
    // Mutant lease-of-running-write-not-renewed: a 40 s write, a 15 s lease, and a second instance sweeping.
    const clock = new VirtualClock(0);
    const store = new MemoryStore();
    const runs: string[] = [];
    const tool = defineTool({
      name: 'create_order',
      description: 'create an order',
      parameters: z.object({ item: z.string().optional() }),
      effect: 'write',
      timeoutMs: 60_000,
      reconcile: () => Promise.resolve({ happened: false as const }),
      async run(_args, ctx) {
        runs.push(ctx.idempotencyKey!);
        await clock.sleep(40_000);
        return { order: ctx.idempotencyKey };
      },
    });
    const brain = createScriptedBrain([[callTool('create_order', { item: 'a' })], [say('ordered')]]);
    const cluster = instances({ store, brain, tools: [tool as ToolDefinition], modelClock: clock });
    const { events, errors, delivered } = cluster;
    const a = cluster.start('A');
    const b = cluster.start('B');
    clock.setTimer(0, () => void a.receive({ conversationId: 'c1', messageId: 'm1', text: 'order a' }));
    await clock.run(120_000);
    await a.close();
    await b.close();
    expect(errors).toEqual([]);
    expect(ofType(events, 'effect.unknown')).toEqual([]);
    expect(ofType(events, 'effect.settled').map((e) => e.outcome)).toEqual(['done']);
    expect(runs).toHaveLength(1);
    expect(delivered).toEqual(['ordered']);
  });

  it('claims only an expired lease, even when its owner renews it in the same instant (the conflict is decided again)', async () => {
    // Mutant claim-reappended-after-conflict. A "ghost" owner started an attempt with a lease to
    // 15 s; B claims at 15 s, but the ghost's renewal (to 30 s) lands first.
    const attemptId = 'att_2' as AttemptId;
    const store = new LandsFirst(
      (events) => events.some((e) => e.type === 'lease.claimed'),
      (events) => [
        {
          type: 'lease.renewed',
          owner: 'ghost',
          until: events[0]!.at + 15_000,
          attempts: [attemptId],
          effects: [],
        },
      ],
    );
    const text = 'hello';
    await store.append(
      key,
      0,
      stamp(
        [
          { type: 'message.received', messageId: 'm1' as never, text },
          {
            type: 'attempt.started',
            attemptId,
            turn: 1,
            reason: 'message',
            owner: 'ghost',
            leaseUntil: 15_000,
          },
          {
            type: 'model.requested',
            attemptId,
            callId: 'call_3' as never,
            parent: null,
            entries: [{ item: { type: 'message', role: 'user', content: text }, messageId: 'm1' as never }],
            reason: 'start',
            stateless: false,
            owner: 'ghost',
          },
        ],
        0,
        0,
      ),
      { unfinished: true },
    );
    const clock = new VirtualClock(0);
    const errors: unknown[] = [];
    const delivered: string[] = [];
    const b = createGraft({
      store,
      model: new BrainModel(createScriptedBrain([[say('hi there')]]), { clock, latencyMs: () => 700 }),
      tools: [],
      clock,
      instanceId: 'B',
      deliver: (d) => void delivered.push(d.text),
      onError: (e) => errors.push(e),
    });
    clock.setTimer(0, () => void b.conversation('c1'));
    await clock.run(120_000);
    await b.close();
    expect(errors).toEqual([]);
    const log = await store.read(key, 0);
    const claims = ofType(log, 'lease.claimed');
    expect(claims.length).toBeGreaterThan(0);
    for (const claim of claims) {
      const before = replay(c1, log.slice(0, claim.seq - 1));
      expect(claim.at, `claim at seq ${claim.seq}`).toBeGreaterThanOrEqual(
        before.attempts.get(claim.attemptId)!.leaseUntil,
      );
    }
    expect(delivered).toEqual(['hi there']);
  });
});
