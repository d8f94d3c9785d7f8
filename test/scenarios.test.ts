import { describe, expect, it } from 'vitest';
import type { BrainRequest } from '../src/core/brain.js';
import { createShopClerk } from '../src/demo/clerk/index.js';
import { callTool, createScriptedBrain, say } from '../src/model/scripted-brain.js';
import { harness, recordedTool, shopOnClock, slowTool } from './harness.js';

/** The function_call_output texts of a request's context. */
const outputsOf = (r: BrainRequest) =>
  r.input.flatMap((i) => (i.type === 'function_call_output' ? [i.output] : []));

function clerkHarness(toolLatency: number | Record<string, number> = 200) {
  let shop!: ReturnType<typeof shopOnClock>['shop'];
  const h = harness({
    brain: createShopClerk(),
    tools: (clock) => {
      const made = shopOnClock(clock, toolLatency);
      shop = made.shop;
      return made.tools;
    },
  });
  return { ...h, shop: () => shop };
}

describe('conversation scenarios', () => {
  it("grafts the seed's settled create_order into the next attempt, so there is one order", async () => {
    const h = clerkHarness(200);
    h.sendAt(0, 'm1', "I'd like 2 pizzas.");
    // A's first call returns at 700 with create_order, which settles at 900; M2 lands during A's second call.
    h.sendAt(1_000, 'm2', 'Add a cola.');
    await h.clock.run();
    expect(h.errors).toEqual([]);
    const orders = h.shop().orders('c1');
    expect(orders).toHaveLength(1);
    expect(orders[0]!.items).toEqual([
      { product: 'cola', quantity: 1 },
      { product: 'pizza', quantity: 2 },
    ]);
    expect(h.delivered).toHaveLength(1);
    expect(h.delivered[0]!.covers).toEqual(['m1', 'm2']);
    // B chained from A's response that asked for create_order: its first request answers that call.
    const bStart = h.events.find((e) => e.type === 'model.requested' && e.reason === 'start' && e.seq > 5);
    expect(bStart).toMatchObject({ parent: expect.stringMatching(/^call_/) });
  });

  it('makes a write of a new attempt wait while an earlier write runs, however slow', async () => {
    const brain = createScriptedBrain([
      [callTool('create_order', { item: 'pizza' })],
      [callTool('update_order', { item: 'pizza', n: 3 })],
      [callTool('update_order', { item: 'pizza', n: 3 })],
      [say('Done: 3 pizzas.')],
    ]);
    const runs: { tool: string; at: number }[] = [];
    const h = harness({
      brain,
      tools: (clock) =>
        ['create_order', 'update_order'].map((name) => {
          const t = slowTool(clock, name, name === 'create_order' ? 60_000 : 100);
          const run = t.tool.run;
          return {
            ...t.tool,
            run: (args: never, ctx: never) => (runs.push({ tool: name, at: clock.now() }), run(args, ctx)),
          };
        }),
      graft: { limits: { toolTimeoutMs: 120_000 } },
    });
    h.sendAt(0, 'm1', 'pizza');
    h.sendAt(1_000, 'm2', 'make it 3');
    await h.clock.run();
    expect(h.errors).toEqual([]);
    expect(runs.map((r) => r.tool)).toEqual(['create_order', 'update_order']);
    expect(runs[1]!.at).toBeGreaterThanOrEqual(700 + 60_000);
    expect(h.delivered.map((d) => d.text)).toEqual(['Done: 3 pizzas.']);
    // The refused update was answered "not executed", next to a graft of the settled create_order.
    const rebase = brain.calls[2]!;
    expect(outputsOf(rebase).some((o) => o.includes('not_executed'))).toBe(true);
    expect(outputsOf(rebase).some((o) => o.includes('"tool":"create_order"'))).toBe(true);
    expect(h.events.some((e) => e.type === 'model.failed')).toBe(false);
  });

  it('starts a new turn for a message that arrives after the reply was committed', async () => {
    const h = clerkHarness();
    h.sendAt(0, 'm1', "I'd like a pizza.");
    h.sendAt(5_000, 'm2', 'Where is my order?');
    await h.clock.run();
    expect(h.delivered.map((d) => d.covers)).toEqual([['m1'], ['m2']]);
    expect(h.shop().orders('c1')).toHaveLength(1);
    const turns = h.events.flatMap((e) => (e.type === 'attempt.started' ? [e.turn] : []));
    expect(turns).toEqual([1, 2]);
  });

  it('answers three messages in a row with one reply and one order', async () => {
    const h = clerkHarness();
    h.sendAt(0, 'm1', "I'd like 2 pizzas.");
    h.sendAt(300, 'm2', 'Add a cola.');
    h.sendAt(800, 'm3', 'Make it 3 pizzas.');
    await h.clock.run();
    expect(h.delivered).toHaveLength(1);
    expect(h.delivered[0]!.covers).toEqual(['m1', 'm2', 'm3']);
    const orders = h.shop().orders('c1');
    expect(orders).toHaveLength(1);
    expect(orders[0]!.items).toEqual([
      { product: 'cola', quantity: 1 },
      { product: 'pizza', quantity: 3 },
    ]);
    expect(h.events.filter((e) => e.type === 'attempt.superseded')).toHaveLength(2);
  });

  it('processes the same message id once', async () => {
    const h = clerkHarness();
    const first = await h.graft.receive({ conversationId: 'c1', messageId: 'm1', text: 'Hello!' });
    const again = await h.graft.receive({ conversationId: 'c1', messageId: 'm1', text: 'Hello!' });
    await h.clock.run();
    expect([first.status, again.status]).toEqual(['accepted', 'duplicate']);
    expect(h.events.filter((e) => e.type === 'message.received')).toHaveLength(1);
    expect(h.delivered).toHaveLength(1);
  });

  it('never runs a read tool requested by a superseded attempt', async () => {
    const brain = createScriptedBrain([[callTool('get_order', {})], [say('Your order is on its way.')]]);
    const { runs, tools } = recordedTool('get_order', 100, 'read');
    const h = harness({
      brain,
      modelLatencyMs: (n) => (n === 1 ? 1_000 : 300),
      tools,
    });
    h.sendAt(0, 'm1', 'where is my order?');
    // The response asking for get_order arrives at 1000; M2 arrives in the same instant, first.
    h.sendAt(999, 'm2', 'hello?');
    await h.clock.run();
    expect(runs).toHaveLength(0);
    expect(h.delivered.map((d) => d.covers)).toEqual([['m1', 'm2']]);
  });

  it('gates two write calls of one response together and answers both', async () => {
    const brain = createScriptedBrain([
      [callTool('create_order', { item: 'pizza' }), callTool('create_order', { item: 'cola' })],
      [say('Two orders placed.')],
    ]);
    const { runs, tools } = recordedTool('create_order', 100);
    const h = harness({
      brain,
      tools,
    });
    h.sendAt(0, 'm1', 'a pizza and, separately, a cola');
    await h.clock.run();
    expect(runs).toHaveLength(2);
    const started = h.events.filter((e) => e.type === 'effect.started');
    expect(started).toHaveLength(1);
    expect(started[0]!.type === 'effect.started' && started[0]!.effects).toHaveLength(2);
    expect(outputsOf(brain.calls[1]!)).toHaveLength(2);
  });

  it('answers a repeated idempotency key with the recorded result instead of running it again', async () => {
    const brain = createScriptedBrain([
      [callTool('create_order', { item: 'pizza' })],
      [callTool('create_order', { item: 'pizza' })],
      [say('Order placed.')],
    ]);
    const { runs, tools } = recordedTool('create_order', 100);
    const h = harness({
      brain,
      tools,
    });
    h.sendAt(0, 'm1', 'pizza');
    await h.clock.run();
    expect(runs).toHaveLength(1);
    expect(h.events.some((e) => e.type === 'tool.refused' && e.refusals[0]!.reason === 'duplicate-key')).toBe(
      true,
    );
    const outputs = outputsOf(brain.calls[2]!);
    expect(outputs).toHaveLength(2);
    expect(outputs[0]).toBe(outputs[1]);
  });

  it('adds a cola in each of two turns: two keys, two colas', async () => {
    const h = clerkHarness();
    h.sendAt(0, 'm1', "I'd like a pizza.");
    h.sendAt(10_000, 'm2', 'Add a cola.');
    h.sendAt(20_000, 'm3', 'Add a cola.');
    await h.clock.run();
    const orders = h.shop().orders('c1');
    expect(orders).toHaveLength(1);
    expect(orders[0]!.items).toEqual([
      { product: 'cola', quantity: 2 },
      { product: 'pizza', quantity: 1 },
    ]);
    expect(h.delivered).toHaveLength(3);
  });

  it('commits the fallback reply and flags the conversation when the model keeps failing', async () => {
    const brain = createScriptedBrain(
      Array.from({ length: 20 }, () => () => {
        throw new Error('model is down');
      }),
    );
    const h = harness({ brain, graft: { limits: { modelRetries: 2, retryBaseMs: 100 } } });
    h.sendAt(0, 'm1', 'hello');
    await h.clock.run();
    expect(h.delivered).toHaveLength(1);
    expect(h.delivered[0]).toMatchObject({ kind: 'fallback', covers: ['m1'] });
    const committed = h.events.find((e) => e.type === 'reply.committed');
    expect(committed).toMatchObject({ needsHuman: true });
    expect(h.events.filter((e) => e.type === 'model.failed')).toHaveLength(3);
  });

  it('rebases at the reply gate when an effect settled that the draft did not know', async () => {
    const brain = createScriptedBrain([
      [callTool('create_order', { item: 'pizza' })],
      [say('Placing your order now.')],
      [say('Your pizza order is confirmed.')],
    ]);
    const h = harness({
      brain,
      modelLatencyMs: (n) => (n === 2 ? 2_000 : 500),
      tools: (clock) => [slowTool(clock, 'create_order', 1_000).tool],
      graft: { onSettleDuringFirstCall: 'rebase' },
    });
    h.sendAt(0, 'm1', 'pizza');
    // M2 supersedes A while create_order runs (500..1500): B starts knowing it as running.
    h.sendAt(600, 'm2', 'thanks');
    await h.clock.run();
    expect(h.errors).toEqual([]);
    expect(h.delivered.map((d) => d.text)).toEqual(['Your pizza order is confirmed.']);
    expect(h.events.some((e) => e.type === 'model.requested' && e.reason === 'rebase')).toBe(true);
    const again = brain.calls[2]!;
    expect(
      again.input.some(
        (i) =>
          i.type === 'message' &&
          i.role === 'developer' &&
          String(i.content).includes('answer the customer again'),
      ),
    ).toBe(true);
    expect(h.events.some((e) => e.type === 'model.failed')).toBe(false);
  });

  it('sends a follow-up when a write settles after the reply was committed', async () => {
    const brain = createScriptedBrain([
      [callTool('create_order', { item: 'pizza' })],
      [say('Your order is being placed.')],
      [say('Your order is confirmed.')],
    ]);
    const h = harness({
      brain,
      tools: (clock) => [slowTool(clock, 'create_order', 20_000).tool],
      graft: { limits: { replyWaitMs: 1_000 }, onSettleDuringFirstCall: 'rebase' },
    });
    h.sendAt(0, 'm1', 'pizza');
    h.sendAt(800, 'm2', 'thanks');
    await h.clock.run();
    expect(h.errors).toEqual([]);
    expect(h.delivered.map((d) => [d.kind, d.text])).toEqual([
      ['reply', 'Your order is being placed.'],
      ['follow-up', 'Your order is confirmed.'],
    ]);
    expect(outputsOf(brain.calls[1]!).some((o) => o.includes('"status":"running"'))).toBe(true);
    expect(outputsOf(brain.calls[2]!).some((o) => o.includes('"tool":"create_order"'))).toBe(true);
    expect(h.events.some((e) => e.type === 'model.failed')).toBe(false);
  });

  it('answers a tool call with invalid arguments with an error, without running it', async () => {
    const brain = createScriptedBrain([
      [{ type: 'function_call', name: 'create_order', arguments: '{"n": -1' }],
      [callTool('create_order', { n: -3 })],
      [callTool('no_such_tool', {})],
      [say('Sorry, something went wrong.')],
    ]);
    const { runs, tools } = recordedTool('create_order', 100);
    const h = harness({
      brain,
      tools,
    });
    h.sendAt(0, 'm1', 'pizza');
    await h.clock.run();
    expect(h.errors).toEqual([]);
    expect(runs).toHaveLength(0);
    expect(h.delivered).toHaveLength(1);
    const errors = [1, 2, 3].map((n) => outputsOf(brain.calls[n]!).at(-1));
    expect(errors[0]).toContain('not valid JSON');
    expect(errors[1]).toContain('invalid arguments');
    expect(errors[2]).toContain('unknown tool');
    expect(h.events.some((e) => e.type === 'model.failed')).toBe(false);
  });
});
