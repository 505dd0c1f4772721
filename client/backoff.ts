/**
 * Reconnect delays: exponential with full jitter (a uniform draw in [0, min(cap, base·2^n)]),
 * so a server restart is not met by every client at the same instant, bounded by a cap, and
 * reset once a connection has stayed up for `stableAfterMs` — a connection that opens and is
 * cut at once must not reset the schedule, or a flapping server gets a reconnect storm.
 */
export interface BackoffOptions {
  /** First delay ceiling (ms). @default 250 */
  baseMs?: number
  /** Largest delay (ms). @default 10000 */
  maxMs?: number
  /** Ceiling multiplier per attempt. @default 2 */
  factor?: number
  /** A connection up this long counts as good and resets the schedule (ms). @default 5000 */
  stableAfterMs?: number
  /** After `tooManyRequests` (4529, a limit): delays multiplied by this, and at least `slowMinMs`. @default 4 */
  slowFactor?: number
  /** @default 2000 */
  slowMinMs?: number
  /** @default Math.random */
  random?: () => number
}

export class Backoff {
  attempts = 0
  private readonly o: Required<BackoffOptions>
  private stableTimer: ReturnType<typeof setTimeout> | null = null

  constructor (options: BackoffOptions = {}) {
    this.o = { baseMs: 250, maxMs: 10_000, factor: 2, stableAfterMs: 5000, slowFactor: 4, slowMinMs: 2000, random: Math.random, ...options }
  }

  /** The ceiling of the next delay (before jitter). */
  ceiling (slow = false): number {
    const { baseMs, maxMs, factor, slowFactor } = this.o
    const exp = Math.min(maxMs, baseMs * factor ** Math.min(this.attempts, 52))
    return slow ? Math.min(maxMs * slowFactor, exp * slowFactor) : exp
  }

  /** The delay before the next attempt; each call counts as one more attempt. */
  next (slow = false): number {
    const ceiling = this.ceiling(slow)
    this.attempts++
    const delay = Math.floor(this.o.random() * ceiling)
    return slow ? Math.max(this.o.slowMinMs, delay) : delay
  }

  /** A connection opened: if it stays up `stableAfterMs`, the schedule starts over. */
  opened (): void {
    this.cancelStable()
    this.stableTimer = setTimeout(() => { this.stableTimer = null; this.reset() }, this.o.stableAfterMs)
  }

  /** The connection closed: it only counts as good if the stable timer already fired. */
  closed (): void { this.cancelStable() }

  reset (): void { this.attempts = 0 }

  dispose (): void { this.cancelStable() }

  private cancelStable (): void {
    if (this.stableTimer != null) { clearTimeout(this.stableTimer); this.stableTimer = null }
  }
}
