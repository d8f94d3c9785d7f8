/**
 * Keyed randomness: every draw is a pure function of the seed and a key (conversation, burst,
 * message, call…), so every strategy meets the same customers, latencies and faults, whatever
 * order it asks in.
 */
export class KeyedRandom {
  constructor(readonly seed: number) {}

  /** A uniform number in [0, 1) for the key. */
  uniform(...key: (string | number)[]): number {
    let h = hashString(`${this.seed}|${key.join('|')}`);
    // One round of splitmix32 spreads the hash's bits evenly.
    h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
    h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
    h ^= h >>> 16;
    return (h >>> 0) / 4294967296;
  }

  /** A standard normal draw (Box–Muller over two keyed uniforms). */
  normal(...key: (string | number)[]): number {
    const u1 = Math.max(this.uniform(...key, 'n1'), 1e-12);
    const u2 = this.uniform(...key, 'n2');
    return Math.sqrt(-2 * Math.log(u1)) * Math.cos(2 * Math.PI * u2);
  }

  /** Log-normal with the given median and sigma of the log. */
  logNormal(median: number, sigma: number, ...key: (string | number)[]): number {
    return median * Math.exp(sigma * this.normal(...key));
  }

  /** Exponential with the given mean. */
  exponential(mean: number, ...key: (string | number)[]): number {
    return -mean * Math.log(1 - this.uniform(...key));
  }

  /** Picks an index by weights. */
  pick(weights: readonly number[], ...key: (string | number)[]): number {
    const total = weights.reduce((a, b) => a + b, 0);
    let u = this.uniform(...key) * total;
    for (const [i, w] of weights.entries()) {
      if (u < w) return i;
      u -= w;
    }
    return weights.length - 1;
  }
}

/** FNV-1a, 32 bits. */
export function hashString(text: string, h = 0x811c9dc5): number {
  for (let i = 0; i < text.length; i += 1) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}
