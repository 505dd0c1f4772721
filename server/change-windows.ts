/**
 * Debounce windows for "a doc changed" (server hooks' `onChange`, webhooks): one event per doc
 * per window. A window opens with a doc's first stored record after a quiet spell, and closes
 * once the doc has been quiet for `quietMs`, or `maxDelayMs` after it opened, whichever comes
 * first — so a burst is told once, soon after it ends, and continuous typing is still told at
 * least every `maxDelayMs`.
 *
 * `add` runs once per stored record, so it only does bookkeeping: no timer is reset per record
 * (a clearTimeout + setTimeout pair per keystroke); the window's one timer, when it fires, looks
 * at the time of the last record and sleeps again for the rest of the quiet period if needed.
 */

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
  /** `Date.now()` of the first and of the newest record. */
  first: number
  last: number
  timer: NodeJS.Timeout
}

export interface ChangeWindowListener {
  /** A window closed (also on `flush`). */
  closed (e: ChangeEvent): void
  /** A window opened with its first record (webhooks persist it: webhooks/webhooks.ts). */
  opened? (doc: string, fromSeq: number, user: string | undefined): void
}

export class ChangeWindows {
  private readonly open = new Map<string, Open>()

  constructor (private readonly opts: ChangeWindowOptions, private readonly listener: ChangeWindowListener) {}

  /** A stored record `seq` of `doc`, written by `user` (if known). */
  add (doc: string, seq: number, user: string | undefined): void {
    const now = Date.now()
    let w = this.open.get(doc)
    if (w === undefined) {
      const timer = setTimeout(() => this.check(doc), this.opts.quietMs)
      timer.unref()
      w = { fromSeq: seq, toSeq: seq, updates: 0, users: new Set(), first: now, last: now, timer }
      this.open.set(doc, w)
      this.listener.opened?.(doc, seq, user)
    }
    w.last = now
    w.toSeq = seq
    w.updates++
    if (user !== undefined) w.users.add(user)
  }

  /** Closes `doc`'s window now, if one is open (unload, delete). */
  flush (doc: string): void {
    const w = this.open.get(doc)
    if (w === undefined) return
    this.open.delete(doc)
    clearTimeout(w.timer)
    this.listener.closed({ doc, fromSeq: w.fromSeq, toSeq: w.toSeq, updates: w.updates, users: [...w.users] })
  }

  /** Closes every open window (shutdown). */
  flushAll (): void { for (const doc of [...this.open.keys()]) this.flush(doc) }

  /** Docs with an open window. */
  get size (): number { return this.open.size }

  private check (doc: string): void {
    const w = this.open.get(doc)
    if (w === undefined) return
    const due = Math.min(w.last + this.opts.quietMs, w.first + this.opts.maxDelayMs)
    const wait = due - Date.now()
    if (wait <= 0) { this.flush(doc); return }
    w.timer = setTimeout(() => this.check(doc), wait)
    w.timer.unref()
  }
}
