/**
 * Presence bookkeeping for one doc: which peer claimed each awareness client id, and how many
 * bytes of state each peer and the whole doc hold, so that a message can be judged against the
 * caps *before* y-protocols applies any of it.
 *
 * Why: without caps one connection held 79 MiB of presence (64 entries per message, a new id
 * each time), six held ~600 MB, and every joiner was sent all of it at once and closed 4508 as
 * too slow: nobody could join while the attacker stayed (issue 12, defect 5).
 *
 * Only claims count: the ids a peer owns and whose state the doc holds. The stock provider
 * echoes every state it hears back to the server; those echoes are stale and never become
 * claims (see `SharedDoc.applyAwareness`), so an honest client in a full room holds one id.
 */
import type { DecodedAwarenessEntry } from '../../shared/awareness.js'
import type { DocPeer } from './broadcast.js'

export interface PresenceLimits {
  /** Most awareness client ids one peer (WebSocket connection or HTTP session) holds at once. */
  maxPresenceIdsPerConnection: number
  /** Most bytes of awareness state one peer holds, all its ids together. */
  maxPresenceBytesPerConnection: number
  /** Most bytes of awareness state a doc holds, all peers together (what a joiner is sent). */
  maxPresenceBytesPerDoc: number
  /** Read-only peers may set presence (otherwise their awareness is ignored). */
  readOnlyPresence: boolean
}

/**
 * 16 ids: a stock provider claims one (its own); with several tabs of the same doc in one
 * browser, each tab relays the others' states over BroadcastChannel and its connection may end
 * up holding them, so a handful more is legitimate. 64 KiB: one state of the largest size
 * (`maxAwarenessStateBytes`), or 16 of 4 KiB, where a real cursor + user state is 0.2–2 KB;
 * not more, because applying a connection's presence costs about 15 ms per 100 KB under load
 * (JSON checked, parsed and re-encoded for the broadcast), and six attackers' messages arrive
 * in one tick (test/attacks/presence-limits.test.ts). 4 MiB per doc: 64 full connections, about 5,000
 * editors (`maxConnectionsPerDoc`) with a typical state, and a quarter of what a socket may
 * buffer (`maxBufferedBytes`, 16 MiB), so a joiner sent the whole presence is never closed as
 * too slow. Not more: every joiner is sent it (encoded once per change) and echoes it back.
 */
export const defaultPresenceLimits: PresenceLimits = {
  maxPresenceIdsPerConnection: 16,
  maxPresenceBytesPerConnection: 64 * 1024,
  maxPresenceBytesPerDoc: 4 * 1024 * 1024,
  readOnlyPresence: false
}

/** The limits in `options`, defaults where unset. */
export function presenceLimits (options: Partial<PresenceLimits>): PresenceLimits {
  const out = { ...defaultPresenceLimits }
  for (const key of Object.keys(out) as Array<keyof PresenceLimits>) {
    if (options[key] !== undefined) (out as Record<string, unknown>)[key] = options[key]
  }
  return out
}

/** What became of an awareness message. */
export type PresenceOutcome =
  /** Applied, except entries for `refused` ids, which another peer owns. */
  | { kind: 'applied', refused: number[] }
  /** A read-only peer's presence, ignored (`readOnlyPresence` is off). */
  | { kind: 'read-only' }
  /** The peer would pass its own caps: abusive, nothing applied (4413 / 413). */
  | { kind: 'too-large', message: string }
  /** The doc's presence budget is full: nothing applied, the peer stays (its state is taken later, once there is room). */
  | { kind: 'doc-full', message: string }

export type PresenceRefusal = Exclude<PresenceOutcome, { kind: 'applied' }>

interface Holding {
  /** Client id → size of its current state, in bytes. */
  readonly ids: Map<number, number>
  bytes: number
}

export class PresenceLedger {
  private readonly owners = new Map<number, DocPeer>()
  private readonly holdings = new Map<DocPeer, Holding>()
  /** Bytes of state the doc holds, all peers together. */
  bytes = 0

  constructor (readonly limits: PresenceLimits) {}

  /** Whether `peer` may set presence at all. */
  allows (peer: DocPeer): boolean { return peer.access === 'write' || this.limits.readOnlyPresence }

  ownerOf (id: number): DocPeer | undefined { return this.owners.get(id) }

  /** Ids `peer` holds. */
  idsOf (peer: DocPeer): number[] { return [...(this.holdings.get(peer)?.ids.keys() ?? [])] }

  /**
   * Judges `entries` (one per id, each new and either unowned or owned by `peer`) against the
   * caps as if applied; null when they may be. Removals ("null") free what they held.
   */
  judge (peer: DocPeer, entries: Iterable<DecodedAwarenessEntry>): PresenceRefusal | null {
    const held = this.holdings.get(peer)
    let ids = held?.ids.size ?? 0
    let delta = 0
    for (const e of entries) {
      const before = held?.ids.get(e.clientID)
      const after = e.isNull ? undefined : e.size
      if (before === undefined && after !== undefined) ids++
      if (before !== undefined && after === undefined) ids--
      delta += (after ?? 0) - (before ?? 0)
    }
    const l = this.limits
    // Another node's presence in this doc (cluster/presence-relay.ts): its own connections passed
    // their caps there; only the doc's budget applies here.
    if (peer.relay === true) return delta > 0 && this.bytes + delta > l.maxPresenceBytesPerDoc ? { kind: 'doc-full', message: `the doc's presence is full (${l.maxPresenceBytesPerDoc} bytes)` } : null
    if (ids > l.maxPresenceIdsPerConnection) {
      return { kind: 'too-large', message: `a connection may hold ${l.maxPresenceIdsPerConnection} awareness client ids; this one asked for ${ids}` }
    }
    const bytes = (held?.bytes ?? 0) + delta
    if (bytes > l.maxPresenceBytesPerConnection) {
      return { kind: 'too-large', message: `a connection may hold ${l.maxPresenceBytesPerConnection} bytes of awareness state; this one asked for ${bytes}` }
    }
    // Only growth is refused: a full doc must still let peers shrink or leave.
    if (delta > 0 && this.bytes + delta > l.maxPresenceBytesPerDoc) {
      return { kind: 'doc-full', message: `the doc's presence is full (${l.maxPresenceBytesPerDoc} bytes)` }
    }
    return null
  }

  /** Records that `peer` holds `id` with a state of `length` bytes (before it is applied). */
  hold (peer: DocPeer, id: number, length: number): void {
    let held = this.holdings.get(peer)
    if (held === undefined) {
      held = { ids: new Map(), bytes: 0 }
      this.holdings.set(peer, held)
    }
    const before = held.ids.get(id) ?? 0
    held.ids.set(id, length)
    held.bytes += length - before
    this.bytes += length - before
    this.owners.set(id, peer)
  }

  /**
   * The doc no longer holds `id`'s state (its owner removed it, it timed out, its peer left):
   * the id is nobody's. A late echo of its last state is stale (the doc keeps its clock for
   * `DEPARTED_MEMORY_MS`), so it cannot make the echoer its owner; a newer state, from whoever
   * sends it, claims it afresh.
   */
  release (id: number): void {
    const peer = this.owners.get(id)
    if (peer === undefined) return
    this.owners.delete(id)
    const held = this.holdings.get(peer)!
    const length = held.ids.get(id)!
    held.ids.delete(id)
    held.bytes -= length
    this.bytes -= length
    if (held.ids.size === 0) this.holdings.delete(peer)
  }

  clear (): void {
    this.owners.clear()
    this.holdings.clear()
    this.bytes = 0
  }
}

/**
 * How long the doc remembers the clock of a client id whose state went. y-protocols keeps it
 * forever (the doc's `meta`), so a late echo of the last state is known as stale; but an id a
 * minute gone cannot be echoed any more: every client drops a remote state 30 s after its last
 * renewal (y-protocols' outdatedTimeout). Without forgetting, an attacker cycling fresh ids
 * (claim 16, remove them, claim 16 more) grew the doc's memory by ~800 ids a second.
 */
export const DEPARTED_MEMORY_MS = 60_000

/** Client ids whose state went, oldest first (see `DEPARTED_MEMORY_MS`). */
export class Departures {
  private ids: number[] = []
  private times: number[] = []
  private head = 0

  add (id: number, now: number): void {
    this.ids.push(id)
    this.times.push(now)
  }

  /** Takes the ids that went before `before`, oldest first. */
  takeBefore (before: number): number[] {
    const start = this.head
    while (this.head < this.times.length && this.times[this.head]! < before) this.head++
    const due = this.ids.slice(start, this.head)
    // Drop the taken prefix once it is most of the arrays (amortised O(1) per id).
    if (this.head > 1024 && this.head * 2 > this.ids.length) {
      this.ids = this.ids.slice(this.head)
      this.times = this.times.slice(this.head)
      this.head = 0
    }
    return due
  }

  clear (): void {
    this.ids = []
    this.times = []
    this.head = 0
  }
}
