/**
 * A token bucket per connection: `burst` messages at once, refilled at `perSecond`. Every
 * message counts — sync step1 included, since a step1 flood makes the server encode the whole
 * doc again and again and is the cheapest way to burn its CPU.
 * Refill is computed lazily from the clock on each call: no timers, nothing to clean up.
 */
export class TokenBucket {
  private tokens: number
  private last: number

  constructor (private readonly perSecond: number, private readonly burst: number, now = performance.now()) {
    this.tokens = burst
    this.last = now
  }

  /**
   * Takes one token; false when the bucket is empty. Then the caller holds the message back
   * (a WebSocket stops reading its socket) and asks `waitMs()` when to try again.
   */
  take (now = performance.now()): boolean {
    // Refilled on every take (a multiply and a min). Refilling only once empty, as before,
    // credited the time the bucket sat full: a sender that waited before its flood got up to a
    // second burst on top of the first (CI caught 52 messages where 20 + 50/s allowed 45).
    this.refill(now)
    if (this.tokens < 1) return false
    this.tokens -= 1
    return true
  }

  /** Milliseconds until `take()` can succeed; 0 when it can now. */
  waitMs (now = performance.now()): number {
    this.refill(now)
    return this.tokens >= 1 ? 0 : Math.ceil((1 - this.tokens) * 1000 / this.perSecond)
  }

  /** True once the bucket has refilled completely: its sender stayed under the rate a while. */
  full (now = performance.now()): boolean {
    this.refill(now)
    return this.tokens >= this.burst
  }

  private refill (now: number): void {
    this.tokens = Math.min(this.burst, this.tokens + (now - this.last) * this.perSecond / 1000)
    this.last = now
  }
}
