import type { Clock } from '../core/ports.js';

/** The wall clock. */
export const systemClock: Clock = {
  now: () => Date.now(),
  setTimer(at, fn) {
    // Node caps timers at 2^31-1 ms; a longer wait wakes early and decides again, which is harmless.
    const handle = setTimeout(fn, Math.min(Math.max(0, at - Date.now()), 2 ** 31 - 1));
    handle.unref?.();
    return () => clearTimeout(handle);
  },
};
