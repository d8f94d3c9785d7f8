import type { Clock } from '../core/ports.js';

interface Timer {
  at: number;
  order: number;
  fn: () => void;
  cancelled: boolean;
}

export interface VirtualClockOptions {
  /**
   * How `run` lets every promise reaction run between two timers. `'macrotask'` (the default)
   * waits a turn of the event loop, which also lets real I/O and real timers in; `'microtasks'`
   * only drains the promise queue, without a turn: faster, for code that does no real I/O and
   * uses no real timers (the simulator).
   */
  drain?: 'macrotask' | 'microtasks';
}

/**
 * Virtual time for the simulator and tests: timers fire in time order (ties in the order they
 * were set), and between two timers every promise reaction runs, so async code under test runs
 * exactly as it would, only without waiting. Same inputs, same order: deterministic.
 */
export class VirtualClock implements Clock {
  private time: number;
  private order = 0;
  private readonly heap: Timer[] = [];
  private readonly settle: () => Promise<void>;

  constructor(startMs = 1_700_000_000_000, options: VirtualClockOptions = {}) {
    this.time = startMs;
    this.settle = options.drain === 'microtasks' ? drainMicrotasks : settle;
  }

  now(): number {
    return this.time;
  }

  setTimer(at: number, fn: () => void): () => void {
    const timer: Timer = { at: Math.max(at, this.time), order: (this.order += 1), fn, cancelled: false };
    this.push(timer);
    return () => {
      timer.cancelled = true;
    };
  }

  /** Resolves after `ms` of virtual time. */
  sleep(ms: number): Promise<void> {
    return new Promise((resolve) => this.setTimer(this.time + ms, resolve));
  }

  /** Runs timers until none is left (or until `untilMs`); returns the number fired. */
  async run(untilMs = Number.POSITIVE_INFINITY, maxTimers = 10_000_000): Promise<number> {
    let fired = 0;
    await this.settle();
    for (;;) {
      const next = this.heap[0];
      if (!next || next.at > untilMs) break;
      this.pop();
      if (next.cancelled) continue;
      this.time = next.at;
      next.fn();
      fired += 1;
      if (fired > maxTimers)
        throw new Error(`virtual clock: more than ${maxTimers} timers; is something looping?`);
      await this.settle();
    }
    if (untilMs !== Number.POSITIVE_INFINITY && untilMs > this.time) this.time = untilMs;
    return fired;
  }

  /** Timers still waiting (not cancelled). */
  get pending(): number {
    return this.heap.filter((t) => !t.cancelled).length;
  }

  private push(timer: Timer): void {
    const heap = this.heap;
    heap.push(timer);
    for (let i = heap.length - 1; i > 0;) {
      const parent = (i - 1) >> 1;
      if (!before(heap[i]!, heap[parent]!)) break;
      [heap[i], heap[parent]] = [heap[parent]!, heap[i]!];
      i = parent;
    }
  }

  private pop(): void {
    const heap = this.heap;
    const last = heap.pop()!;
    if (heap.length === 0) return;
    heap[0] = last;
    for (let i = 0; ;) {
      const l = 2 * i + 1;
      const r = l + 1;
      let min = i;
      if (l < heap.length && before(heap[l]!, heap[min]!)) min = l;
      if (r < heap.length && before(heap[r]!, heap[min]!)) min = r;
      if (min === i) break;
      [heap[i], heap[min]] = [heap[min]!, heap[i]!];
      i = min;
    }
  }
}

function before(a: Timer, b: Timer): boolean {
  return a.at < b.at || (a.at === b.at && a.order < b.order);
}

/** Lets every pending promise reaction run (a macrotask turn drains the microtask queue). */
export function settle(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

/**
 * Lets every pending promise reaction run, without a turn of the event loop: Node runs
 * `process.nextTick` callbacks only once the promise queue is empty, so a tick queued from a
 * promise reaction runs after every reaction queued before it and every reaction those queue.
 */
function drainMicrotasks(): Promise<void> {
  // A promise reaction, not queueMicrotask: Node wraps every queueMicrotask callback in an AsyncResource.
  return new Promise((resolve) => void Promise.resolve().then(() => process.nextTick(resolve)));
}
