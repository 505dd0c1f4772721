/**
 * The deliveries waiting to be accepted, and the loop that sends them: at least once, in the
 * order they were made (when due at the same time), at most `concurrency` requests at a time,
 * each failed attempt retried after an exponential backoff with jitter (so receivers coming back
 * from an outage are not hit by every sender at the same instant), until it is accepted, or has
 * failed `maxAttempts` times, or is older than `maxAgeMs` — then it is dropped, logged and counted.
 *
 * Every delivery here is in storage (store.ts) before its first attempt and removed after a 2xx
 * or a drop; the queue in memory is bounded by `maxPending` (the oldest goes first). Nothing here
 * runs per update: one delivery is made per event (a closed debounce window, a create, …).
 */
import type { Logger } from '../logger.js'
import type { Metrics, BoundHistogram } from '../metrics.js'
import type { ResolvedWebhookOptions } from './options.js'
import { Sender, type AttemptResult } from './sender.js'
import type { StoredDelivery, WebhookStore } from './store.js'

export interface Delivery extends Omit<StoredDelivery, 'body'> {
  key: string
  /**
   * The body while the first attempt is due; a delivery waiting for a retry keeps it only in
   * storage (undefined here), so a long outage holds metadata in memory, not every event's body.
   */
  body: string | undefined
  /** Whether it is in storage (it is unless storing it failed: then its body stays here). */
  stored: boolean
  /** Failed attempts so far (in this process: after a restart a delivery starts again at 0; `maxAgeMs` still counts). */
  failures: number
  /** When the next attempt is due (ms). */
  due: number
}

type Outcome = 'ok' | 'retry' | 'dropped'

export class Outbox {
  /** Waiting deliveries, ordered by `due` (then by insertion). */
  private queue: Delivery[] = []
  private running = 0
  private timer: NodeJS.Timeout | null = null
  private timerAt = Infinity
  private readonly inFlight = new Set<AbortController>()
  /** Removals from storage under way (close waits for them: storage closes next). */
  private readonly removing = new Set<Promise<void>>()
  private draining = false
  private closed = false
  private readonly seconds: BoundHistogram
  private readonly sender: Sender

  constructor (private readonly opts: ResolvedWebhookOptions, private readonly store: WebhookStore, private readonly logger: Logger, private readonly metrics: Metrics) {
    this.seconds = metrics.histogram('webhook_delivery_seconds')
    this.sender = new Sender(opts.secret, opts.timeoutMs, opts.concurrency)
  }

  /** Deliveries not accepted yet (waiting or being sent). */
  get pending (): number { return this.queue.length + this.running }

  /** Queues a delivery (already in storage), due now unless `due` says otherwise. */
  add (d: Delivery): void {
    if (this.closed) return
    while (this.pending >= this.opts.maxPending && this.queue.length > 0) {
      let oldest = 0
      for (let i = 1; i < this.queue.length; i++) if (this.queue[i]!.at < this.queue[oldest]!.at) oldest = i
      const [old] = this.queue.splice(oldest, 1)
      this.drop(old!, `more than ${this.opts.maxPending} deliveries pending (maxPending)`)
    }
    this.insert(d)
    this.pump()
  }

  private insert (d: Delivery): void {
    // After every delivery due at the same time or earlier: equal ones keep their order.
    let lo = 0
    let hi = this.queue.length
    while (lo < hi) {
      const mid = (lo + hi) >>> 1
      if (this.queue[mid]!.due <= d.due) lo = mid + 1
      else hi = mid
    }
    this.queue.splice(lo, 0, d)
  }

  private pump (): void {
    if (this.closed) return
    const now = Date.now()
    while (this.running < this.opts.concurrency && this.queue.length > 0 && this.queue[0]!.due <= now) {
      void this.attempt(this.queue.shift()!)
    }
    // Draining (close): only what is due now; the later retries wait for the next start.
    if (this.draining || this.queue.length === 0 || this.running >= this.opts.concurrency) return
    const next = this.queue[0]!.due
    if (this.timer !== null && this.timerAt <= next) return
    if (this.timer !== null) clearTimeout(this.timer)
    this.timerAt = next
    this.timer = setTimeout(() => { this.timer = null; this.timerAt = Infinity; this.pump() }, Math.max(0, next - now))
    this.timer.unref()
  }

  private async attempt (d: Delivery): Promise<void> {
    this.running++
    const abort = new AbortController()
    this.inFlight.add(abort)
    let started = performance.now()
    let result: AttemptResult | null = null
    try {
      const body = d.body ?? await this.store.body(d.key).catch(() => undefined)
      started = performance.now()
      if (body !== undefined) result = await this.sender.post({ url: d.url, id: d.id, event: d.event, body, attempt: d.failures + 1 }, abort.signal)
    } finally {
      this.inFlight.delete(abort)
      this.running--
    }
    // Cut short by close(): it stays in storage and goes out after the next start.
    if (abort.signal.aborted) return
    if (result === null) {
      // Gone from storage, or storage failing: nothing to send.
      this.drop(d, 'its body could not be read from storage')
      this.pump()
      return
    }
    this.seconds.observe((performance.now() - started) / 1000)
    if (result.ok) {
      this.count('ok')
      this.logger.debug({ url: d.url, id: d.id, event: d.event, status: result.status }, 'webhook delivered')
      void this.forget(d)
    } else {
      d.failures++
      const why = result.status !== undefined ? `HTTP ${result.status}` : result.error ?? 'failed'
      if (d.failures >= this.opts.maxAttempts) this.drop(d, `${d.failures} attempts failed (maxAttempts), the last: ${why}`)
      else if (Date.now() - d.at >= this.opts.maxAgeMs) this.drop(d, `not accepted within maxAgeMs (${this.opts.maxAgeMs} ms), the last attempt: ${why}`)
      else {
        this.count('retry')
        const wait = this.backoff(d.failures)
        d.due = Date.now() + wait
        if (d.stored) d.body = undefined
        this.logger[d.failures === 1 ? 'warn' : 'info']({ url: d.url, id: d.id, event: d.event, attempt: d.failures, error: why, retryInMs: wait }, 'webhook delivery failed; will retry')
        if (!this.closed) this.insert(d)
      }
    }
    this.pump()
  }

  /** Exponential, capped, with "equal jitter": between half and all of the step. */
  private backoff (failures: number): number {
    const step = Math.min(this.opts.retryMaxMs, this.opts.retryMinMs * 2 ** (failures - 1))
    return Math.round(step / 2 + Math.random() * step / 2)
  }

  private drop (d: Delivery, why: string): void {
    this.count('dropped')
    this.logger.error({ url: d.url, id: d.id, event: d.event, attempts: d.failures }, `webhook delivery dropped: ${why}`)
    void this.forget(d)
  }

  private forget (d: Delivery): Promise<void> {
    const removed = this.store.remove(d.key).catch((err: unknown) => {
      // It would be sent again after a restart (at least once: receivers dedupe by its id).
      this.logger.warn({ id: d.id, err }, 'could not remove a finished webhook delivery from storage')
    }).finally(() => this.removing.delete(removed))
    this.removing.add(removed)
    return removed
  }

  private count (outcome: Outcome): void { this.metrics.inc(`webhook_deliveries_total{outcome="${outcome}"}`) }

  /**
   * Stops: what is due now is tried for up to `drainMs` (a change told at shutdown goes out
   * now rather than after the next start), then attempts still running are cut short. What is
   * left stays in storage. Idempotent.
   */
  async close (drainMs: number): Promise<void> {
    if (this.closed) return
    this.draining = true
    if (this.timer !== null) { clearTimeout(this.timer); this.timer = null }
    const deadline = Date.now() + drainMs
    this.pump()
    while (this.running > 0 && Date.now() < deadline) {
      await new Promise(resolve => setTimeout(resolve, 10))
      this.pump()
    }
    this.closed = true
    for (const a of this.inFlight) a.abort()
    // An aborted fetch settles at once; the bound is only a guard.
    for (let i = 0; i < 200 && this.running > 0; i++) await new Promise(resolve => setTimeout(resolve, 5))
    await Promise.all([...this.removing])
    this.sender.close()
    this.queue = []
  }
}
