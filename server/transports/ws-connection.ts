/**
 * One WebSocket connection: the pipe under an editor's `Session`. Everything per connection
 * lives in this one object — it is the registry holder, the heartbeat entry and the session's
 * pipe — and its socket listeners are module-level functions shared by every connection
 * (`this` is the socket; `CONNECTION` leads back here). At thousands of idle connections the
 * closures a connection would otherwise carry were a third of its heap (bench "idle").
 */
import type { Duplex } from 'node:stream'
import type { WebSocket, RawData } from 'ws'
import { CloseCode, CloseReason } from '../../shared/close-codes.js'
import { decodeMessage, ProtocolError } from '../../shared/protocol.js'
import type { WeftContext } from '../context.js'
import { TooManyDocsError } from '../docs/registry.js'
import type { Grant } from '../options.js'
import { Session, type Pipe } from '../session.js'
import { TokenBucket } from '../limits/rate.js'

const CONNECTION = Symbol('weft:connection')
type Socket = WebSocket & { [CONNECTION]: WsConnection }

export class WsConnection implements Pipe {
  /** Answered the last ping (or sent anything since). */
  alive = true
  session: Session | null = null
  /** Messages that arrived while the doc loads; null once handled. */
  private queue: RawData[] | null = []
  private closed = false
  private corked = false
  private expiry: NodeJS.Timeout | null = null
  private readonly bucket: TokenBucket

  constructor (
    private readonly ctx: WeftContext,
    private readonly live: Set<WsConnection>,
    readonly ws: WebSocket,
    readonly docName: string,
    readonly grant: Grant
  ) {
    this.bucket = new TokenBucket(ctx.options.maxMessagesPerSecond, ctx.options.messageBurst)
    ;(ws as Socket)[CONNECTION] = this
    live.add(this)
    ws.on('pong', onPong)
    ws.on('error', onError)
    ws.on('message', onMessage)
    ws.on('close', onClose)
    if (grant.expiresAt !== undefined) {
      const ms = grant.expiresAt * 1000 - Date.now()
      this.expiry = setTimeout(expire, Math.max(0, Math.min(ms, 2 ** 31 - 1)), this)
    }
  }

  /** Loads the doc, then joins it and handles what was queued meanwhile. */
  async join (): Promise<void> {
    const { registry, metrics, options } = this.ctx
    let doc
    try {
      doc = await registry.acquire(this.docName, this)
    } catch (err) {
      registry.release(this.docName, this)
      // Too many docs in memory is a limit like the others (4429, counted), not a storage failure.
      if (err instanceof TooManyDocsError) { metrics.inc('limit_refused_total{limit="docs"}'); return this.fail(CloseCode.tooManyRequests, err) }
      return this.fail(CloseCode.storageFailed, err as Error)
    }
    if (this.closed) { registry.release(this.docName, this); return }
    this.session = new Session(doc, this, this.grant.access, { maxUpdateBytes: options.maxMessageBytes, maxAwarenessStateBytes: options.maxAwarenessStateBytes }, options.logger, this.grant.user)
    this.session.start()
    const queued = this.queue!
    this.queue = null
    for (const data of queued) {
      // After a bad queued message the socket is closing: what was queued behind it is not applied.
      if (this.closed || this.ws.readyState !== this.ws.OPEN) break
      this.handle(data, true)
    }
  }

  // ---- Pipe ----------------------------------------------------------------------------

  send (message: Uint8Array): void {
    const ws = this.ws
    if (ws.readyState !== ws.OPEN) return
    if (ws.bufferedAmount > this.ctx.options.maxBufferedBytes) {
      this.ctx.metrics.inc('ws_slow_consumers_total')
      return this.close(CloseCode.tooSlow, CloseReason[CloseCode.tooSlow]!)
    }
    // Frames sent to this socket in one tick leave in one writev: a stored batch of k updates
    // reaches each peer as one syscall, not k. ws corks around each frame itself; our outer
    // cork holds them until the tick ends. (ws has no public cork; `_socket` is its net.Socket.)
    if (!this.corked) {
      this.corked = true
      ;(ws as unknown as { _socket: Duplex })._socket.cork()
      process.nextTick(uncork, this)
    }
    ws.send(message)
  }

  close (code: number, reason: string): void {
    const ws = this.ws
    if (ws.readyState === ws.OPEN || ws.readyState === ws.CONNECTING) ws.close(code, reason)
  }

  // ---- incoming ------------------------------------------------------------------------

  message (data: RawData, isBinary: boolean): void {
    this.alive = true
    // Once closing, what the peer still sent is neither applied nor worth decoding.
    if (this.ws.readyState !== this.ws.OPEN) return
    const { metrics, options, limits } = this.ctx
    metrics.inc('ws_messages_total')
    if (!this.bucket.take()) {
      limits.rateLimited()
      return this.fail(CloseCode.tooManyRequests, new Error('message rate limit exceeded'))
    }
    if (this.session != null) return this.handle(data, isBinary)
    if (!isBinary) return this.fail(CloseCode.malformed, new ProtocolError('text frames are not part of the protocol'))
    if (this.queue!.length >= options.maxQueuedMessages) return this.fail(CloseCode.tooManyRequests, new Error('too many messages while the doc loads'))
    this.queue!.push(data)
  }

  private handle (data: RawData, isBinary: boolean): void {
    if (!isBinary) return this.fail(CloseCode.malformed, new ProtocolError('text frames are not part of the protocol'))
    try {
      this.session!.handle(decodeMessage(toBytes(data)))
    } catch (err) {
      if (err instanceof ProtocolError) return this.fail(CloseCode.malformed, err)
      // A bug triggered by one peer's message must not take the process (and every other
      // peer) down: log it loudly and drop that connection.
      this.ctx.options.logger.error({ doc: this.docName, user: this.grant.user, err }, 'unexpected error handling a message')
      this.ctx.metrics.inc('ws_message_errors_total')
      return this.fail(CloseCode.malformed, err as Error)
    }
  }

  private fail (code: number, err: Error): void {
    this.ctx.metrics.inc(`ws_closed_total{code="${code}"}`)
    this.ctx.options.logger.warn({ doc: this.docName, user: this.grant.user, code, err: err.message }, 'closing connection')
    this.close(code, CloseReason[code] ?? '')
  }

  /** Ends the tick's cork: the frames of this tick leave together. */
  uncork (): void {
    this.corked = false
    ;(this.ws as unknown as { _socket: Duplex })._socket.uncork()
  }

  socketError (err: Error): void {
    this.ctx.options.logger.debug({ doc: this.docName, err: err.message }, 'socket error')
  }

  /** The socket closed: leave the doc, free everything. */
  socketClosed (): void {
    this.closed = true
    this.live.delete(this)
    if (this.expiry != null) clearTimeout(this.expiry)
    this.session?.detach()
    this.ctx.registry.release(this.docName, this)
  }
}

const of = (ws: WebSocket): WsConnection => (ws as Socket)[CONNECTION]
function onPong (this: WebSocket): void { of(this).alive = true }
function onError (this: WebSocket, err: Error): void { of(this).socketError(err) }
function onMessage (this: WebSocket, data: RawData, isBinary: boolean): void { of(this).message(data, isBinary) }
function onClose (this: WebSocket): void { of(this).socketClosed() }
function uncork (c: WsConnection): void { c.uncork() }
function expire (c: WsConnection): void { c.close(CloseCode.unauthorized, 'token expired') }

function toBytes (data: RawData): Uint8Array {
  if (Array.isArray(data)) return Buffer.concat(data)
  if (data instanceof ArrayBuffer) return new Uint8Array(data)
  return data
}
