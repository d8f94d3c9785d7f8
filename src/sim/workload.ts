import { defaultCatalogue } from '../demo/shop/catalogue.js';
import type { DesiredOrder, Intent, OrderLine } from '../demo/clerk/language.js';
import { applyIntent, renderIntent } from '../demo/clerk/language.js';
import type { KeyedRandom } from './rng.js';

/** The workload's knobs. The defaults are fixed, so that figures compare across versions. */
export interface WorkloadOptions {
  bursts: number;
  /** P(burst has 1, 2, 3, 4 messages). */
  burstSizeWeights: readonly number[];
  gapInBurstMeanMs: number;
  gapBetweenBurstsMs: number;
  /** The share of gaps inside a burst that are quick (mean `quickGapMeanMs`): messages sent in a rush. */
  quickGapShare?: number;
  quickGapMeanMs?: number;
  /**
   * The first burst in which the customer may cancel (default: the last). Earlier, a request to
   * cancel — which needs a person's approval in the adversarial world — races the customer's later
   * messages.
   */
  cancelFromBurst?: number;
  /**
   * Double texts instead of `burstSizeWeights`: every burst is one message, except that in a
   * `share` of conversations one burst (drawn uniformly) is two, the second sent a log-normal gap
   * (median `gapMedianMs`, σ of the log `gapSigma`) after the first.
   */
  doubleText?: { share: number; gapMedianMs: number; gapSigma: number };
  /** The profile's name, in the figures when it is not the default workload. */
  name?: string;
}

export const defaultWorkload: WorkloadOptions = {
  bursts: 3,
  burstSizeWeights: [0.5, 0.3, 0.15, 0.05],
  gapInBurstMeanMs: 1_500,
  gapBetweenBurstsMs: 20_000,
};

/**
 * The adversarial world's customers: bursts of up to 12 messages, four in ten of their gaps
 * within about 100 ms, so that attempts fork faster than writes settle and a turn outgrows the
 * attempts-per-turn bound. They may cancel from the second burst on, so that a cancellation
 * waiting for a person's approval meets the customer's later messages.
 */
export const adversarialWorkload: WorkloadOptions = {
  bursts: 3,
  burstSizeWeights: [0.3, 0.18, 0.12, 0.08, 0.06, 0.05, 0.04, 0.04, 0.035, 0.025, 0.02, 0.02],
  gapInBurstMeanMs: 1_500,
  gapBetweenBurstsMs: 20_000,
  quickGapShare: 0.4,
  quickGapMeanMs: 50,
  cancelFromBurst: 1,
};

/**
 * Field data on double texting: about 23% of active chats show the two-message pattern (a customer
 * sends a second message before or just after the reply), with a median gap of about 10 s between
 * the two. Modelled as 3 single-message bursts 20 s apart, and in 23% of conversations one of them
 * (uniformly) a double text whose gap is log-normal, median 10 s, σ 0.8 (p10 ≈ 3.6 s, p90 ≈ 28 s,
 * mean ≈ 13.8 s).
 */
export const doubleTextWorkload: WorkloadOptions = {
  bursts: 3,
  burstSizeWeights: [1],
  gapInBurstMeanMs: 1_500,
  gapBetweenBurstsMs: 20_000,
  doubleText: { share: 0.23, gapMedianMs: 10_000, gapSigma: 0.8 },
  name: 'double-text',
};

/** The workload profiles `graft sim --workload` offers (the polite world's; `default` is {@link defaultWorkload}). */
export const WORKLOADS = { default: defaultWorkload, 'double-text': doubleTextWorkload } as const;
export type WorkloadName = keyof typeof WORKLOADS;

/** The burst (of `bursts`) that is a double text in conversation `c`, or -1 (the double-text workload only). */
export function doubleTextBurst(rng: KeyedRandom, c: number, options: WorkloadOptions): number {
  const double = options.doubleText;
  if (!double || rng.uniform(c, 'double-text') >= double.share) return -1;
  return Math.floor(rng.uniform(c, 'double-text-burst') * options.bursts);
}

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
 * cancels it (by default only in the last burst; see `cancelFromBurst`). Every draw is keyed by (conversation, burst,
 * message), so a customer is the same in every strategy's run.
 */
export function customerScript(
  rng: KeyedRandom,
  conversation: number,
  options: WorkloadOptions = defaultWorkload,
): CustomerScript {
  const conversationId = `conv_${conversation}`;
  const messages: ScriptedMessage[] = [];
  let t = 0;
  let cancelled = false;
  const doubleBurst = options.doubleText ? doubleTextBurst(rng, conversation, options) : -1;
  for (let burst = 0; burst < options.bursts; burst += 1) {
    const size = options.doubleText
      ? burst === doubleBurst
        ? 2
        : 1
      : rng.pick(options.burstSizeWeights, conversation, burst, 'size') + 1;
    for (let index = 0; index < size; index += 1) {
      if (index > 0)
        t += options.doubleText
          ? rng.logNormal(
              options.doubleText.gapMedianMs,
              options.doubleText.gapSigma,
              conversation,
              burst,
              index,
              'double-gap',
            )
          : gapBefore(rng, options, conversation, burst, index);
      // A cancellation is the customer's last word on the order: afterwards they only ask or chat.
      let intent = chooseIntent(rng, conversation, burst, index, options);
      if (cancelled && intent.kind !== 'status') intent = { kind: 'chat' };
      if (intent.kind === 'cancel') cancelled = true;
      const variant = Math.floor(rng.uniform(conversation, burst, index, 'variant') * 8);
      messages.push({
        id: `m${burst}_${index}`,
        burst,
        index,
        atMs: Math.round(t),
        intent,
        text: renderIntent(intent, variant),
      });
    }
    t += options.gapBetweenBurstsMs;
  }
  const desired = messages.reduce<DesiredOrder>((d, m) => applyIntent(d, m.intent), null);
  return { conversationId, messages, desired };
}

function gapBefore(
  rng: KeyedRandom,
  options: WorkloadOptions,
  conversation: number,
  burst: number,
  index: number,
): number {
  // Drawn only when the workload has quick gaps, so that the polite workload's draws stay as they were.
  const quick =
    options.quickGapShare !== undefined &&
    rng.uniform(conversation, burst, index, 'quick') < options.quickGapShare;
  return rng.exponential(
    quick ? (options.quickGapMeanMs ?? 0) : options.gapInBurstMeanMs,
    conversation,
    burst,
    index,
    'gap',
  );
}

function chooseIntent(
  rng: KeyedRandom,
  c: number,
  burst: number,
  index: number,
  options: WorkloadOptions,
): Intent {
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
  const mayCancel = burst >= (options.cancelFromBurst ?? options.bursts - 1);
  if (burst === 0) {
    // Second thoughts while the first order is being placed.
    if (r < 0.55) return { kind: 'add', items: [line(SIDES, 'add')] };
    if (r < 0.8)
      return {
        kind: 'set',
        product: MAIN_PRODUCTS[Math.floor(u('set-product') * 3)]!,
        quantity: 1 + Math.floor(u('set-q') * 4),
      };
    return { kind: 'chat' };
  }
  if (mayCancel && r < 0.2) return { kind: 'cancel' };
  if (r < 0.45) return { kind: 'add', items: [line(SIDES, 'add')] };
  if (r < 0.65)
    return {
      kind: 'set',
      product: MAIN_PRODUCTS[Math.floor(u('set-product') * 3)]!,
      quantity: 1 + Math.floor(u('set-q') * 4),
    };
  if (r < 0.9) return { kind: 'status' };
  return { kind: 'chat' };
}
