import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { knowledgeOf } from '../src/core/context.js';
import type { GraftEvent } from '../src/core/events.js';
import { parseConversationId } from '../src/core/ids.js';
import { ModelCallAborted } from '../src/core/model-port.js';
import type { ModelClient } from '../src/core/ports.js';
import { replay } from '../src/core/state.js';
import { createMemoryShop } from '../src/demo/shop/shop.js';
import { createShopTools } from '../src/demo/shop/tools.js';
import { BrainModel } from '../src/model/brain-model.js';
import type { DesiredOrder, Intent } from '../src/demo/clerk/language.js';
import { applyIntent, renderIntent } from '../src/demo/clerk/language.js';
import { createShopClerk } from '../src/demo/clerk/index.js';
import { createGraft } from '../src/runtime/graft.js';
import { MemoryStore } from '../src/store/memory/memory-store.js';
import { defineTool } from '../src/tools/define-tool.js';

const RUNS = Number(process.env.GRAFT_PROPERTY_RUNS ?? 200);

const product = fc.constantFrom('pizza', 'burger', 'salad', 'cola', 'fries');
const line = fc.record({ product, quantity: fc.integer({ min: 1, max: 3 }) });
const intent: fc.Arbitrary<Intent> = fc.oneof(
  fc.record({ kind: fc.constant('add' as const), items: fc.array(line, { minLength: 1, maxLength: 2 }) }),
  fc.record({ kind: fc.constant('set' as const), product, quantity: fc.integer({ min: 1, max: 4 }) }),
  fc.constant({ kind: 'status' as const }),
  fc.constant({ kind: 'chat' as const }),
  fc.constant({ kind: 'cancel' as const }),
);
const conversation = fc.tuple(
  fc.array(line, { minLength: 1, maxLength: 2 }),
  fc.array(intent, { maxLength: 3 }),
);

/** graft where every model call, tool run and message arrival is released by fast-check's scheduler. */
function scheduled(s: fc.Scheduler) {
  const shop = createMemoryShop();
  const inner = new BrainModel(createShopClerk());
  const model: ModelClient = {
    create: (request, { signal }) =>
      new Promise((resolve, reject) => {
        const result = inner.respond(request);
        signal.addEventListener('abort', () => reject(new ModelCallAborted()), { once: true });
        void s.schedule(Promise.resolve(), 'model responds').then(() => resolve(result));
      }),
  };
  const tools = createShopTools(shop).map((t) =>
    defineTool<unknown>({
      ...t,
      run: async (args, ctx) => (await s.schedule(Promise.resolve(), `${t.name} settles`), t.run(args, ctx)),
    }),
  );
  const events: GraftEvent[] = [];
  const errors: unknown[] = [];
  const graft = createGraft({
    store: new MemoryStore(),
    model,
    tools,
    deliver: () => undefined,
    instanceId: 'prop',
    clock: { now: () => 0, setTimer: () => () => undefined },
    onEvent: (_c, e) => events.push(e),
    onError: (e) => errors.push(e),
  });
  return { graft, shop, events, errors };
}

function checkGuarantees(
  events: GraftEvent[],
  desired: DesiredOrder,
  shop: ReturnType<typeof createMemoryShop>,
) {
  const id = parseConversationId('c1');
  const messages = events.filter((e) => e.type === 'message.received');
  // 1. Immediate: the decisions right after a message start a model call whose input holds it.
  for (const m of messages) {
    const after = events.slice(m.seq);
    const decisions = after.slice(
      0,
      after.findIndex(
        (e) => !['attempt.superseded', 'attempt.started', 'model.requested'].includes(e.type),
      ) >>> 0,
    );
    expect(
      decisions.some(
        (e) => e.type === 'model.requested' && e.entries.some((x) => x.messageId === m.messageId),
      ),
      `message ${m.messageId} started no call`,
    ).toBe(true);
  }
  // 2. One reply per message, covering everything received before its commit.
  const replies = events.filter((e) => e.type === 'reply.committed');
  const covered = replies.flatMap((r) => r.covers);
  expect(new Set(covered).size).toBe(covered.length);
  expect(covered.sort()).toEqual(messages.map((m) => m.messageId).sort());
  for (const r of replies) {
    const owed = messages.filter(
      (m) => m.seq < r.seq && !replies.some((q) => q.seq < r.seq && q.covers.includes(m.messageId)),
    );
    expect(r.covers.sort()).toEqual(owed.map((m) => m.messageId).sort());
  }
  // 3 and 4. Every call's context holds every earlier effect; writes start only knowing every outcome.
  for (const e of events) {
    if (e.type !== 'model.requested' && e.type !== 'effect.started') continue;
    const state = replay(id, events.slice(0, e.type === 'model.requested' ? e.seq : e.seq - 1));
    const known = knowledgeOf(state, e.callId);
    for (const effect of state.effects.values()) {
      if (e.type === 'model.requested')
        expect(known.effects.has(effect.effectId), `${e.callId} lacks ${effect.effectId}`).toBe(true);
      else
        expect(known.effects.get(effect.effectId), `write at ${e.seq} blind to ${effect.effectId}`).toBe(
          effect.status === 'running' ? 'never' : effect.status,
        );
    }
  }
  // 5. At most once per key, and the shop ends as the customer asked.
  const keys = shop.invocations().map((i) => i.idempotencyKey);
  expect(new Set(keys).size).toBe(keys.length);
  const active = shop.orders('c1').filter((o) => o.status === 'confirmed');
  expect(shop.orders('c1').length).toBeLessThanOrEqual(1);
  if (desired && !desired.cancelled) expect(active.map((o) => o.items)).toEqual([desired.items]);
  else expect(active).toEqual([]);
}

describe('guarantees under random interleavings', () => {
  it('holds guarantees 1-5 whatever order messages, model responses and tool results come in', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.scheduler(),
        conversation,
        fc.integer({ min: 0, max: 7 }),
        async (s, [first, rest], variant) => {
          const { graft, shop, events, errors } = scheduled(s);
          const intents: Intent[] = [{ kind: 'order', items: first }, ...rest];
          const texts = intents.map((i, n) => renderIntent(i, variant + n));
          // Messages arrive in order, each at a moment the scheduler picks among everything else.
          void s.scheduleSequence(
            texts.map((text, n) => ({
              label: `message ${n + 1}`,
              builder: () => graft.receive({ conversationId: 'c1', messageId: `m${n + 1}`, text }),
            })),
          );
          // Run until nothing is scheduled and nothing more gets scheduled.
          for (let quiet = 0; quiet < 2;) {
            await s.waitAll();
            await new Promise((resolve) => setImmediate(resolve));
            quiet = s.count() === 0 ? quiet + 1 : 0;
          }
          expect(errors).toEqual([]);
          const desired = intents.reduce<DesiredOrder>((d, i) => applyIntent(d, i), null);
          checkGuarantees(events, desired, shop);
        },
      ),
      { numRuns: RUNS },
    );
  });
});
