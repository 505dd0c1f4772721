/**
 * When automatic checkpoints are taken: once a burst of edits goes quiet (`quietMs` without an
 * edit), and at most `intervalMs` after the first edit not yet in a checkpoint while editing
 * goes on; either may be 0 (that trigger off), both 0 turns automatic checkpoints off.
 *
 * Only edits this node stored count: a loaded doc's records carry their writer as origin (a
 * session, a server-side handle, a restore) when this node stored them, and null when they were
 * loaded or came from another node (docs/doc-log.ts). So in a cluster the node that took the
 * edits takes the checkpoint, not every node that applied them.
 *
 * A doc that unloads with edits not yet checkpointed is checkpointed as it unloads (its state is
 * read in the `unloading` event, before the doc is destroyed; the store finishes in the
 * background and shutdown waits for it): a quiet burst is never lost because its doc left memory
 * before `quietMs` passed.
 *
 * Per keystroke this costs one `Date.now()`: the timer is set once per burst and, when it fires
 * early (edits went on), set again for the remaining time, not reset on every edit.
 */
import type { DocRegistry } from './registry.js'
import type { SharedDoc } from './shared-doc.js'

interface Burst {
  /** First edit not yet in a checkpoint, and the latest edit (ms since the epoch). */
  first: number
  last: number
  timer: NodeJS.Timeout | null
}

export class Checkpoints {
  private readonly bursts = new Map<SharedDoc, Burst>()
  private readonly listeners = new Map<SharedDoc, (update: Uint8Array, origin: unknown) => void>()
  private readonly enabled: boolean

  constructor (private readonly registry: DocRegistry, private readonly opts: { quietMs: number, intervalMs: number }, private readonly take: (doc: SharedDoc) => void) {
    this.enabled = opts.quietMs > 0 || opts.intervalMs > 0
    if (!this.enabled) return
    registry.on('loaded', this.onLoaded)
    registry.on('unloading', this.onUnloading)
  }

  /** Edits pending a checkpoint (tests). */
  get pending (): number { return this.bursts.size }

  /** Drops what is pending for `name` (its delete): no checkpoint of the old content follows. */
  forget (name: string): void {
    for (const [doc, burst] of this.bursts) {
      if (doc.name !== name) continue
      if (burst.timer !== null) clearTimeout(burst.timer)
      this.bursts.delete(doc)
    }
  }

  /** Stops every timer and listener (after the registry has unloaded every doc). Idempotent. */
  close (): void {
    for (const burst of this.bursts.values()) if (burst.timer !== null) clearTimeout(burst.timer)
    this.bursts.clear()
    for (const [doc, listener] of this.listeners) doc.ydoc.off('update', listener)
    this.listeners.clear()
    this.registry.off('loaded', this.onLoaded)
    this.registry.off('unloading', this.onUnloading)
  }

  private readonly onLoaded = (doc: SharedDoc): void => {
    const listener = (_update: Uint8Array, origin: unknown): void => { if (origin !== null) this.edited(doc) }
    doc.ydoc.on('update', listener)
    this.listeners.set(doc, listener)
  }

  private readonly onUnloading = (doc: SharedDoc): void => {
    const listener = this.listeners.get(doc)
    if (listener !== undefined) doc.ydoc.off('update', listener)
    this.listeners.delete(doc)
    const burst = this.bursts.get(doc)
    if (burst === undefined) return
    if (burst.timer !== null) clearTimeout(burst.timer)
    this.bursts.delete(doc)
    // A deleted doc leaves memory already destroyed (registry.ts `delete`): nothing to keep.
    if (!doc.ydoc.isDestroyed) this.take(doc)
  }

  private edited (doc: SharedDoc): void {
    const now = Date.now()
    const burst = this.bursts.get(doc)
    if (burst !== undefined) { burst.last = now; return }
    const b: Burst = { first: now, last: now, timer: null }
    this.bursts.set(doc, b)
    this.arm(doc, b, now)
  }

  /** Sets the burst's timer for its next due time. */
  private arm (doc: SharedDoc, b: Burst, now: number): void {
    const { quietMs, intervalMs } = this.opts
    const due = Math.min(quietMs > 0 ? b.last + quietMs : Infinity, intervalMs > 0 ? b.first + intervalMs : Infinity)
    b.timer = setTimeout(() => this.fire(doc, b), Math.max(0, due - now))
    b.timer.unref()
  }

  private fire (doc: SharedDoc, b: Burst): void {
    b.timer = null
    if (this.bursts.get(doc) !== b) return
    const now = Date.now()
    const { quietMs, intervalMs } = this.opts
    const quiet = quietMs > 0 && now - b.last >= quietMs
    const overdue = intervalMs > 0 && now - b.first >= intervalMs
    if (!quiet && !overdue) { this.arm(doc, b, now); return }
    this.bursts.delete(doc)
    this.take(doc)
  }
}
