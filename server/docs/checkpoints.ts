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
 * Per keystroke this costs one `Date.now()` (the timing is bursts.ts, as for change windows).
 */
import { Bursts } from './bursts.js'
import type { DocRegistry } from './registry.js'
import type { SharedDoc } from './shared-doc.js'

export class Checkpoints {
  /** Docs with edits not yet in a checkpoint. */
  private readonly bursts: Bursts<SharedDoc>
  private readonly listeners = new Map<SharedDoc, (update: Uint8Array, origin: unknown) => void>()
  private readonly enabled: boolean

  constructor (private readonly registry: DocRegistry, opts: { quietMs: number, intervalMs: number }, private readonly take: (doc: SharedDoc) => void) {
    this.enabled = opts.quietMs > 0 || opts.intervalMs > 0
    const off = (ms: number): number => ms > 0 ? ms : Infinity
    this.bursts = new Bursts(off(opts.quietMs), off(opts.intervalMs), take)
    if (!this.enabled) return
    registry.on('loaded', this.onLoaded)
    registry.on('unloading', this.onUnloading)
  }

  /** Edits pending a checkpoint (tests). */
  get pending (): number { return this.bursts.size }

  /** Drops what is pending for `name` (its delete): no checkpoint of the old content follows. */
  forget (name: string): void {
    for (const doc of [...this.bursts.keys()]) if (doc.name === name) this.bursts.cancel(doc)
  }

  /** Stops every timer and listener (after the registry has unloaded every doc). Idempotent. */
  close (): void {
    this.bursts.clear()
    for (const [doc, listener] of this.listeners) doc.ydoc.off('update', listener)
    this.listeners.clear()
    this.registry.off('loaded', this.onLoaded)
    this.registry.off('unloading', this.onUnloading)
  }

  private readonly onLoaded = (doc: SharedDoc): void => {
    const listener = (_update: Uint8Array, origin: unknown): void => { if (origin !== null) this.bursts.touch(doc) }
    doc.ydoc.on('update', listener)
    this.listeners.set(doc, listener)
  }

  private readonly onUnloading = (doc: SharedDoc): void => {
    const listener = this.listeners.get(doc)
    if (listener !== undefined) doc.ydoc.off('update', listener)
    this.listeners.delete(doc)
    // A deleted doc leaves memory already destroyed (registry.ts `delete`): nothing to keep.
    if (this.bursts.cancel(doc) && !doc.ydoc.isDestroyed) this.take(doc)
  }
}
