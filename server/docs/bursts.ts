/**
 * Bursts of events per key, each ended once: after `quietMs` without a new event, or `maxMs`
 * after its first, whichever comes first. What the server debounces this way: "a doc changed"
 * for hooks and webhooks (change-windows.ts) and automatic checkpoints (checkpoints.ts).
 *
 * `touch` runs per event (a stored record, a keystroke), so it only notes the time: the burst's
 * one timer is set when the burst begins and, when it fires early (events went on), set again
 * for the rest, instead of a clearTimeout + setTimeout pair per event. `Infinity` turns a
 * trigger off; at least one must be finite.
 */

interface Burst {
  /** `Date.now()` of the burst's first and of its newest event. */
  first: number
  last: number
  timer: NodeJS.Timeout | null
}

export class Bursts<K> {
  private readonly open = new Map<K, Burst>()

  constructor (private readonly quietMs: number, private readonly maxMs: number, private readonly end: (key: K) => void) {}

  /** An event of `key` now; true when it began a burst. */
  touch (key: K): boolean {
    const now = Date.now()
    const open = this.open.get(key)
    if (open !== undefined) { open.last = now; return false }
    const b: Burst = { first: now, last: now, timer: null }
    this.open.set(key, b)
    this.arm(key, b, now)
    return true
  }

  /** Ends `key`'s burst without calling `end`; false when none was open. */
  cancel (key: K): boolean {
    const b = this.open.get(key)
    if (b === undefined) return false
    if (b.timer !== null) clearTimeout(b.timer)
    this.open.delete(key)
    return true
  }

  /** Ends every burst without calling `end`. */
  clear (): void { for (const key of [...this.open.keys()]) this.cancel(key) }

  keys (): IterableIterator<K> { return this.open.keys() }
  get size (): number { return this.open.size }

  private arm (key: K, b: Burst, now: number): void {
    b.timer = setTimeout(() => this.fire(key, b), Math.max(0, this.due(b) - now))
    b.timer.unref()
  }

  private due (b: Burst): number { return Math.min(b.last + this.quietMs, b.first + this.maxMs) }

  private fire (key: K, b: Burst): void {
    b.timer = null
    if (this.open.get(key) !== b) return
    const now = Date.now()
    if (now < this.due(b)) return this.arm(key, b, now)
    this.open.delete(key)
    this.end(key)
  }
}
