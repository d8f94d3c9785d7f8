import { afterEach, describe, expect, it } from 'vitest';
import type { GraftEvent } from '../src/core/events.js';
import { conversationKey } from '../src/core/ports.js';
import { createShopClerk } from '../src/demo/clerk/brain.js';
import { createMemoryShop } from '../src/demo/shop/shop.js';
import { createShopTools } from '../src/demo/shop/tools.js';
import { BrainModel } from '../src/model/brain-model.js';
import { MemoryKeyStore } from '../src/server/keys/key-store.js';
import type { Service } from '../src/server/service.js';
import { createService } from '../src/server/service.js';
import { MemoryStore } from '../src/store/memory/memory-store.js';
import { until } from './server/helpers.js';

/** Two `graft serve` instances (two services) on one store, as on one PostgreSQL. */
async function twoInstances() {
  const store = new MemoryStore();
  const keys = new MemoryKeyStore();
  const { key } = await keys.create('acme');
  // One model for both: a chained call may go out from either instance.
  const model = new BrainModel(createShopClerk());
  const tools = createShopTools(createMemoryShop());
  const errors: unknown[] = [];
  const services = ['inst_a', 'inst_b'].map((instanceId) =>
    createService({
      store,
      keys,
      model,
      tools,
      graft: { instanceId, pollMs: 20 },
      authCacheMs: 0,
      dashboard: false,
      onError: (error) => errors.push(error),
    }),
  );
  for (const service of services) await service.start();
  const post = (service: Service, conversationId: string, id: string, text: string) =>
    service.app.request(`/v1/conversations/${conversationId}/messages`, {
      method: 'POST',
      headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
      body: JSON.stringify({ id, text }),
    });
  const eventsOf = (conversationId: string): Promise<GraftEvent[]> =>
    store.read(conversationKey('acme', conversationId), 0);
  return { store, services, errors, post, eventsOf };
}

/** A counter's value on one instance's /metrics, summed over its label sets. */
async function counter(service: Service, name: string): Promise<number> {
  const text = await (await service.app.request('/metrics')).text();
  return text
    .split('\n')
    .filter((line) => !line.startsWith('#') && line.split(/[{ ]/)[0] === name)
    .reduce((sum, line) => sum + Number(line.split(' ').pop()), 0);
}

let closing: Service[] = [];
afterEach(async () => {
  for (const service of closing) await service.close();
  closing = [];
});

describe('metrics of several instances on one store', () => {
  it("counts each event on the instance that appended it: the sum over instances is the log's count, and every instance's live stream still shows every event", async () => {
    const t = await twoInstances();
    closing = t.services;
    const [a, b] = t.services as [Service, Service];
    const conversations = ['c1', 'c2', 'c3'];
    // Instance b's live stream of c1 sees the events of both instances.
    const streamed = new Set<number>();
    b.hub.subscribe('acme', 'c1', (message) => {
      if (message.kind === 'event') streamed.add(message.event.seq);
    });
    const texts = ["I'd like 2 pizzas.", 'And a cola, please.', 'What is my order?'];
    let sent = 0;
    for (const [turn, text] of texts.entries()) {
      for (const conversationId of conversations) {
        // Round robin: a conversation's messages land on both instances.
        const to = sent % 2 === 0 ? a : b;
        sent += 1;
        const res = await t.post(to, conversationId, `${conversationId}.m${turn}`, text);
        expect(res.status).toBe(202);
      }
      await until(async () => {
        for (const conversationId of conversations) {
          const events = await t.eventsOf(conversationId);
          const messageId = `${conversationId}.m${turn}`;
          if (!events.some((e) => e.type === 'reply.committed' && e.covers.includes(messageId as never)))
            return false;
        }
        return (await t.store.unfinished()).length === 0;
      }, `the replies of turn ${turn}`);
    }
    await Promise.all([a.idle(), b.idle()]);
    const log = (await Promise.all(conversations.map((c) => t.eventsOf(c)))).flat();
    const count = (type: GraftEvent['type']) => log.filter((e) => e.type === type).length;
    const summed = async (name: string) => (await counter(a, name)) + (await counter(b, name));

    expect(await summed('graft_messages_total')).toBe(count('message.received'));
    expect(count('message.received')).toBe(9);
    expect(await summed('graft_attempts_total')).toBe(count('attempt.started'));
    expect(await summed('graft_model_calls_total')).toBe(count('model.requested'));
    expect(await summed('graft_replies_total')).toBe(count('reply.committed'));
    expect(await summed('graft_replies_undelivered_total')).toBe(count('reply.undelivered'));
    expect(await summed('graft_effects_total')).toBe(
      log.reduce((n, e) => n + (e.type === 'effect.started' ? e.effects.length : 0), 0),
    );
    // Both instances appended (so each counted only its share).
    expect(await counter(a, 'graft_messages_total')).toBeGreaterThan(0);
    expect(await counter(b, 'graft_messages_total')).toBeGreaterThan(0);

    const c1 = await t.eventsOf('c1');
    await until(() => streamed.size === c1.length, "every event of c1 on b's live stream");
    expect([...streamed].sort((x, y) => x - y)).toEqual(c1.map((e) => e.seq));
    expect(t.errors).toEqual([]);
  });
});
