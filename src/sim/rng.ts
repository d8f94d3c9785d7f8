/**
 * Keyed randomness: every draw is a pure function of the seed and a key (conversation, burst,
 * message, call…), so every strategy meets the same customers, latencies and faults, whatever
 * order it asks in.
 */
export class KeyedRandom {
  /** The hash of the key text's constant start, `${seed}|`: hashing goes on from there. */
  private readonly seedHash: number;

  constructor(readonly seed: number) {
    this.seedHash = hashString(`${seed}|`);
  }

  /** A uniform number in [0, 1) for the key. */
  uniform(...key: (string | number)[]): number {
    return spread(this.hashKey(key));
  }

  /** A standard normal draw (Box–Muller over two keyed uniforms). */
  normal(...key: (string | number)[]): number {
    // The uniforms of (...key, 'n1') and (...key, 'n2'): their texts share the key's prefix.
    const base = this.hashKey(key);
    const u1 = Math.max(spread(hashString('n1', key.length > 0 ? hashString('|', base) : base)), 1e-12);
    const u2 = spread(hashString('n2', key.length > 0 ? hashString('|', base) : base));
    return Math.sqrt(-2 * Math.log(u1)) * Math.cos(2 * Math.PI * u2);
  }

  /**
   * The hash of the key's text, `${seed}|${key.join('|')}`, computed part by part (a draw's
   * randomness depends on that text alone, and building it cost more than hashing it).
   */
  private hashKey(key: readonly (string | number)[]): number {
    let h = this.seedHash;
    for (let i = 0; i < key.length; i += 1) {
      if (i > 0) h = hashString('|', h);
      h = hashString(String(key[i]), h);
    }
    return h;
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

/** One round of splitmix32 spreads the hash's bits evenly; the result is in [0, 1). */
function spread(hash: number): number {
  let h = hash;
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  h ^= h >>> 16;
  return (h >>> 0) / 4294967296;
}

/** FNV-1a, 32 bits. `h` continues a hash: `hashString(b, hashString(a))` is `hashString(a + b)`. */
export function hashString(text: string, h = 0x811c9dc5): number {
  for (let i = 0; i < text.length; i += 1) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}
