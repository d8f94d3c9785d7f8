import { afterEach, describe, expect, it } from 'vitest';
import { BrainModel } from '../../src/model/brain-model.js';
import { createScriptedBrain } from '../../src/model/scripted-brain.js';
import { createGraft } from '../../src/runtime/graft.js';
import { systemClock } from '../../src/runtime/clock.js';
import { MemoryStore } from '../../src/store/memory/memory-store.js';
import { testService } from './helpers.js';

/** `GET /v1/queue`: the conversations that need a person, per tenant. */
describe('the queue for a person', () => {
  let t: Awaited<ReturnType<typeof testService>> | null = null;
  afterEach(async () => {
    await t?.close();
    t = null;
  });

  it('lists a conversation that ended with the fallback reply, not one that went well, and only to its tenant', async () => {
    // A model that never answers: after its one retry, the fallback reply, flagged for a person.
    const store = new MemoryStore();
    const broken = createGraft({
      store,
      tenantId: 'acme',
      model: new BrainModel(createScriptedBrain([]), { clock: systemClock, latencyMs: () => 0 }),
      tools: [],
      deliver: () => undefined,
      onError: () => undefined,
      limits: { modelRetries: 1, retryBaseMs: 1, retryMaxMs: 1 },
    });
    await broken.receive({ conversationId: 'broken', messageId: 'm1', text: 'Hello?' });
    // The retry waits on a timer, which `idle()` does not count: wait for the reply itself.
    for (let i = 0; i < 500 && (await broken.conversation('broken')).replies.length === 0; i += 1)
      await new Promise((resolve) => setTimeout(resolve, 10));
    await broken.idle();
    await broken.close();

    t = await testService({ store });
    expect((await t.post('fine', 'm1', 'I want a cola.')).status).toBe(202);
    await t.service.idle();

    const answer = await t.request('GET', '/v1/queue');
    expect(answer.status).toBe(200);
    const body = (await answer.json()) as {
      queue: { conversationId: string; reasons: { reason: string; detail: string }[] }[];
      nextCursor: string | null;
    };
    expect(body.queue.map((e) => e.conversationId)).toEqual(['broken']);
    expect(body.queue[0]!.reasons.map((r) => r.reason)).toEqual(['fallback']);
    expect(body.nextCursor).toBeNull();

    const other = await t.request('GET', '/v1/queue', { key: t.keysOf.globex });
    expect(((await other.json()) as { queue: unknown[] }).queue).toEqual([]);
    expect((await t.request('GET', '/v1/queue', { key: null })).status).toBe(401);
    expect((await t.request('GET', '/v1/queue?limit=x')).status).toBe(400);
  });
});
