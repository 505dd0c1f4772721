/**
 * Debounce windows for "a doc changed" (server hooks' `onChange`, webhooks): one event per doc
 * per window. A window opens with a doc's first stored record after a quiet spell, and closes
 * once the doc has been quiet for `quietMs`, or `maxDelayMs` after it opened, whichever comes
 * first — so a burst is told once, soon after it ends, and continuous typing is still told at
 * least every `maxDelayMs`.
 *
 * `add` runs once per stored record, so it only does bookkeeping; the timing is docs/bursts.ts.
 */
import { Bursts } from './docs/bursts.js'

export interface ChangeWindowOptions {
  /** Close the window after this long without a new record (ms). */
  quietMs: number
  /** … and at the latest this long after it opened (ms). At least `quietMs`. */
  maxDelayMs: number
}

/** What a closed window tells. */
export interface ChangeEvent {
  doc: string
  /** Sequence numbers of the first and last stored record in this event (the cursors). */
  fromSeq: number
  toSeq: number
  /** Records stored. */
  updates: number
  /** Who wrote them (`sub` of their tokens; server-side edits and unknown users are left out). */
  users: string[]
}

interface Open {
  fromSeq: number
  toSeq: number
  updates: number
  users: Set<string>
}

export interface ChangeWindowListener {
  /** A window closed (also on `flush`). */
  closed (e: ChangeEvent): void
  /** A window opened with its first record (webhooks persist it: webhooks/webhooks.ts). */
  opened? (doc: string, fromSeq: number, user: string | undefined): void
}

export class ChangeWindows {
  private readonly open = new Map<string, Open>()
  private readonly bursts: Bursts<string>

  constructor (opts: ChangeWindowOptions, private readonly listener: ChangeWindowListener) {
    this.bursts = new Bursts(opts.quietMs, opts.maxDelayMs, doc => this.flush(doc))
  }

  /** A stored record `seq` of `doc`, written by `user` (if known). */
  add (doc: string, seq: number, user: string | undefined): void {
    let w = this.open.get(doc)
    if (this.bursts.touch(doc) || w === undefined) {
      w = { fromSeq: seq, toSeq: seq, updates: 0, users: new Set() }
      this.open.set(doc, w)
      this.listener.opened?.(doc, seq, user)
    }
    w.toSeq = seq
    w.updates++
    if (user !== undefined) w.users.add(user)
  }

  /** Closes `doc`'s window now, if one is open (unload, delete). */
  flush (doc: string): void {
    const w = this.open.get(doc)
    if (w === undefined) return
    this.open.delete(doc)
    this.bursts.cancel(doc)
    this.listener.closed({ doc, fromSeq: w.fromSeq, toSeq: w.toSeq, updates: w.updates, users: [...w.users] })
  }

  /** Closes every open window (shutdown). */
  flushAll (): void { for (const doc of [...this.open.keys()]) this.flush(doc) }

  /** Docs with an open window. */
  get size (): number { return this.open.size }

}
