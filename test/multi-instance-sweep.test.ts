import { describe, expect, it } from 'vitest';
import type { GraftEvent } from '../src/core/events.js';
import { EVENT_VERSION } from '../src/core/events.js';
import { conversationKey } from '../src/core/ports.js';
import { createShopClerk } from '../src/demo/clerk/brain.js';
import { VirtualClock } from '../src/sim/virtual-clock.js';
import { MemoryStore } from '../src/store/memory/memory-store.js';
import { instances, shopOnClock } from './harness.js';

/**
 * The multi-instance sweep (every max(5 polls, half a lease): 7.5 s here) reads the store's
 * unfinished conversations; it loads one only when this instance has something to do in it.
 */
describe('the sweep of several instances on one store', () => {
  it('leaves a conversation that a live peer serves to the peer: not loaded, not raced, one owner throughout', async () => {
    const clock = new VirtualClock(0);
    const store = new MemoryStore();
    // The order takes 20 s: A's attempt and write stay unfinished, under A's renewed leases, over
    // B's sweeps at 7.5 s and 15 s.
    const { shop, tools } = shopOnClock(clock, { create_order: 20_000 });
    const cluster = instances({ store, brain: createShopClerk(), tools, modelClock: clock });
    const a = cluster.start('A');
    const b = cluster.start('B');
    clock.setTimer(
      0,
      () => void a.receive({ conversationId: 'c1', messageId: 'm1', text: "I'd like 2 pizzas." }),
    );
    const loadedOnB: number[] = [];
    for (const at of [8_000, 16_000]) {
      await clock.run(at);
      expect((await store.unfinished()).length).toBe(1);
      loadedOnB.push(b.loaded);
    }
    expect(loadedOnB).toEqual([0, 0]);
    await clock.run(60_000);
    await a.close();
    await b.close();
    const events = cluster.events.sort((x, y) => x.seq - y.seq);
    expect(cluster.errors).toEqual([]);
    expect(events.filter((e) => e.type === 'lease.claimed')).toEqual([]);
    expect(events.flatMap((e) => (e.type === 'attempt.started' ? [e.owner] : []))).toEqual(['A']);
    expect(events.some((e) => e.type === 'reply.committed')).toBe(true);
    expect(shop.orders('c1')).toHaveLength(1);
  });

  it('picks up an unfinished conversation that no lease covers (a message no instance answered)', async () => {
    const clock = new VirtualClock(0);
    const store = new MemoryStore();
    const { tools } = shopOnClock(clock);
    // The message is in the log, and the instance that appended it is gone before it started an attempt.
    const message: GraftEvent = {
      type: 'message.received',
      messageId: 'm1' as never,
      text: 'What do you sell?',
      v: EVENT_VERSION,
      seq: 1,
      at: 0,
    };
    await store.append(conversationKey('default', 'c1'), 0, [message], { unfinished: true });
    const cluster = instances({ store, brain: createShopClerk(), tools, modelClock: clock });
    const b = cluster.start('B');
    await clock.run(30_000);
    await b.close();
    expect(cluster.errors).toEqual([]);
    expect(cluster.delivered).toHaveLength(1);
    expect(await store.unfinished()).toEqual([]);
  });
});
