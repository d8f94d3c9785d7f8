import type { Clock, EventStore } from '../core/ports.js';
import type { KeyedRandom } from './rng.js';
import type { VirtualClock } from './virtual-clock.js';

/** When an instance is frozen (a long GC pause, a descheduled VM): [from, to) in virtual time. */
export type Stall = readonly [from: number, to: number];

export interface InstanceFaults {
  /** Largest clock skew either way. */
  maxSkewMs: number;
  /** Mean time between two stalls of one instance. */
  stallGapMeanMs: number;
  /** Stall lengths, uniform in this range (more than half the lease, so leases expire). */
  stallMinMs: number;
  stallMaxMs: number;
  /** Stalls are planned up to this long after the conversation starts. */
  horizonMs: number;
}

/** More timers than this set by one instance at one virtual instant is a busy loop. */
const MAX_TIMERS_PER_INSTANT = 10_000;

/**
 * One simulated graft instance's view of the one virtual clock: its reading is off by a fixed
 * skew, and it stalls now and then. While it stalls nothing of it runs: every timer it set that
 * would fire inside a stall (its polls, lease renewals, wakes, and the completions of its model
 * and tool calls) fires at the stall's end instead.
 */
export class InstanceClock implements Clock {
  private instant = Number.NaN;
  private timersThisInstant = 0;

  /**
   * @param onSpin Called once if the instance sets more than {@link MAX_TIMERS_PER_INSTANT} timers at
   *   one instant (a wake that keeps finding itself early); its later timers at that instant are
   *   dropped, so that the run goes on and the checker can report it.
   */
  constructor(
    private readonly base: VirtualClock,
    readonly skewMs: number,
    readonly stalls: readonly Stall[],
    private readonly onSpin: () => void = () => undefined,
  ) {}

  now(): number {
    return this.base.now() + this.skewMs;
  }

  setTimer(at: number, fn: () => void): () => void {
    if (this.spinning()) return () => undefined;
    // Rounded up to a whole ms: with a whole-ms skew, the instance then reads at least `at` when
    // the timer fires (`at - skew + skew` can fall an ulp short, and a wake that finds itself
    // early would set itself again for ever).
    return this.base.setTimer(this.awake(Math.max(Math.ceil(at - this.skewMs), this.base.now())), fn);
  }

  /** Runs `fn` now, or when the current stall ends (a notification or a message reaching a frozen instance). */
  defer(fn: () => void): void {
    const at = this.awake(this.base.now());
    if (at === this.base.now()) fn();
    else this.base.setTimer(at, fn);
  }

  private spinning(): boolean {
    if (this.base.now() !== this.instant) {
      this.instant = this.base.now();
      this.timersThisInstant = 0;
    }
    this.timersThisInstant += 1;
    if (this.timersThisInstant === MAX_TIMERS_PER_INSTANT + 1) this.onSpin();
    return this.timersThisInstant > MAX_TIMERS_PER_INSTANT;
  }

  /** The first moment at or after `t` (virtual time) when the instance is not stalled. */
  private awake(t: number): number {
    let at = t;
    for (const [from, to] of this.stalls) if (at >= from && at < to) at = to;
    return at;
  }
}

/**
 * The stalls and skew of one instance of one conversation, drawn from keyed randomness (the
 * conversation starts at `startMs`).
 */
export function instanceFaults(
  rng: KeyedRandom,
  conversationId: string,
  instance: number,
  startMs: number,
  faults: InstanceFaults,
): { skewMs: number; stalls: Stall[] } {
  const skewMs = Math.round((2 * rng.uniform(conversationId, instance, 'skew') - 1) * faults.maxSkewMs);
  const stalls: Stall[] = [];
  let t = startMs;
  for (let i = 0; ; i += 1) {
    t += rng.exponential(faults.stallGapMeanMs, conversationId, instance, i, 'stall-gap');
    if (t > startMs + faults.horizonMs) break;
    const length =
      faults.stallMinMs +
      (faults.stallMaxMs - faults.stallMinMs) * rng.uniform(conversationId, instance, i, 'stall-length');
    stalls.push([t, t + length]);
    t += length;
  }
  return { skewMs, stalls };
}

/**
 * An instance's handle on the shared store: the same log, but notifications of other instances'
 * appends reach it on its own clock (a frozen instance hears of them when it wakes).
 */
export function instanceStore(shared: EventStore, clock: InstanceClock): EventStore {
  return {
    append: (key, expectedSeq, events, options) => shared.append(key, expectedSeq, events, options),
    read: (key, afterSeq) => shared.read(key, afterSeq),
    conversations: (options) => shared.conversations(options),
    unfinished: () => shared.unfinished(),
    ledger: (key, idempotencyKey) => shared.ledger(key, idempotencyKey),
    outbox: (options) => shared.outbox(options),
    watch: async (listener) => {
      if (!shared.watch) return () => Promise.resolve();
      return shared.watch((key, seq) => clock.defer(() => listener(key, seq)));
    },
    close: () => Promise.resolve(),
  };
}
