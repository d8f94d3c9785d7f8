import { describe, expect, it } from 'vitest';
import type { Delivery } from '../src/core/ports.js';
import { createScriptedBrain, say } from '../src/model/scripted-brain.js';
import { nextDelivery } from '../src/runtime/actor.js';
import { harness } from './harness.js';

/** A deliverer that fails while `failing` is true, recording each try's virtual time. */
function flakyDeliverer(clock: { now(): number }) {
  const tries: number[] = [];
  const state = { failing: true };
  const deliver = (d: Delivery) => {
    tries.push(clock.now());
    if (state.failing) throw new Error(`receiver down for ${d.deliveryId}`);
  };
  return { tries, state, deliver };
}

describe('delivery bounds', () => {
  it('dead-letters a reply after the count bound, lets the conversation rest, and redelivers it', async () => {
    let flaky: ReturnType<typeof flakyDeliverer> | null = null;
    const h = harness({
      brain: createScriptedBrain([[say('Hello!')]]),
      graft: {
        delivery: { attempts: 3, maxAgeMs: 3_600_000, backoffMs: 100 },
        deliver: (d) => flaky!.deliver(d),
      },
    });
    flaky = flakyDeliverer(h.clock);
    h.sendAt(0, 'm1', 'hi');
    await h.clock.run();
    expect(flaky.tries).toHaveLength(3);
    const dead = h.events.filter((e) => e.type === 'reply.dead-lettered');
    expect(dead).toMatchObject([{ attempts: 3, reason: 'attempts', deliveryId: 'default:c1:rep_5' }]);
    expect(dead[0]).toMatchObject({ lastError: 'receiver down for default:c1:rep_5' });
    expect(h.types()).not.toContain('reply.delivered');
    expect(await h.store.unfinished()).toEqual([]);
    expect(await h.graft.deadLetters()).toMatchObject([{ deliveryId: 'default:c1:rep_5', attempts: 3 }]);

    flaky.state.failing = false;
    expect(await h.graft.redeliver('default:c1:rep_5')).toBe('redelivering');
    await h.clock.run();
    expect(h.types().slice(-2)).toEqual(['reply.redelivery-requested', 'reply.delivered']);
    expect(await h.graft.deadLetters()).toEqual([]);
    expect(await h.graft.redeliver('default:c1:rep_5')).toBe('not-found');
    expect(await h.graft.redeliver('default:c1:rep_99')).toBe('not-found');
    const state = await h.graft.conversation('c1');
    expect(state.replies[0]).toMatchObject({ delivery: 'delivered', deadLetter: null, redeliveries: 1 });
  });

  it('dead-letters a reply past the age bound, the last try at the bound', async () => {
    let flaky: ReturnType<typeof flakyDeliverer> | null = null;
    const h = harness({
      brain: createScriptedBrain([[say('Hello!')]]),
      modelLatencyMs: 0,
      graft: {
        delivery: { attempts: 1_000, maxAgeMs: 10_000, backoffMs: 1_000, backoffMaxMs: 4_000 },
        deliver: (d) => flaky!.deliver(d),
      },
    });
    flaky = flakyDeliverer(h.clock);
    h.sendAt(0, 'm1', 'hi');
    await h.clock.run();
    // Tries at 0, 1 s, 3 s, 7 s, then the wait is cut to the bound: 10 s.
    expect(flaky.tries).toEqual([0, 1_000, 3_000, 7_000, 10_000]);
    expect(h.events.filter((e) => e.type === 'reply.dead-lettered')).toMatchObject([
      { attempts: 5, reason: 'age' },
    ]);
    expect(await h.store.unfinished()).toEqual([]);
  });

  it('leaves a reply with nowhere to go committed and undelivered, and not retried', async () => {
    const h = harness({
      brain: createScriptedBrain([[say('Hello!')]]),
      graft: { deliver: () => 'no-target' },
    });
    h.sendAt(0, 'm1', 'hi');
    await h.clock.run();
    expect(h.types()).toContain('reply.undelivered');
    expect(h.types()).not.toContain('reply.delivered');
    expect(await h.store.unfinished()).toEqual([]);
    expect(await h.graft.deadLetters()).toEqual([]);
    expect((await h.graft.conversation('c1')).replies[0]).toMatchObject({
      delivery: 'no-target',
      deliveredAt: null,
    });
  });

  it('gives up by count before age, and never waits past the age bound', () => {
    const bounds = { attempts: 3, maxAgeMs: 10_000, backoffMs: 500, backoffMaxMs: 60_000 };
    expect(nextDelivery(bounds, 1, 0, 0)).toEqual({ kind: 'retry', at: 500 });
    expect(nextDelivery(bounds, 2, 0, 500)).toEqual({ kind: 'retry', at: 1_500 });
    expect(nextDelivery(bounds, 3, 0, 1_500)).toEqual({ kind: 'give-up', reason: 'attempts' });
    expect(nextDelivery({ ...bounds, attempts: 99 }, 2, 0, 9_800)).toEqual({ kind: 'retry', at: 10_000 });
    expect(nextDelivery({ ...bounds, attempts: 99 }, 3, 0, 10_000)).toEqual({
      kind: 'give-up',
      reason: 'age',
    });
  });
});
