/**
 * Request budgets per client address: one token bucket per IP, made on its first request and
 * dropped once it has refilled (a sweep every few seconds), so the map holds only addresses
 * that were busy lately, not every address ever seen.
 */
import { TokenBucket } from './rate.js'

/** How often full buckets are dropped (ms). */
const SWEEP_MS = 10_000

export class IpRateLimiter {
  private readonly buckets = new Map<string, TokenBucket>()
  private readonly sweep: NodeJS.Timeout

  constructor (private readonly perSecond: number, private readonly burst: number) {
    this.sweep = setInterval(() => {
      const now = performance.now()
      for (const [ip, b] of this.buckets) if (b.full(now)) this.buckets.delete(ip)
    }, SWEEP_MS)
    this.sweep.unref()
  }

  /** Takes a token for `ip`: 0 when admitted, else the milliseconds until the next token. */
  take (ip: string, now = performance.now()): number {
    let b = this.buckets.get(ip)
    if (b === undefined) this.buckets.set(ip, b = new TokenBucket(this.perSecond, this.burst, now))
    return b.take(now) ? 0 : b.waitMs(now)
  }

  get size (): number { return this.buckets.size }

  close (): void {
    clearInterval(this.sweep)
    this.buckets.clear()
  }
}
