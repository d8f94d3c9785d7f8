import { defaultCatalogue } from '../../src/demo/shop/catalogue.js';
import {
  applyIntent,
  renderIntent,
  type DesiredOrder,
  type Intent,
  type OrderLine,
} from '../../src/demo/clerk/language.js';
import { KeyedRandom } from '../../src/sim/rng.js';

/**
 * The benchmark's customers, the same for every system: each draw is keyed by (seed, round,
 * conversation, burst, message), so in round r every system meets the same customers, with the
 * same words and the same gaps.
 *
 * `burst` (the default profile, the seed's case): 3 bursts of 2 or 3 messages, the gaps inside a
 * burst drawn from 100, 300 and 800 ms. The first message orders a main dish (and, half the time,
 * a side); the rest of the first burst has second thoughts (adds a side, changes a quantity);
 * later bursts add, change, ask about the order or chat, and the last one may cancel.
 *
 * `double-text`: 3 bursts of one message, except one (drawn uniformly) of two, the second sent a
 * log-normal gap after the first (median 10 s, σ 0.8: the field data the simulator's
 * double-text workload uses, in every conversation rather than in 23% of them).
 *
 * The customer writes the shop clerk's language (src/demo/clerk/language.ts); what they want in
 * the end is the fold of their intents (`applyIntent`), which the shop's orders are checked
 * against.
 */

export type Profile = 'burst' | 'double-text';

export interface PlannedMessage {
  id: string;
  text: string;
  /** Wait before sending it, after the previous message of its burst (0 for a burst's first). */
  gapMs: number;
}

export interface ConversationPlan {
  /** `c<index>`; the system and round are prefixed to make the conversation id. */
  key: string;
  bursts: PlannedMessage[][];
  desired: DesiredOrder;
}

const MAIN = ['pizza', 'burger', 'salad'];
const SIDES = defaultCatalogue.map((p) => p.product).filter((p) => !MAIN.includes(p));
const GAPS_MS = [100, 300, 800];
const BURSTS = 3;

export function conversationPlan(
  seed: number,
  round: number,
  index: number,
  profile: Profile,
): ConversationPlan {
  const rng = new KeyedRandom(seed);
  const u = (...key: (string | number)[]) => rng.uniform(round, index, ...key);
  const doubleAt = Math.floor(u('double-burst') * BURSTS);
  const bursts: PlannedMessage[][] = [];
  let desired: DesiredOrder = null;
  let cancelled = false;
  for (let burst = 0; burst < BURSTS; burst += 1) {
    const size =
      profile === 'double-text' ? (burst === doubleAt ? 2 : 1) : 2 + Math.floor(u(burst, 'size') * 2);
    const messages: PlannedMessage[] = [];
    for (let i = 0; i < size; i += 1) {
      let intent = chooseIntent(u, burst, i);
      if (cancelled && intent.kind !== 'status') intent = { kind: 'chat' };
      if (intent.kind === 'cancel') cancelled = true;
      desired = applyIntent(desired, intent);
      const gapMs =
        i === 0
          ? 0
          : profile === 'double-text'
            ? Math.round(rng.logNormal(10_000, 0.8, round, index, burst, i, 'gap'))
            : GAPS_MS[Math.floor(u(burst, i, 'gap') * GAPS_MS.length)]!;
      messages.push({
        id: `m${burst}_${i}`,
        text: renderIntent(intent, Math.floor(u(burst, i, 'variant') * 8)),
        gapMs,
      });
    }
    bursts.push(messages);
  }
  return { key: `c${index}`, bursts, desired };
}

function chooseIntent(u: (...key: (string | number)[]) => number, burst: number, index: number): Intent {
  const line = (pool: readonly string[], name: string): OrderLine => ({
    product: pool[Math.floor(u(burst, index, name, 'product') * pool.length)]!,
    quantity: 1 + Math.floor(u(burst, index, name, 'quantity') * 3),
  });
  if (burst === 0 && index === 0) {
    const items = [line(MAIN, 'main')];
    if (u(burst, index, 'with-side') < 0.5) items.push(line(SIDES, 'side'));
    return { kind: 'order', items };
  }
  const r = u(burst, index, 'kind');
  const set = (): Intent => ({
    kind: 'set',
    product: MAIN[Math.floor(u(burst, index, 'set-product') * MAIN.length)]!,
    quantity: 1 + Math.floor(u(burst, index, 'set-quantity') * 4),
  });
  // Second thoughts while the first order is being placed.
  if (burst === 0) return r < 0.6 ? { kind: 'add', items: [line(SIDES, 'add')] } : set();
  if (burst === BURSTS - 1 && r < 0.05) return { kind: 'cancel' };
  if (r < 0.45) return { kind: 'add', items: [line(SIDES, 'add')] };
  if (r < 0.7) return set();
  if (r < 0.9) return { kind: 'status' };
  return { kind: 'chat' };
}
