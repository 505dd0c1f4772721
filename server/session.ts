/**
 * An editor's session on a doc, whatever pipe it came by: its access, the awareness ids it
 * introduced, what it may write. The rules live here once — access and deny-once, validation and
 * the pending bound (docs/write-gate.ts), client-id conflicts, awareness ownership — and every
 * pipe calls them: a WebSocket dispatches the y-websocket messages it reads (`handle`), an HTTP
 * editor's POSTs call `write` and `presence` directly (transports/http-session.ts).
 *
 * The session is the origin of everything it writes, and the doc remembers that origin with each
 * record (docs/history.ts) and broadcast: "skip what came from me" is the one echo rule of every
 * pipe (the doc's fan-out, an editor's SSE stream, its long polls).
 *
 * The doc sees a `DocPeer` and never knows which pipe is underneath.
 */
import * as Y from 'yjs'
import { CloseCode, CloseReason } from '../shared/close-codes.js'
import { decodeAwarenessEntries } from '../shared/awareness.js'
import { WeftError } from '../shared/errors.js'
import { encodeAwarenessMessage, encodePermissionDenied, encodeSyncStep1, encodeSyncStep2, type Message } from '../shared/protocol.js'
import type { AwarenessBroadcast, DocPeer, UpdateBroadcast, Access } from './docs/broadcast.js'
import type { SharedDoc } from './docs/shared-doc.js'
import { isEmptyUpdate, validateStateVector } from './docs/validate.js'
import { encodeDiff } from './docs/dependencies.js'
import { behindProbe, ClientIdConflictError, probeStateVector } from './docs/client-ids.js'
import { submitChecked } from './docs/write-gate.js'
import type { Logger } from './logger.js'
import type { Metrics } from './metrics.js'
import type { HookTransport, Hooks } from './hooks.js'

/** The transport side of a session: how to send a message and how to end it. */
export interface Pipe {
  /**
   * A y-websocket message for the peer. A pipe that delivers by cursor (an HTTP editor reads the
   * doc's history through its poll or SSE stream) drops them.
   */
  send (message: Uint8Array): void
  /** Ends the pipe with `code`; `detail` (why, for the log line the pipe writes) is never sent. */
  close (code: number, reason: string, detail?: string): void
}

/** A pipe that carries nothing: an HTTP editor's, or a one-shot POST's. */
export const cursorPipe = (close: Pipe['close'] = () => {}): Pipe => ({ send () {}, close })

export interface SessionLimits {
  maxUpdateBytes: number
  maxAwarenessStateBytes: number
}

export interface SessionContext {
  limits: SessionLimits
  logger: Logger
  metrics?: Metrics
  /** The embedder's hooks (server/hooks.ts): connect, disconnect, beforeUpdate. */
  hooks?: Hooks
}

export class Session implements DocPeer {
  /** WebSocket clients hear their own awareness renewals: see `DocPeer.echoAwareness`. */
  readonly echoAwareness = true
  private deniedSent = false
  private joined = false

  constructor (
    readonly doc: SharedDoc,
    private readonly pipe: Pipe,
    /** An HTTP editor's access follows its latest request's grant. */
    public access: Access,
    private readonly ctx: SessionContext,
    readonly user?: string,
    /** The pipe's kind, for hooks and logs. */
    readonly transport: HookTransport = 'websocket'
  ) {}

  /** Joins the doc's peers: it hears the doc's changes and may hold awareness ids. */
  join (): void {
    this.doc.addPeer(this)
    this.joined = true
    this.ctx.hooks?.connected({ doc: this.doc.name, user: this.user, access: this.access, transport: this.transport })
  }

  /**
   * The y-websocket greeting: the server's step1, then everyone's awareness. A writer's step1 is
   * one clock short per client, so its answer shows whether it is a second doc under a known
   * client id (docs/client-ids.ts); a read-only peer's answer is never applied anyway.
   */
  greet (): void {
    const ydoc = this.doc.ydoc
    this.pipe.send(encodeSyncStep1(this.access === 'write' ? probeStateVector(ydoc) : Y.encodeStateVector(ydoc)))
    const awareness = this.doc.encodeAllAwareness()
    if (awareness != null) this.pipe.send(encodeAwarenessMessage(awareness))
  }

  /**
   * Handles one decoded y-websocket message. Throws `ProtocolError` on invalid content: the pipe
   * then ends the session with 4400. A client id conflict (4409) or too much presence (4413)
   * ends the session here, through its pipe. Nothing refused ever reaches the doc.
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
          // A conflict has closed the session (4409) in `write`.
          if (!(err instanceof ClientIdConflictError)) throw err
        }
        return
      case 'awareness':
        try {
          // Ids another peer owns are refused (logged in `presence`); the stock provider has no
          // message for that, and its own state goes on.
          this.presence(message.update)
        } catch (err) {
          if (!(err instanceof WeftError) || err.refusal !== 'presenceTooLarge') throw err
          this.close(err.closeCode, CloseReason[err.closeCode]!, err.message)
        }
        return
      case 'query-awareness': {
        const all = this.doc.encodeAllAwareness()
        if (all != null) this.pipe.send(encodeAwarenessMessage(all))
        return
      }
      case 'auth-denied':
        return // clients have nothing to tell the server here; ignore
    }
  }

  /**
   * Validates and submits an update; resolves once it is stored and broadcast. Read-only
   * sessions are told once and never applied. Throws synchronously (nothing submitted) on an
   * invalid update, too many pending structs (`ProtocolError`) or a client id conflict
   * (`ClientIdConflictError`, which also ends the session: its doc has diverged for good);
   * rejects with `StorageError` when storing failed (the session is closed with 4500).
   */
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
    // The embedder's rules first: a refusal (thrown) leaves the doc as it was.
    if (this.ctx.hooks?.any === true && !isEmptyUpdate(update)) this.ctx.hooks.beforeUpdate({ doc: this.doc.name, user: this.user, transport: this.transport, update })
    let submitted: Promise<void>
    try {
      submitted = submitChecked(this.doc, update, this, { maxUpdateBytes: this.ctx.limits.maxUpdateBytes })
    } catch (err) {
      if (err instanceof ClientIdConflictError) {
        this.ctx.metrics?.inc('client_id_conflicts_total')
        this.close(CloseCode.clientIdConflict, CloseReason[CloseCode.clientIdConflict]!, `an update for client ${err.client} at clock ${err.clock} names different content than the server holds`)
      }
      throw err
    }
    return submitted.catch((err: Error) => {
      if (err instanceof WeftError && err.refusal === 'storageFailed') this.close(CloseCode.storageFailed, CloseReason[CloseCode.storageFailed]!)
      throw err
    })
  }

  /**
   * Applies an awareness update. Returns the client ids refused because another peer owns them
   * (logged; the pipe decides whether that is an error). Throws `ProtocolError` on a malformed
   * update and a `presenceTooLarge` WeftError when it claims more ids or bytes than one editor
   * needs (nothing of it applied).
   */
  presence (update: Uint8Array): number[] {
    const entries = decodeAwarenessEntries(update, { maxEntries: this.doc.maxAwarenessEntries, maxStateLength: this.ctx.limits.maxAwarenessStateBytes })
    const outcome = this.doc.applyAwareness(entries, this)
    const log = this.ctx.logger
    switch (outcome.kind) {
      case 'applied':
        if (outcome.refused.length > 0) log.warn({ doc: this.doc.name, user: this.user, refused: outcome.refused }, 'refused awareness for client ids owned by another peer')
        return outcome.refused
      case 'read-only':
        // The stock provider sends its own state whatever its access: not worth a warning.
        log.debug({ doc: this.doc.name, user: this.user }, 'ignored the awareness of a read-only session')
        return []
      case 'doc-full':
        // Not this editor's fault: its edits go on, its presence waits for room (its next
        // awareness renewal, within 15 s, is taken once there is). Closing it would let
        // whoever filled the doc's presence keep every newcomer in a reconnect loop.
        log.info({ doc: this.doc.name, user: this.user, err: outcome.message }, 'presence not shown: the doc\'s presence is full')
        return []
      case 'too-large':
        throw new WeftError('presenceTooLarge', outcome.message)
    }
  }

  deliverUpdate (b: UpdateBroadcast): void { this.pipe.send(b.wsMessage) }
  deliverAwareness (b: AwarenessBroadcast): void { this.pipe.send(b.wsMessage) }

  /**
   * Ends the session through its pipe. Pipes make it idempotent (a socket already closing
   * ignores it; an ended HTTP session stays ended), and not latched here: an HTTP editor's pipe
   * ignores a storage failure (its next POST is answered 503), so a later conflict must still end it.
   */
  close (code: number, reason: string, detail?: string): void {
    this.pipe.close(code, reason, detail)
  }

  /** Leaves the doc (its awareness states go with it). Idempotent. */
  detach (): void {
    this.doc.removePeer(this)
    if (!this.joined) return
    this.joined = false
    this.ctx.hooks?.disconnected({ doc: this.doc.name, user: this.user, access: this.access, transport: this.transport })
  }
}
