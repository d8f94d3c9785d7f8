/**
 * A token bucket per key (tenant and conversation): `burst` messages at once, then `perMinute`
 * a minute. The map is bounded: past `maxKeys`, the least recently used buckets are forgotten
 * (a forgotten bucket starts full again, which only ever lets a message through).
 */
export class RateLimiter {
  private readonly buckets = new Map<string, { tokens: number; at: number }>();

  constructor(
    private readonly options: { burst: number; perMinute: number; maxKeys?: number },
    private readonly now: () => number = Date.now,
  ) {}

  /** Takes a token; returns 0 when allowed, else the ms to wait before one is free. */
  take(key: string): number {
    const { burst, perMinute } = this.options;
    const now = this.now();
    const found = this.buckets.get(key);
    const refilled = found ? Math.min(burst, found.tokens + ((now - found.at) * perMinute) / 60_000) : burst;
    this.buckets.delete(key);
    if (refilled < 1) {
      this.buckets.set(key, { tokens: refilled, at: now });
      return perMinute > 0 ? Math.ceil(((1 - refilled) * 60_000) / perMinute) : 60_000;
    }
    this.buckets.set(key, { tokens: refilled - 1, at: now });
    this.evict();
    return 0;
  }

  private evict(): void {
    const maxKeys = this.options.maxKeys ?? 100_000;
    for (const key of this.buckets.keys()) {
      if (this.buckets.size <= maxKeys) return;
      this.buckets.delete(key);
    }
  }
}
