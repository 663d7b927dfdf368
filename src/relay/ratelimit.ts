/** Per-key token buckets: `burst` tokens, refilled at `perSecond` tokens per second. */
export interface RateLimit {
  /** Bucket size: uploads an idle address may send at once. */
  burst: number;
  /** Sustained uploads per second per address. */
  perSecond: number;
}

interface Bucket {
  tokens: number;
  updatedAt: number;
}

/** Token buckets keyed by address; idle full buckets are dropped so memory stays bounded by the active set. */
export class TokenBuckets {
  private readonly buckets = new Map<string, Bucket>();
  private lastSweep = 0;

  constructor(
    readonly limit: RateLimit,
    private readonly now: () => number = () => performance.now(),
  ) {
    if (!(limit.burst >= 1) || !(limit.perSecond > 0))
      throw new RangeError("rate limit needs burst ≥ 1, perSecond > 0");
  }

  /** Takes one token for `key`; returns 0 when allowed, else the milliseconds until a token is available. */
  take(key: string): number {
    const now = this.now();
    this.sweep(now);
    let b = this.buckets.get(key);
    if (!b) {
      b = { tokens: this.limit.burst, updatedAt: now };
      this.buckets.set(key, b);
    } else {
      b.tokens = Math.min(this.limit.burst, b.tokens + ((now - b.updatedAt) / 1000) * this.limit.perSecond);
      b.updatedAt = now;
    }
    if (b.tokens >= 1) {
      b.tokens -= 1;
      return 0;
    }
    return Math.ceil(((1 - b.tokens) / this.limit.perSecond) * 1000);
  }

  /** Milliseconds until `key` has a token (0: it has one now), without taking it. */
  peek(key: string): number {
    const b = this.buckets.get(key);
    if (!b) return 0;
    const tokens = Math.min(this.limit.burst, b.tokens + ((this.now() - b.updatedAt) / 1000) * this.limit.perSecond);
    return tokens >= 1 ? 0 : Math.ceil(((1 - tokens) / this.limit.perSecond) * 1000);
  }

  private sweep(now: number): void {
    if (now - this.lastSweep < 60_000) return;
    this.lastSweep = now;
    const refillMs = (this.limit.burst / this.limit.perSecond) * 1000;
    for (const [k, b] of this.buckets) if (now - b.updatedAt > refillMs) this.buckets.delete(k);
  }
}
