/**
 * An editor's session on a doc: access, the awareness ids it introduced, what it may write.
 * It speaks the y-websocket message set; the pipe underneath (WebSocket, SSE + POST, long poll)
 * only moves the encoded messages. The doc sees a `DocPeer` and never knows which pipe it is.
 */
import * as Y from 'yjs'
import { CloseCode, CloseReason } from '../shared/close-codes.js'
import { decodeAwarenessUpdate } from '../shared/awareness.js'
import { encodeAwarenessMessage, encodePermissionDenied, encodeSyncStep1, encodeSyncStep2, ProtocolError, type Message } from '../shared/protocol.js'
import type { AwarenessBroadcast, DocPeer, UpdateBroadcast, Access } from './docs/broadcast.js'
import type { SharedDoc } from './docs/shared-doc.js'
import { StorageError } from './docs/shared-doc.js'
import { isEmptyUpdate, validateUpdate } from './docs/validate.js'
import { dependsOnMissing, encodeDiff, MAX_PENDING_BYTES, pendingBytes, recordWritten } from './docs/dependencies.js'
import type { Logger } from './logger.js'

/** The transport side of a session: how to send a message and how to end it. */
export interface Pipe {
  send (message: Uint8Array): void
  close (code: number, reason: string): void
}

export interface SessionLimits {
  maxUpdateBytes: number
  maxAwarenessStateBytes: number
}

export class Session implements DocPeer {
  /** WebSocket clients hear their own awareness renewals: see `DocPeer.echoAwareness`. */
  readonly echoAwareness = true
  private deniedSent = false
  /** Clock ends per client id of what this peer submitted (see docs/dependencies.ts). */
  private readonly written = new Map<number, number>()
  private closed = false

  constructor (
    readonly doc: SharedDoc,
    private readonly pipe: Pipe,
    readonly access: Access,
    private readonly limits: SessionLimits,
    private readonly logger: Logger,
    readonly user?: string
  ) {}

  /** Joins the doc: the server's step1, then everyone's awareness (y-websocket order). */
  start (): void {
    this.doc.addPeer(this)
    this.pipe.send(encodeSyncStep1(Y.encodeStateVector(this.doc.ydoc)))
    const awareness = this.doc.encodeAllAwareness()
    if (awareness != null) this.pipe.send(encodeAwarenessMessage(awareness))
  }

  /**
   * Handles one decoded message. Throws `ProtocolError` on invalid content; the transport
   * then ends the session with 4400. Nothing invalid ever reaches the doc.
   */
  handle (message: Message): void {
    switch (message.type) {
      case 'sync-step1': {
        let diff: Uint8Array
        try {
          diff = encodeDiff(this.doc.ydoc, message.stateVector)
        } catch {
          throw new ProtocolError('invalid state vector')
        }
        this.pipe.send(encodeSyncStep2(diff))
        return
      }
      case 'sync-step2':
      case 'sync-update':
        // A storage failure has already closed this session with 4500; nothing more to do here.
        this.write(message.update).catch(() => {})
        return
      case 'awareness': {
        const entries = decodeAwarenessUpdate(message.update, { maxEntries: 64, maxStateLength: this.limits.maxAwarenessStateBytes })
        const refused = this.doc.applyAwareness(entries, this)
        if (refused.length > 0) this.logger.warn({ doc: this.doc.name, user: this.user, refused }, 'refused awareness for client ids owned by another peer')
        return
      }
      case 'query-awareness': {
        const all = this.doc.encodeAllAwareness()
        if (all != null) this.pipe.send(encodeAwarenessMessage(all))
        return
      }
      case 'auth-denied':
        return // clients have nothing to tell the server here; ignore
    }
  }

  /** Validates and submits an update; read-only sessions are told once and never applied. */
  write (update: Uint8Array): Promise<void> {
    if (this.access !== 'write') {
      // A stock provider answers the server's step1 with an empty step2 on connect; that is not
      // an edit attempt, so it must not earn a "permission denied" (the provider logs those).
      if (isEmptyUpdate(update)) return Promise.resolve()
      if (!this.deniedSent) {
        this.deniedSent = true
        this.pipe.send(encodePermissionDenied('read-only access: updates are not accepted'))
      }
      return Promise.resolve()
    }
    const decoded = validateUpdate(update, { maxUpdateBytes: this.limits.maxUpdateBytes })
    if (pendingBytes(this.doc.ydoc) + update.byteLength > MAX_PENDING_BYTES && dependsOnMissing(decoded, this.doc.ydoc, this.written)) {
      throw new ProtocolError('update depends on structs the server does not have, and too many such updates are pending')
    }
    recordWritten(decoded, this.written)
    return this.doc.submit(update, this).catch((err: Error) => {
      if (err instanceof StorageError) this.close(CloseCode.storageFailed, CloseReason[CloseCode.storageFailed]!)
      throw err
    })
  }

  deliverUpdate (b: UpdateBroadcast): void { this.pipe.send(b.wsMessage) }
  deliverAwareness (b: AwarenessBroadcast): void { this.pipe.send(b.wsMessage) }

  close (code: number, reason: string): void {
    if (this.closed) return
    this.closed = true
    this.pipe.close(code, reason)
  }

  /** Leaves the doc (its awareness states go with it). Idempotent. */
  detach (): void {
    this.closed = true
    this.doc.removePeer(this)
  }
}
