import { defaultCatalogue } from '../../examples/shop/catalogue.js';
import type { DesiredOrder, Intent, OrderLine } from '../model/shop-clerk/language.js';
import { applyIntent, renderIntent } from '../model/shop-clerk/language.js';
import type { KeyedRandom } from './rng.js';

/** The workload's knobs. The defaults are fixed, so that figures compare across versions. */
export interface WorkloadOptions {
  bursts: number;
  /** P(burst has 1, 2, 3, 4 messages). */
  burstSizeWeights: readonly number[];
  gapInBurstMeanMs: number;
  gapBetweenBurstsMs: number;
}

export const defaultWorkload: WorkloadOptions = {
  bursts: 3,
  burstSizeWeights: [0.5, 0.3, 0.15, 0.05],
  gapInBurstMeanMs: 1_500,
  gapBetweenBurstsMs: 20_000,
};

export interface ScriptedMessage {
  id: string;
  burst: number;
  index: number;
  /** Ms after the conversation starts. */
  atMs: number;
  intent: Intent;
  text: string;
}

export interface CustomerScript {
  conversationId: string;
  messages: ScriptedMessage[];
  /** What the customer wants in the end (the reference fold of the intents). */
  desired: DesiredOrder;
}

const MAIN_PRODUCTS = ['pizza', 'burger', 'salad'];
const SIDES = defaultCatalogue.map((p) => p.product).filter((p) => !MAIN_PRODUCTS.includes(p));

/**
 * One customer: asks for one order in the first burst, and later changes it, asks about it, or
 * cancels it (cancelling only in the last burst). Every draw is keyed by (conversation, burst,
 * message), so a customer is the same in every strategy's run.
 */
export function customerScript(rng: KeyedRandom, conversation: number, options: WorkloadOptions = defaultWorkload): CustomerScript {
  const conversationId = `conv_${conversation}`;
  const messages: ScriptedMessage[] = [];
  let t = 0;
  let cancelled = false;
  for (let burst = 0; burst < options.bursts; burst += 1) {
    const size = rng.pick(options.burstSizeWeights, conversation, burst, 'size') + 1;
    for (let index = 0; index < size; index += 1) {
      if (index > 0) t += rng.exponential(options.gapInBurstMeanMs, conversation, burst, index, 'gap');
      // A cancellation is the customer's last word on the order: afterwards they only ask or chat.
      let intent = chooseIntent(rng, conversation, burst, index, options.bursts);
      if (cancelled && intent.kind !== 'status') intent = { kind: 'chat' };
      if (intent.kind === 'cancel') cancelled = true;
      const variant = Math.floor(rng.uniform(conversation, burst, index, 'variant') * 8);
      messages.push({ id: `m${burst}_${index}`, burst, index, atMs: Math.round(t), intent, text: renderIntent(intent, variant) });
    }
    t += options.gapBetweenBurstsMs;
  }
  const desired = messages.reduce<DesiredOrder>((d, m) => applyIntent(d, m.intent), null);
  return { conversationId, messages, desired };
}

function chooseIntent(rng: KeyedRandom, c: number, burst: number, index: number, bursts: number): Intent {
  const u = (name: string) => rng.uniform(c, burst, index, name);
  const line = (pool: readonly string[], name: string): OrderLine => ({
    product: pool[Math.floor(u(`${name}-product`) * pool.length)]!,
    quantity: 1 + Math.floor(u(`${name}-quantity`) * 3),
  });
  if (burst === 0 && index === 0) {
    const items = [line(MAIN_PRODUCTS, 'main')];
    if (u('with-side') < 0.5) items.push(line(SIDES, 'side'));
    return { kind: 'order', items };
  }
  const r = u('kind');
  const last = burst === bursts - 1;
  if (burst === 0) {
    // Second thoughts while the first order is being placed.
    if (r < 0.55) return { kind: 'add', items: [line(SIDES, 'add')] };
    if (r < 0.8) return { kind: 'set', product: MAIN_PRODUCTS[Math.floor(u('set-product') * 3)]!, quantity: 1 + Math.floor(u('set-q') * 4) };
    return { kind: 'chat' };
  }
  if (last && r < 0.2) return { kind: 'cancel' };
  if (r < 0.45) return { kind: 'add', items: [line(SIDES, 'add')] };
  if (r < 0.65) return { kind: 'set', product: MAIN_PRODUCTS[Math.floor(u('set-product') * 3)]!, quantity: 1 + Math.floor(u('set-q') * 4) };
  if (r < 0.9) return { kind: 'status' };
  return { kind: 'chat' };
}
