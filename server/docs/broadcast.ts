/**
 * What a doc fans out to its peers. Each broadcast is built once; every transport asks it for
 * its own framing through `encoded(key, make)`, so the bytes for, say, a WebSocket frame or an
 * SSE event are produced once per broadcast and the same buffer goes to every peer.
 */
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

export class AwarenessBroadcast extends Encodable {
  constructor (
    readonly docName: string,
    readonly changes: AwarenessChanges,
    /** Awareness update covering every changed client (y-protocols encoding). */
    readonly update: Uint8Array,
    readonly origin: unknown
  ) { super() }

  get wsMessage (): Uint8Array { return this.encoded('ws', () => encodeAwarenessMessage(this.update)) }
}

/**
 * Something attached to a doc: a WebSocket session, an SSE observer, an HTTP session, a
 * server-side handle. The doc never knows which pipe is underneath.
 */
export interface DocPeer {
  readonly access: Access
  /** A stored update, after it was applied. Never called for the peer's own updates. */
  deliverUpdate (b: UpdateBroadcast): void
  /** An awareness change. Not called for the peer's own changes unless `echoAwareness`. */
  deliverAwareness (b: AwarenessBroadcast): void
  /**
   * Also deliver the peer's own awareness changes back to it. The stock y-websocket provider
   * reconnects after 30 s without any message; alone in a doc, its own awareness renewal (every
   * 15 s) is the only thing that can reach it, as the reference server echoes it.
   */
  readonly echoAwareness?: boolean
  /** The doc ends the peer: storage failure (4500), shutdown (1012), unload. */
  close (code: number, reason: string): void
}
