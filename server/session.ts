/**
 * An editor's session on a doc: access, the awareness ids it introduced, what it may write.
 * It speaks the y-websocket message set; the pipe underneath (WebSocket, SSE + POST, long poll)
 * only moves the encoded messages. The doc sees a `DocPeer` and never knows which pipe it is.
 */
import * as Y from 'yjs'
import { CloseCode, CloseReason } from '../shared/close-codes.js'
import { decodeAwarenessEntries } from '../shared/awareness.js'
import { encodeAwarenessMessage, encodePermissionDenied, encodeSyncStep1, encodeSyncStep2, type Message } from '../shared/protocol.js'
import type { AwarenessBroadcast, DocPeer, UpdateBroadcast, Access } from './docs/broadcast.js'
import type { SharedDoc } from './docs/shared-doc.js'
import { StorageError } from './docs/shared-doc.js'
import { isEmptyUpdate, validateStateVector } from './docs/validate.js'
import { encodeDiff } from './docs/dependencies.js'
import { behindProbe, ClientIdConflictError, probeStateVector } from './docs/client-ids.js'
import { submitChecked } from './docs/write-gate.js'
import type { Logger } from './logger.js'
import type { Metrics } from './metrics.js'

/** The transport side of a session: how to send a message and how to end it. */
export interface Pipe {
  send (message: Uint8Array): void
  /** Ends the pipe with `code`; `detail` (why, for the log line the pipe writes) is never sent. */
  close (code: number, reason: string, detail?: string): void
}

export interface SessionLimits {
  maxUpdateBytes: number
  maxAwarenessStateBytes: number
}

export class Session implements DocPeer {
  /** WebSocket clients hear their own awareness renewals: see `DocPeer.echoAwareness`. */
  readonly echoAwareness = true
  private deniedSent = false
  private closed = false

  constructor (
    readonly doc: SharedDoc,
    private readonly pipe: Pipe,
    readonly access: Access,
    private readonly limits: SessionLimits,
    private readonly logger: Logger,
    readonly user?: string,
    private readonly metrics?: Metrics
  ) {}

  /**
   * Joins the doc: the server's step1, then everyone's awareness (y-websocket order). A writer's
   * step1 is one clock short per client, so its answer shows whether it is a second doc under a
   * known client id (docs/client-ids.ts); a read-only peer's answer is never applied anyway.
   */
  start (): void {
    this.doc.addPeer(this)
    const ydoc = this.doc.ydoc
    this.pipe.send(encodeSyncStep1(this.access === 'write' ? probeStateVector(ydoc) : Y.encodeStateVector(ydoc)))
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
        // Bounded before Yjs decodes it (docs/validate.ts): a huge one stalled the event loop.
        validateStateVector(message.stateVector, this.doc.ydoc)
        // A writer that lacks part of a client's clocks: ask for its last one before filling it in.
        const probe = this.access === 'write' ? behindProbe(message.stateVector, this.doc.ydoc) : null
        if (probe !== null) this.pipe.send(encodeSyncStep1(probe))
        this.pipe.send(encodeSyncStep2(encodeDiff(this.doc.ydoc, message.stateVector)))
        return
      }
      case 'sync-step2':
      case 'sync-update':
        try {
          // A storage failure has already closed this session with 4500; nothing more to do here.
          this.write(message.update).catch(() => {})
        } catch (err) {
          if (!(err instanceof ClientIdConflictError)) throw err
          // Its doc has diverged from everyone's for good: stop it (4409 is permanent) and say why.
          this.metrics?.inc('client_id_conflicts_total')
          this.close(CloseCode.clientIdConflict, CloseReason[CloseCode.clientIdConflict]!, `an update for client ${err.client} at clock ${err.clock} names different content than the server holds`)
        }
        return
      case 'awareness': {
        const entries = decodeAwarenessEntries(message.update, { maxEntries: this.doc.maxAwarenessEntries, maxStateLength: this.limits.maxAwarenessStateBytes })
        const outcome = this.doc.applyAwareness(entries, this)
        switch (outcome.kind) {
          case 'applied':
            if (outcome.refused.length > 0) this.logger.warn({ doc: this.doc.name, user: this.user, refused: outcome.refused }, 'refused awareness for client ids owned by another peer')
            return
          case 'read-only':
            // The stock provider sends its own state whatever its access: not worth a warning.
            this.logger.debug({ doc: this.doc.name, user: this.user }, 'ignored the awareness of a read-only session')
            return
          case 'doc-full':
            // Not this editor's fault: its edits go on, its presence waits for room (its next
            // awareness renewal, within 15 s, is taken once there is). Closing it would let
            // whoever filled the doc's presence keep every newcomer in a reconnect loop.
            this.logger.info({ doc: this.doc.name, user: this.user, err: outcome.message }, 'presence not shown: the doc\'s presence is full')
            return
          case 'too-large':
            this.close(CloseCode.presenceTooLarge, CloseReason[CloseCode.presenceTooLarge]!, outcome.message)
            return
        }
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
    // Throws (nothing submitted) on an invalid update, a client id conflict or too many pending structs.
    return submitChecked(this.doc, update, this, { maxUpdateBytes: this.limits.maxUpdateBytes }).catch((err: Error) => {
      if (err instanceof StorageError) this.close(CloseCode.storageFailed, CloseReason[CloseCode.storageFailed]!)
      throw err
    })
  }

  deliverUpdate (b: UpdateBroadcast): void { this.pipe.send(b.wsMessage) }
  deliverAwareness (b: AwarenessBroadcast): void { this.pipe.send(b.wsMessage) }

  close (code: number, reason: string, detail?: string): void {
    if (this.closed) return
    this.closed = true
    this.pipe.close(code, reason, detail)
  }

  /** Leaves the doc (its awareness states go with it). Idempotent. */
  detach (): void {
    this.closed = true
    this.doc.removePeer(this)
  }
}
