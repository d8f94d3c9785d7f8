import { describe, expect, it } from 'vitest';
import { callTool, createScriptedBrain, say } from '../src/model/scripted-brain.js';
import { createMemoryShop } from '../src/demo/shop/shop.js';
import { createShopTools } from '../src/demo/shop/tools.js';
import { createShopClerk } from '../src/demo/clerk/index.js';
import { harness, slowTool } from './harness.js';

describe('the runtime on a scripted model', () => {
  it('answers one message with one reply', async () => {
    const h = harness({ brain: createScriptedBrain([[say('Hello!')]]) });
    h.sendAt(0, 'm1', 'hi');
    await h.clock.run();
    expect(h.errors).toEqual([]);
    expect(h.delivered.map((d) => d.text)).toEqual(['Hello!']);
    expect(h.delivered[0]!.covers).toEqual(['m1']);
  });

  it('runs a write tool, then replies with its result in context', async () => {
    const brain = createScriptedBrain([
      [callTool('create_order', { item: 'pizza' })],
      [say('Order placed.')],
    ]);
    let runs: unknown[] = [];
    const h = harness({
      brain,
      tools: (clock) => {
        const create = slowTool(clock, 'create_order', 200);
        runs = create.runs;
        return [create.tool];
      },
    });
    h.sendAt(0, 'm1', 'pizza please');
    await h.clock.run();
    expect(h.errors).toEqual([]);
    expect(runs).toHaveLength(1);
    expect(h.delivered.map((d) => d.text)).toEqual(['Order placed.']);
    const output = brain.calls[1]!.input.find((i) => i.type === 'function_call_output');
    expect(output).toMatchObject({ output: expect.stringContaining('"run":1') });
    expect(h.clock.now()).toBe(700 + 200 + 700);
  });

  it('drops conversations at rest beyond maxLoaded, and reads them again when they are needed', async () => {
    const shop = createMemoryShop();
    const h = harness({
      brain: createShopClerk(),
      tools: () => createShopTools(shop),
      graft: { maxLoaded: 2 },
    });
    for (const [i, c] of ['c1', 'c2', 'c3', 'c4'].entries())
      h.sendAt(i * 10_000, 'm1', "I'd like 2 pizzas", c);
    await h.clock.run();
    expect(h.graft.loaded).toBe(2);
    // c1 was dropped: its next message is answered from its log, so the clerk changes its order.
    h.sendAt(h.clock.now() + 1_000, 'm2', 'add a cola', 'c1');
    await h.clock.run();
    expect(h.errors).toEqual([]);
    expect(h.graft.loaded).toBe(2);
    expect(shop.orders('c1')).toHaveLength(1);
    expect(shop.orders('c1')[0]!.items).toEqual([
      { product: 'cola', quantity: 1 },
      { product: 'pizza', quantity: 2 },
    ]);
    expect(h.delivered.filter((d) => d.conversationId === 'c1').map((d) => d.covers)).toEqual([
      ['m1'],
      ['m2'],
    ]);
  });
});

describe('a store whose append lands after the caller was told it failed', () => {
  it('accepts the retried message once, when the first append commits late (no second append)', async () => {
    const { MemoryStore } = await import('../src/store/memory/memory-store.js');
    const { createGraft } = await import('../src/runtime/graft.js');
    const { BrainModel } = await import('../src/model/brain-model.js');
    const { RetryableError } = await import('../src/core/errors.js');
    const { systemClock } = await import('../src/runtime/clock.js');
    const inner = new MemoryStore();
    let late: (() => Promise<void>) | null = null;
    // The first append reports a lost connection, but its transaction commits afterwards (a
    // PostgreSQL deadline that fired after the commit was sent), just before the retry appends.
    const store = Object.assign(Object.create(inner) as typeof inner, {
      append: async (...args: Parameters<typeof inner.append>) => {
        if (late === null && args[2].some((e) => e.type === 'message.received')) {
          late = () => inner.append(...args);
          throw new RetryableError('connection lost');
        }
        if (late) {
          const landing = late;
          late = () => Promise.resolve();
          await landing();
        }
        return inner.append(...args);
      },
    });
    const graft = createGraft({
      store,
      model: new BrainModel(createScriptedBrain([[say('Hello!')]]), {
        clock: systemClock,
        latencyMs: () => 0,
      }),
      tools: [],
      deliver: () => undefined,
      onError: () => undefined,
    });
    const message = { conversationId: 'c1', messageId: 'm1', text: 'hi' };
    await expect(graft.receive(message)).rejects.toThrow(/connection lost/);
    expect(await graft.receive(message)).toEqual({ status: 'accepted' });
    await graft.idle();
    const events = await inner.read({ tenantId: 'default' as never, conversationId: 'c1' as never }, 0);
    expect(events.filter((e) => e.type === 'message.received')).toHaveLength(1);
    await graft.close();
  });
});
