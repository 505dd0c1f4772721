/**
 * Coalesced presence for one doc. Awareness is the traffic that grows as N² in a busy doc: every
 * cursor move of each of N editors goes to the N-1 others. Relayed one message per change, the
 * server pays a frame, a send and (for the stock provider) an echo per change per peer. Here the
 * changes that arrive within one window go out together: one awareness message holding each
 * changed client's newest state, encoded once and sent to every peer.
 *
 * The rules, and why:
 * - **Leading edge, then at most one flush per window.** A change in a quiet doc goes out at
 *   once and opens a window; changes during the window wait for its end, then go out together
 *   (and open the next window). So a change waits at most one window, however busy the doc, and
 *   a lone cursor is never delayed. A window is never extended by later changes (no debounce),
 *   so nobody's state can be starved behind a stream of others'.
 * - **Removals go out at once**, with whatever is pending: a client that left must vanish from
 *   everyone's view now (a stale cursor pointing at text is worse than a late one), removals are
 *   rare (a leave, a timeout, a tab closing), and sending the pending states with it keeps one
 *   message per flush. The window keeps running.
 * - **Edits never wait here**: updates have their own path (`SharedDoc.onYUpdate`), so presence
 *   can only arrive after the edits it refers to, never hold them back.
 * - **A joiner flushes first**: it is sent the whole presence (pending states included) as it
 *   joins, so what is pending goes to the others before it is added, not to it a second time.
 * - **One clock for every doc.** Windows end on a tick shared by all docs with the same window
 *   length (`Ticks`), not on a timer of their own: the process wakes once per window length
 *   however many docs are busy, instead of once per doc per window (and once more, for nothing,
 *   after each lone change in a quiet doc). A window opened between ticks is shorter than
 *   `windowMs`, never longer. In 5 rooms of 10 at 10 Hz that was 2,900 loop wake-ups in 3 s
 *   against the relay's 2,200 (`strace -c`, bench presence).
 * - **The window grows with the room.** A flush costs one send per peer, and a send is the
 *   costliest thing presence does (`writev` was 60 % of the main thread in rooms of 20, warm
 *   `--cpu-prof`), so a busy room of 20 pays twice what a room of 10 does for the same window,
 *   while no one watches 20 cursors at once. A window lasts one tick per `PEERS_PER_TICK` peers
 *   (rounded up), at most `MAX_TICKS`: up to 40 peers a doc's presence sends at most about
 *   `1000 / windowMs × PEERS_PER_TICK` frames a second (400 at the default 20 ms), beyond
 *   that one flush per `MAX_TICKS` ticks to everyone. At the default a window is ≤ 20 ms up to
 *   8 peers, ≤ 40 ms up to 16, ≤ 60 ms up to 24 and ≤ 100 ms from 33 on. A lone mover still
 *   waits for nothing (leading edge). The tick stays the shared one: a longer window just waits
 *   for more of them.
 * - `windowMs` 0: every change goes out at once, alone (the behaviour before coalescing).
 */
import type { AwarenessChanges } from './broadcast.js'

type Kind = 'added' | 'updated' | 'removed'

/** What one flush sends: each changed client once, and who made its newest change. */
/** Awareness changes within this many ms go out as one message (`presenceCoalesceMs`; chosen in bench/README.md, presence). */
export const defaultPresenceCoalesceMs = 20

/** Peers one tick of window covers: a window of a doc with p peers is ceil(p / this) ticks. */
export const PEERS_PER_TICK = 8
/** Longest window, in ticks (100 ms at the default 20 ms). */
export const MAX_TICKS = 5

/** Ticks in the window of a doc with `peers` peers (`PEERS_PER_TICK`, `MAX_TICKS`). */
export function windowTicks (peers: number): number {
  return Math.min(MAX_TICKS, Math.max(1, Math.ceil(peers / PEERS_PER_TICK)))
}

export interface PresenceBatch {
  changes: AwarenessChanges
  /** Client id → origin of its newest change (the peer, or y-protocols' 'timeout', 'peer-closed'). */
  origins: Map<number, unknown>
  /** Changes that never went out because a newer state of the same client did (coalesced away). */
  folded: number
}

export class PresenceWindow {
  private pending = new Map<number, { kind: Kind, origin: unknown }>()
  private folded = 0
  /** A window is open: changes wait for the next tick. */
  private windowOpen = false
  /** Ticks until the open window ends. */
  private ticksLeft = 0
  private closed = false
  private readonly ticks: Ticks | null

  /** `span`: ticks the next window lasts (`windowTicks` of the doc's peers); one by default. */
  constructor (windowMs: number, private readonly flush: (batch: PresenceBatch) => void, private readonly span: () => number = () => 1) {
    this.ticks = windowMs > 0 ? Ticks.of(windowMs) : null
  }

  /** Ids waiting for the end of the window (tests, stats). */
  get size (): number { return this.pending.size }
  /** Whether a window is open (the doc waits for a tick). */
  get open (): boolean { return this.windowOpen }

  /** Takes the changes of one awareness update event. */
  add (changes: AwarenessChanges, origin: unknown): void {
    if (this.closed) return
    for (const id of changes.added) this.note(id, 'added', origin)
    for (const id of changes.updated) this.note(id, 'updated', origin)
    for (const id of changes.removed) this.note(id, 'removed', origin)
    if (this.pending.size === 0) return
    if (this.ticks === null) { this.send(); return }
    if (!this.windowOpen) {
      this.send()
      this.openWindow()
    } else if (changes.removed.length > 0) {
      this.send()
    }
  }

  private note (id: number, kind: Kind, origin: unknown): void {
    const prev = this.pending.get(id)
    if (prev === undefined) { this.pending.set(id, { kind, origin }); return }
    this.folded++
    // Peers never saw a state added in this window: updated later, it is still new to them. A
    // removal wins (it flushes at once, so nothing pending ever follows one).
    prev.kind = kind === 'removed' ? 'removed' : prev.kind === 'added' ? 'added' : kind
    prev.origin = origin
  }

  /** The shared tick: the window ends; what is pending goes out and the next window opens. */
  tick (): void {
    if (--this.ticksLeft > 0) { this.ticks!.wait(this); return } // a longer window: more ticks
    this.windowOpen = false
    if (this.pending.size === 0) return // quiet: the next change goes out at once
    // Closed while it sends: a flush that throws leaves the doc sending at once, never waiting
    // for a tick it is no longer registered for.
    this.send()
    this.openWindow()
  }

  private openWindow (): void {
    this.windowOpen = true
    this.ticksLeft = this.span()
    this.ticks!.wait(this)
  }

  /**
   * Sends what is pending now (the window keeps running). Called before a peer joins: the
   * joiner is sent the whole presence, pending states included, and must not get them twice.
   */
  sendPending (): void {
    if (!this.closed) this.send()
  }

  private send (): void {
    if (this.pending.size === 0) return
    const changes: AwarenessChanges = { added: [], updated: [], removed: [] }
    const origins = new Map<number, unknown>()
    for (const [id, p] of this.pending) {
      changes[p.kind].push(id)
      origins.set(id, p.origin)
    }
    const folded = this.folded
    this.pending = new Map()
    this.folded = 0
    this.flush({ changes, origins, folded })
  }

  /** Drops what is pending and leaves the tick (the doc is unloading: nobody is left to tell). */
  close (): void {
    this.closed = true
    this.ticks?.leave(this)
    this.windowOpen = false
    this.ticksLeft = 0
    this.pending.clear()
    this.folded = 0
  }
}

/**
 * One timer for every open window of one length: it runs only while some doc waits, and each
 * tick ends all their windows at once.
 */
export class Ticks {
  private static readonly byLength = new Map<number, Ticks>()
  static of (ms: number): Ticks {
    let t = Ticks.byLength.get(ms)
    if (t === undefined) Ticks.byLength.set(ms, t = new Ticks(ms))
    return t
  }

  private waiting = new Set<PresenceWindow>()
  private timer: NodeJS.Timeout | null = null

  private constructor (private readonly ms: number) {}

  /** Windows waiting for the next tick (tests). */
  get size (): number { return this.waiting.size }

  wait (w: PresenceWindow): void {
    this.waiting.add(w)
    this.timer ??= setTimeout(this.fire, this.ms)
  }

  leave (w: PresenceWindow): void {
    this.waiting.delete(w)
    if (this.waiting.size === 0 && this.timer !== null) {
      clearTimeout(this.timer)
      this.timer = null
    }
  }

  private readonly fire = (): void => {
    this.timer = null
    const due = this.waiting
    this.waiting = new Set()
    // A flush that throws must not strand the other docs' windows.
    for (const w of due) {
      try { w.tick() } catch (err) { queueMicrotask(() => { throw err }) }
    }
  }
}
