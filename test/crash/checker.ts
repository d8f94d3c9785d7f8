import { knowledgeOf } from '../../src/core/context.js';
import { parseConversationId } from '../../src/core/ids.js';
import { conversationKey } from '../../src/core/ports.js';
import { replay } from '../../src/core/state.js';
import type { DesiredOrder } from '../../src/demo/clerk/language.js';
import type { OpenedStore } from '../../src/store/index.js';
import type { AsyncShop } from '../../src/demo/shop/sql-shop.js';
import type { TestTables } from './tables.js';

/**
 * Checks what graft promises after crashes and takeovers, from the database alone: every
 * accepted message is covered by exactly one committed reply, delivered (re-deliveries of one
 * delivery id allowed); no idempotency key ran more often than it was started (a re-run needs the
 * tool's reconcile to have said "did not happen"); the shop ends as each customer asked; every
 * started effect is in the context of every later model call.
 */
export async function checkDatabase(
  store: OpenedStore,
  tables: TestTables,
  shop: AsyncShop,
  desired: Map<string, DesiredOrder>,
): Promise<string[]> {
  const violations: string[] = [];
  const deliveries = await tables.deliveries();
  const invocations = await tables.invocations();
  for (const [conversationId, wanted] of desired) {
    const events = await store.read(conversationKey('t', conversationId), 0);
    const state = replay(parseConversationId(conversationId), events);
    for (const m of state.messages) {
      const covering = state.replies.filter((r) => r.covers.includes(m.messageId));
      if (covering.length !== 1)
        violations.push(`${conversationId}: message ${m.messageId} covered by ${covering.length} replies`);
    }
    for (const r of state.replies) {
      const ids = new Set(
        deliveries
          .filter((d) => d.conversationId === conversationId && d.replyId === r.replyId)
          .map((d) => d.deliveryId),
      );
      if (ids.size !== 1)
        violations.push(`${conversationId}: reply ${r.replyId} delivered under ${ids.size} delivery ids`);
    }
    const started = new Map<string, number>();
    for (const e of events)
      if (e.type === 'effect.started')
        for (const s of e.effects) started.set(s.idempotencyKey, (started.get(s.idempotencyKey) ?? 0) + 1);
    const runs = new Map<string, number>();
    for (const i of invocations)
      if (i.conversationId === conversationId) runs.set(i.key, (runs.get(i.key) ?? 0) + 1);
    for (const [key, n] of runs)
      if (n > (started.get(key) ?? 0))
        violations.push(`${conversationId}: key ${key} ran ${n} times, started ${started.get(key) ?? 0}`);
    for (const e of events) {
      if (e.type !== 'model.requested') continue;
      const before = replay(parseConversationId(conversationId), events.slice(0, e.seq));
      const known = knowledgeOf(before, e.callId);
      for (const effect of before.effects.values()) {
        if (!known.effects.has(effect.effectId))
          violations.push(`${conversationId}: ${e.callId} lacks ${effect.effectId}`);
      }
    }
    const active = (await shop.orders(conversationId)).filter((o) => o.status === 'confirmed');
    const want = wanted && !wanted.cancelled ? JSON.stringify(wanted.items) : null;
    const have = active.map((o) =>
      JSON.stringify([...o.items].sort((a, b) => (a.product < b.product ? -1 : 1))),
    );
    if (want === null ? have.length > 0 : have.length !== 1 || have[0] !== want) {
      violations.push(
        `${conversationId}: the shop holds ${JSON.stringify(have)}, the customer asked for ${want ?? 'nothing'}`,
      );
    }
  }
  return violations;
}
