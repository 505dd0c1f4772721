/**
 * A doc's presence (awareness): who claimed which client ids and how many bytes (the caps of
 * presence.ts), applying checked awareness updates, the coalescing window (presence-window.ts),
 * encoding for joiners and broadcasts, and removal of a peer's states when it leaves. SharedDoc
 * holds one and hands it its peers; updates never pass through here.
 */
import type * as Y from 'yjs'
import * as awarenessProtocol from 'y-protocols/awareness'
import { parseAwarenessStates, type DecodedAwarenessEntry } from '../../shared/awareness.js'
import { AwarenessBroadcast, type AwarenessChanges, type DocPeer } from './broadcast.js'
import { DEPARTED_MEMORY_MS, Departures, PresenceLedger, type PresenceLimits, type PresenceOutcome, type PresenceRefusal } from './presence.js'
import { PresenceWindow, windowTicks, type PresenceBatch } from './presence-window.js'
import { AwarenessStates } from './awareness-states.js'
import { unwatchTimeouts, watchTimeouts } from './presence-timeouts.js'

export interface DocPresenceOptions {
  limits: PresenceLimits
  /** The coalescing window (ms; 0: each change at once). */
  windowMs: number
  /** A peer's awareness was refused or ignored (metrics). */
  onRefused: (outcome: PresenceRefusal) => void
  /** One window's changes went out (embedding events). */
  onFlush: (b: AwarenessBroadcast) => void
}

export class DocPresence {
  readonly awareness: awarenessProtocol.Awareness
  /** Which peer claimed each awareness client id (anti-spoofing) and the bytes each holds. */
  private readonly ledger: PresenceLedger
  private readonly departures = new Departures()
  /** Applies checked awareness and encodes it, each state parsed and stringified once. */
  private readonly awarenessStates: AwarenessStates
  /** Awareness changes waiting for the end of the coalescing window. */
  private readonly presenceWindow: PresenceWindow
  /** When each peer last heard a flush, for the keep-alive echo (`ECHO_AFTER_MS`). */
  private readonly hearing = new Hearing()
  /** `encodeAll()` until the next awareness change; undefined: not encoded yet. */
  private allAwareness: Uint8Array | null | undefined

  constructor (ydoc: Y.Doc, private readonly docName: string, private readonly peers: ReadonlySet<DocPeer>, private readonly opts: DocPresenceOptions) {
    this.awareness = new awarenessProtocol.Awareness(ydoc)
    this.awarenessStates = new AwarenessStates(this.awareness)
    this.ledger = new PresenceLedger(opts.limits)
    this.presenceWindow = new PresenceWindow(opts.windowMs, this.broadcastPresence, () => this.windowTicks)
    // The server has no presence of its own.
    this.awareness.setLocalState(null)
    // Outdated states are removed by one sweep for all docs, not by a timer of this doc's own.
    watchTimeouts(this.awareness)
    this.awareness.on('update', this.onAwarenessUpdate)
  }

  /**
   * Applies an awareness update from `peer`: entries for client ids another peer claimed are
   * refused (listed in the outcome), the rest is judged against the presence caps as a whole
   * and applied only if it fits (server/docs/presence.ts). Read-only peers set no presence
   * unless `readOnlyPresence`. `entries` come from `decodeAwarenessEntries`: the states of the
   * entries kept are checked here (`ProtocolError` if one is not valid JSON; nothing applied).
   */
  apply (entries: DecodedAwarenessEntry[], peer: DocPeer): PresenceOutcome {
    if (!this.ledger.allows(peer)) return this.refuse({ kind: 'read-only' })
    // One entry per id, the newest: what y-protocols ends up with, so the caps judge exactly that.
    const fresh = new Map<number, DecodedAwarenessEntry>()
    const refused: number[] = []
    for (const e of entries) {
      // Stale entries (not newer than what the server has; y-protocols' own rule) change nothing:
      // skip them before any ownership check. The stock provider echoes every awareness change
      // it hears back to the server, so in a room of n such clients each change comes back n-1
      // times: those echoes are neither spoofing attempts (no warning) nor claims. A late echo
      // of a departed peer's last state would otherwise make the echoer the owner of its id,
      // and the peer, reconnecting with the same client id, would be refused.
      const meta = this.awareness.meta.get(e.clientID)
      if (meta !== undefined && !(meta.clock < e.clock || (meta.clock === e.clock && e.isNull && this.awareness.getStates().has(e.clientID)))) continue
      const owner = this.ledger.ownerOf(e.clientID)
      if (owner !== undefined && owner !== peer) { refused.push(e.clientID); continue }
      if (owner === undefined && e.isNull) continue // removing a state nobody holds: nothing to do
      const seen = fresh.get(e.clientID)
      if (seen === undefined || seen.clock <= e.clock) fresh.set(e.clientID, e)
    }
    const verdict = this.ledger.judge(peer, fresh.values())
    if (verdict != null) return this.refuse(verdict)
    const kept = [...fresh.values()]
    const states = parseAwarenessStates(kept)
    if (kept.length > 0) {
      // Claimed before applying: the update event below releases whatever the entries remove.
      for (const e of kept) if (!e.isNull) this.ledger.hold(peer, e.clientID, e.size)
      this.awarenessStates.apply(kept, states, peer)
    }
    return { kind: 'applied', refused }
  }

  private refuse (outcome: PresenceRefusal): PresenceOutcome {
    this.opts.onRefused(outcome)
    return outcome
  }

  /**
   * Most entries one awareness message may carry. The stock provider echoes every state it
   * hears, in one message: a joiner echoes everyone present at once, so a fixed bound (it was
   * 64) closed every joiner of a room of more than 64 with 4400. An echo names only ids the doc
   * knows (`meta` keeps departed ones too); a peer may add at most its cap of new ones.
   */
  get maxEntries (): number { return this.awareness.meta.size + this.ledger.limits.maxPresenceIdsPerConnection }

  /** Bytes of awareness state the doc holds (what a joiner is sent, about). */
  get bytes (): number { return this.ledger.bytes }

  /** The full awareness state as one update, or null when nobody is present. */
  encodeAll (): Uint8Array | null {
    // Kept until presence changes: every joiner is sent it, and encoding re-serialises every
    // state (about 30 ms for 0.7 MB of presence under load): a reconnect storm would pay it n times.
    if (this.allAwareness === undefined) {
      const ids = [...this.awareness.getStates().keys()]
      this.allAwareness = ids.length > 0 ? this.awarenessStates.encode(ids) : null
    }
    return this.allAwareness
  }

  /** The awareness update for `ids` (known ones: in `awareness.meta`), encoded as for a broadcast. */
  encode (ids: readonly number[]): Uint8Array { return this.awarenessStates.encode(ids) }

  /** Drops the clocks of ids gone for `DEPARTED_MEMORY_MS` and not updated since. */
  private forgetDeparted (now: number): void {
    const before = now - DEPARTED_MEMORY_MS
    for (const id of this.departures.takeBefore(before)) {
      // An id claimed again (and perhaps gone again) since is newer news: its meta stays, and
      // its later departure is queued behind this one.
      const meta = this.awareness.meta.get(id)
      if (meta !== undefined && meta.lastUpdated < before && id !== this.awareness.clientID && !this.awareness.getStates().has(id)) this.awareness.meta.delete(id)
    }
  }

  private readonly onAwarenessUpdate = (changes: AwarenessChanges, origin: unknown): void => {
    this.allAwareness = undefined
    // Every way a state goes (its owner's "null", the 30 s timeout, its peer leaving) frees its id.
    const now = Date.now()
    for (const id of changes.removed) {
      this.ledger.release(id)
      this.awarenessStates.forget(id)
      this.departures.add(id, now)
    }
    this.forgetDeparted(now)
    this.presenceWindow.add(changes, origin)
  }

  /**
   * Sends one window's changes: encoded once, from the doc's states as they are now (each
   * client's newest), the same bytes to every peer but those that made some of the changes.
   */
  private readonly broadcastPresence = (batch: PresenceBatch): void => {
    const meta = this.awareness.meta
    const changed = [...batch.changes.added, ...batch.changes.updated, ...batch.changes.removed].filter(id => meta.has(id))
    if (changed.length === 0) return
    const b = new AwarenessBroadcast(this.docName, batch.changes, this.awarenessStates.encode(changed), batch.origins, batch.folded)
    const now = performance.now()
    const only = b.origin
    let echoed = false
    for (const peer of this.peers) {
      let mine: AwarenessBroadcast | null
      if (peer.echoAwareness !== true) {
        mine = b.without(peer)
      } else if (only !== peer) {
        // Its own states ride along in the shared message (the provider ignores them): a few
        // bytes, where a variant without them is an encode and a copy per changed peer, k² per
        // flush (a room of 200 cost 1.65× more with variants).
        mine = b
      } else if (this.hearing.lastHeard(peer) <= now - ECHO_AFTER_MS) {
        mine = b // nothing but its own changes: sent only as the keep-alive
        echoed = true
      } else {
        mine = null
      }
      if (mine !== null) peer.deliverAwareness(mine)
    }
    this.hearing.flushed(only, now, echoed)
    this.opts.onFlush(b)
  }

  /**
   * Ticks of the doc's next coalescing window: one per `PEERS_PER_TICK` peers presence reaches
   * (a flush costs one send each), counted when the window opens; `hearsPresence` false ones
   * cost nothing and do not count.
   */
  get windowTicks (): number {
    let hearing = 0
    for (const peer of this.peers) if (peer.hearsPresence !== false) hearing++
    return windowTicks(hearing)
  }

  /** Awareness changes waiting for the end of the coalescing window (tests: nothing left behind). */
  get pending (): number { return this.presenceWindow.size }
  /** Whether the coalescing window's timer is set. */
  get windowOpen (): boolean { return this.presenceWindow.open }

  /**
   * Sends the changes waiting in the coalescing window now: a peer joins (it is about to be sent
   * the whole presence, so pending changes go to the others first), or the doc unloads.
   */
  sendPending (): void {
    this.presenceWindow.sendPending()
  }

  /** Removes the awareness states `peer` introduced (it left). */
  leave (peer: DocPeer): void {
    const owned = this.ledger.idsOf(peer)
    if (owned.length > 0) awarenessProtocol.removeAwarenessStates(this.awareness, owned, 'peer-closed')
    // Held ids always have a state (removal releases them), so none is left; this is a guard.
    for (const id of owned) this.ledger.release(id)
  }

  destroy (): void {
    this.awareness.off('update', this.onAwarenessUpdate)
    unwatchTimeouts(this.awareness)
    this.presenceWindow.close()
    this.awareness.destroy()
    this.ledger.clear()
    this.departures.clear()
    this.awarenessStates.clear()
  }
}

/**
 * A flush of nothing but a peer's own changes goes back to it only when it has heard no flush for
 * this long (in a flush with others' changes its own ride along: cheaper than a copy without).
 * The stock y-websocket provider reconnects after 30 s without a message (messageReconnectTimeout)
 * and renews its own state every 15 s: alone in a doc, the echo of that renewal is the only
 * message it gets. Anywhere else such a flush is a wasted frame (the provider ignores its own
 * state): in a room of two, half of all sends (`strace -c`, bench presence). Why 5 s: a peer
 * that last heard something at T renews at most 15 s later (+ up to 3 s of y-protocols' check
 * interval); a renewal under 5 s after T is not echoed, the next one is, by T + 23 s at worst,
 * well inside the 30 s (at 10 s it was T + 28 s, too close on a busy server).
 */
export const ECHO_AFTER_MS = 5_000

/**
 * When each peer last heard a presence flush, in O(1) per doc. A flush reaches every peer but
 * the one that made all its changes, so it is enough to keep the newest flush with several
 * origins (everyone heard it) and the newest two single-origin flushes with different origins.
 */
class Hearing {
  private everyoneAt = -Infinity
  private lastFrom: unknown = undefined
  private lastAt = -Infinity
  private otherAt = -Infinity
  /** When `lastFrom` was last sent its own changes back. */
  private echoAt = -Infinity

  /**
   * A flush went out; `only` is its origin when it had one, else undefined; `echoed`: it was
   * also sent back to `only`.
   */
  flushed (only: unknown, now: number, echoed: boolean): void {
    if (only === undefined) { this.everyoneAt = now; return }
    if (only !== this.lastFrom) {
      this.otherAt = this.lastAt
      this.echoAt = -Infinity
    }
    this.lastFrom = only
    this.lastAt = now
    if (echoed) this.echoAt = now
  }

  /** When `peer` last heard a flush (-Infinity: never). */
  lastHeard (peer: unknown): number {
    return Math.max(this.everyoneAt, peer === this.lastFrom ? Math.max(this.otherAt, this.echoAt) : this.lastAt)
  }
}
