/**
 * What a doc fans out to its peers. Each broadcast is built once; every transport asks it for
 * its own framing through `encoded(key, make)`, so the bytes for, say, a WebSocket frame or an
 * SSE event are produced once per broadcast and the same buffer goes to every peer.
 */
import { filterAwarenessEntries } from '../../shared/awareness.js'
import { encodeAwarenessMessage, encodeSyncUpdate } from '../../shared/protocol.js'

export type Access = 'read' | 'write'

abstract class Encodable {
  private cache: Map<string, unknown> | null = null
  encoded<T> (key: string, make: () => T): T {
    this.cache ??= new Map()
    let value = this.cache.get(key) as T | undefined
    if (value === undefined) {
      value = make()
      this.cache.set(key, value)
    }
    return value
  }
}

export class UpdateBroadcast extends Encodable {
  constructor (
    readonly docName: string,
    /** The change as Yjs computed it on apply (v1 update). */
    readonly update: Uint8Array,
    /** Sequence number of the stored record that produced it (the SSE/poll cursor). */
    readonly seq: number,
    /** The peer it came from (never delivered back to it), or null for server-side changes. */
    readonly origin: unknown
  ) { super() }

  /** The y-websocket `sync update` message. */
  get wsMessage (): Uint8Array { return this.encoded('ws', () => encodeSyncUpdate(this.update)) }
}

export interface AwarenessChanges { added: number[], updated: number[], removed: number[] }

/**
 * An awareness flush: every client that changed within one coalescing window (docs/presence-window.ts),
 * each with its newest state, possibly from several peers. A peer is never sent its own changes
 * back (unless `echoAwareness`): `without(peer)` gives the broadcast minus the clients whose
 * newest change that peer made, built once per such peer; everyone else shares `this`.
 */
export class AwarenessBroadcast extends Encodable {
  /** The peers (and other origins) behind the changes. */
  private readonly from: Set<unknown>
  private variants: Map<unknown, AwarenessBroadcast | null> | null = null

  constructor (
    readonly docName: string,
    readonly changes: AwarenessChanges,
    /** Awareness update covering every changed client (y-protocols encoding). */
    readonly update: Uint8Array,
    /** Client id → origin of its newest change (a peer, or 'timeout', 'peer-closed', …). */
    readonly origins: ReadonlyMap<number, unknown>,
    /** Changes superseded within the window by a newer state of the same client (metrics). */
    readonly folded = 0
  ) {
    super()
    this.from = new Set(origins.values())
  }

  /** The origin when every change has the same one (no coalescing, or one busy peer), else undefined. */
  get origin (): unknown { return this.from.size === 1 ? this.from.values().next().value : undefined }

  /** Changed clients, states included. */
  get size (): number { return this.origins.size }

  get wsMessage (): Uint8Array { return this.encoded('ws', () => encodeAwarenessMessage(this.update)) }

  /** This broadcast without the changes `peer` made; null when they were all its own. */
  without (peer: unknown): AwarenessBroadcast | null {
    if (!this.from.has(peer)) return this
    if (this.from.size === 1) return null
    this.variants ??= new Map()
    let v = this.variants.get(peer)
    if (v === undefined) {
      const keep = (id: number): boolean => this.origins.get(id) !== peer
      const changes = { added: this.changes.added.filter(keep), updated: this.changes.updated.filter(keep), removed: this.changes.removed.filter(keep) }
      // Sliced from the encoded update: the same entries, clocks and state bytes, not re-read from the doc.
      const origins = new Map([...this.origins].filter(([id]) => keep(id)))
      v = new AwarenessBroadcast(this.docName, changes, filterAwarenessEntries(this.update, keep), origins)
      this.variants.set(peer, v)
    }
    return v
  }
}

/**
 * Something attached to a doc: a WebSocket session, an SSE observer, an HTTP session, a
 * server-side handle. The doc never knows which pipe is underneath.
 */
export interface DocPeer {
  readonly access: Access
  /** A stored update, after it was applied. Never called for the peer's own updates. */
  deliverUpdate (b: UpdateBroadcast): void
  /**
   * An awareness flush (several clients' changes, possibly from several peers). Never holds the
   * peer's own changes unless `echoAwareness` (see `AwarenessBroadcast.without`).
   */
  deliverAwareness (b: AwarenessBroadcast): void
  /**
   * The peer's own awareness changes may reach it: inside a flush that has others' changes too
   * (the stock provider ignores its own state, and a copy without it would cost an encode per
   * changed peer), and a flush of nothing but its own changes when it has heard no flush for
   * `ECHO_AFTER_MS` (docs/doc-presence.ts): the stock y-websocket provider reconnects after 30 s
   * without any message, and alone in a doc its own renewal (every 15 s) is all it can hear.
   */
  readonly echoAwareness?: boolean
  /**
   * False for a peer presence never reaches (an SSE stream with `awareness=0`, another node, an
   * embedder's handle): it costs a flush nothing, so it does not lengthen the doc's coalescing
   * window (docs/presence-window.ts, `windowTicks`). Unset: it hears presence.
   */
  readonly hearsPresence?: boolean
  /**
   * Carries the presence of many clients at once: another node's, in a cluster. The
   * per-connection presence caps do not apply to it (its clients met them on their node).
   */
  readonly relay?: boolean
  /** Whose peer this is (its token's `sub`), when known: `weft.disconnect({ user })` matches it. */
  readonly user?: string
  /** The doc ends the peer: storage failure (4500), shutdown (1012), unload. */
  close (code: number, reason: string): void
}
