/**
 * One WebSocket connection: the pipe under an editor's `Session`. Everything per connection
 * lives in this one object — it is the registry holder, the heartbeat entry, the session's
 * pipe and its socket's owner (ws-socket.ts: the socket calls it, no listeners) — and it keeps
 * of its grant only the access and user. At thousands of idle connections the closures a
 * connection would otherwise carry were a third of its heap (bench "idle").
 *
 * Over its message rate a connection is slowed down, not closed: the stock y-websocket 3.x
 * provider treats every close in 4400–4499 as permanent and one in 4500–4599 as "try again",
 * and a script that types fast is not an attacker. So when its token bucket is empty we stop
 * reading its socket (`ws.pause()`: TCP pushes back on the sender) and hold what was already
 * read, then handle it as tokens come back and read again once it is handled. What one read
 * delivered is all a paused connection can hold, so the hold is bounded by the socket's read
 * size (64 KiB) plus one message, whatever the sender does. Only a sender that stays over
 * budget for `maxThrottledMs` without a break (its bucket never refills) is closed, with 4529
 * (transient): a stock provider comes back after its backoff and resyncs what it has in one
 * message.
 */
import type { Duplex } from 'node:stream'
import type { RawData } from 'ws'
import { CloseCode, CloseReason } from '../../shared/close-codes.js'
import { decodeMessage, ProtocolError } from '../../shared/protocol.js'
import { WeftError } from '../../shared/errors.js'
import type { WeftContext } from '../context.js'
import { TooManyDocsError } from '../docs/registry.js'
import type { Grant } from '../auth/grant.js'
import type { Access } from '../docs/broadcast.js'
import { onExpiry } from '../auth/expiry.js'
import { Session, type Pipe } from '../session.js'
import { TokenBucket } from '../limits/rate.js'
import type { Slot } from '../limits/connections.js'
import type { SocketOwner, WeftSocket } from './ws-socket.js'

export class WsConnection implements Pipe, SocketOwner {
  /**
   * The socket's `bytesRead` at the last heartbeat (-1: none yet). A pong, like any message,
   * moves it: this replaces a `pong` listener, which cost every connection a larger `_events`.
   */
  private readAtBeat = -1
  session: Session | null = null
  /** Messages that arrived while the doc loads; null once handled. */
  private queue: RawData[] | null = []
  private closed = false
  private corked = false
  /** Ends the connection when its token expires (auth/expiry.ts); null for tokens that never do. */
  private readonly cancelExpiry: (() => void) | null
  readonly access: Access
  /** Its token's `sub`, for log lines. */
  readonly user: string | undefined
  /**
   * Null while full: a bucket that refilled completely is the same as a new one, so an idle
   * connection holds none (the heartbeat drops it) and the next message makes one.
   */
  private bucket: TokenBucket | null = null
  /** Messages read while over the rate, not handled yet; null while within it. */
  private held: Held | null = null
  /** When this connection went over its rate (performance.now()), until its bucket refills; 0 when within. */
  private overSince = 0

  constructor (
    private readonly ctx: WeftContext,
    private readonly live: Set<WsConnection>,
    readonly ws: WeftSocket,
    readonly docName: string,
    grant: Grant,
    /** The peer's address, for log lines. */
    readonly ip: string,
    /** Its connection slots (limits/connections.ts), freed once the socket closed. */
    private readonly slot: Slot
  ) {
    this.access = grant.access
    this.user = grant.user
    ws.owner = this
    live.add(this)
    this.cancelExpiry = grant.expiresAt === undefined ? null : onExpiry(grant, () => this.close(CloseCode.unauthorized, 'token expired'))
  }

  /** Loads the doc, then joins it and handles what was queued meanwhile. */
  async join (): Promise<void> {
    const { registry, metrics, options } = this.ctx
    let doc
    try {
      doc = await registry.acquire(this.docName, this)
    } catch (err) {
      registry.release(this.docName, this)
      // Too many docs in memory is a limit like the others (tooManyRequests, counted), not a storage failure.
      if (err instanceof TooManyDocsError) metrics.inc('limit_refused_total{limit="docs"}')
      return this.fail(err instanceof WeftError ? err.closeCode : CloseCode.storageFailed, err as Error)
    }
    if (this.closed) { registry.release(this.docName, this); return }
    this.session = new Session(doc, this, this.access, this.ctx.session, this.user)
    this.session.join()
    this.session.greet()
    const queued = this.queue!
    this.queue = null
    for (const data of queued) {
      // After a bad queued message the socket is closing: what was queued behind it is not applied.
      if (this.closed || this.ws.readyState !== this.ws.OPEN) break
      this.handle(data)
    }
  }

  // ---- Pipe ----------------------------------------------------------------------------

  send (message: Uint8Array): void {
    if (!this.writable()) return
    const ws = this.ws
    // Frames sent to this socket in one tick leave in one writev: a stored batch of k updates
    // reaches each peer as one syscall, not k. ws corks around each frame itself; our outer
    // cork holds them until the tick ends. (ws has no public cork; `_socket` is its net.Socket.)
    if (!this.corked) {
      this.corked = true
      ;(ws as unknown as { _socket: Duplex })._socket.cork()
      process.nextTick(uncork, this)
    }
    this.ctx.traffic.websocket.sent.inc(message.byteLength)
    ws.send(message)
  }

  /**
   * Closes with `code`: counted, and — for Weft's own codes — one log line with the doc,
   * transport, address, user, code and `detail` (why; never sent to the peer).
   */
  close (code: number, reason: string, detail?: string): void {
    const ws = this.ws
    if (ws.readyState !== ws.OPEN && ws.readyState !== ws.CONNECTING) return
    this.ctx.metrics.inc(`ws_closed_total{code="${code}"}`)
    if (code >= 4000) {
      const fields = { doc: this.docName, transport: 'websocket', ip: this.ip, user: this.user, code, err: detail ?? reason }
      if (code === CloseCode.unauthorized) this.ctx.options.logger.info(fields, 'closing connection')
      else this.ctx.options.logger.warn(fields, 'closing connection')
    }
    // A held connection must read again, or the peer's close frame is never seen and the
    // close handshake waits out ws' 30 s timeout. What it still sends is ignored (not OPEN).
    if (ws.isPaused) ws.resume()
    ws.close(code, reason)
  }

  // ---- incoming ------------------------------------------------------------------------

  message (data: RawData, isBinary: boolean): void {
    // Once closing, what the peer still sent is neither applied nor worth decoding.
    if (this.ws.readyState !== this.ws.OPEN) return
    this.ctx.metrics.inc('ws_messages_total')
    this.ctx.traffic.websocket.received.inc((data as Buffer).length)
    if (!isBinary) return this.fail(CloseCode.malformed, new ProtocolError('text frames are not part of the protocol'))
    // Messages keep their order: behind a held message, every message waits.
    if (this.held != null) { this.held.messages.push(data); return }
    const now = performance.now()
    const bucket = this.bucket ??= new TokenBucket(this.ctx.options.maxMessagesPerSecond, this.ctx.options.messageBurst)
    if (this.overSince !== 0 && bucket.full(now)) this.overSince = 0
    if (!bucket.take(now)) return this.hold(data, now)
    this.accept(data)
  }

  /** A message within the rate: handled now, or queued while the doc loads. */
  private accept (data: RawData): void {
    if (this.session != null) return this.handle(data)
    if (this.queue!.length >= this.ctx.options.maxQueuedMessages) return this.fail(CloseCode.tooManyRequests, new Error('too many messages while the doc loads'))
    this.queue!.push(data)
  }

  /** Over the rate: stop reading, hold what was read, handle it as the bucket refills. */
  private hold (data: RawData, now: number): void {
    if (this.overSince === 0) {
      this.overSince = now
      this.ctx.metrics.inc('ws_throttled_total')
      this.ctx.options.logger.info({ doc: this.docName, transport: 'websocket', ip: this.ip, user: this.user, limit: 'messages_per_second' }, 'over its message rate: reading paused until its budget refills')
    }
    this.held = { messages: [data], next: 0, timer: null }
    this.ws.pause()
    this.schedule(this.held)
  }

  /** Handles held messages while tokens last; reads the socket again once all are handled. */
  drain (): void {
    const held = this.held
    if (held == null) return
    held.timer = null
    const now = performance.now()
    while (held.next < held.messages.length) {
      if (this.closed || this.ws.readyState !== this.ws.OPEN) return
      if (!this.bucket!.take(now)) return this.schedule(held)
      const data = held.messages[held.next]!
      held.messages[held.next++] = EMPTY
      this.accept(data)
    }
    this.held = null
    this.ws.resume()
  }

  private schedule (held: Held): void {
    if (performance.now() - this.overSince > this.ctx.options.maxThrottledMs) {
      this.ctx.limits.rateLimited()
      return this.fail(CloseCode.tooManyRequests, new Error(`over the message rate for ${this.ctx.options.maxThrottledMs} ms`))
    }
    // Wake at most every DRAIN_EVERY_MS and take what refilled meanwhile: at the default
    // 100 messages/s a held connection costs 20 timers a second, not 100.
    held.timer = setTimeout(drain, Math.max(DRAIN_EVERY_MS, this.bucket!.waitMs()), this)
  }

  /**
   * The peer's ping (the server's `autoPong` is off: ws-socket.ts). Answered like ws would;
   * where ws closed a peer with 60 pongs pending, a peer that pings and does not read is cut
   * as a slow consumer, as with any other frame it leaves unread.
   */
  ping (data: Buffer): void {
    if (this.writable()) this.ws.pong(data)
  }

  /**
   * Whether a frame may be written now: the socket is open and the peer reads what it is sent.
   * One that left more than `maxBufferedBytes` unread is closed 4508 (too slow) here.
   */
  private writable (): boolean {
    const ws = this.ws
    if (ws.readyState !== ws.OPEN) return false
    if (ws.bufferedAmount <= this.ctx.options.maxBufferedBytes) return true
    this.ctx.metrics.inc('ws_slow_consumers_total')
    this.close(CloseCode.tooSlow, CloseReason[CloseCode.tooSlow]!)
    return false
  }

  /** Not reading its socket (over the rate): its pongs wait unread, so it is not judged dead. */
  get throttled (): boolean { return this.held != null }

  /**
   * The transport's heartbeat, every ping interval (not while throttled): false when the socket
   * read nothing since the last one — no pong to the last ping, no message — so it is dead.
   * A bucket that refilled meanwhile is dropped (see `bucket`), and so is the spare room of
   * ws' read queue: an array that ever held a chunk keeps room for 17 (152 bytes) once empty.
   */
  heartbeat (): boolean {
    const read = (this.ws as unknown as { _socket: Duplex & { bytesRead: number } })._socket.bytesRead
    if (read === this.readAtBeat) return false
    this.readAtBeat = read
    if (this.bucket?.full() === true) { this.bucket = null; this.overSince = 0 }
    const receiver = (this.ws as unknown as { _receiver?: { _buffers?: unknown[], _bufferedBytes?: number } })._receiver
    if (receiver?._bufferedBytes === 0 && receiver._buffers?.length === 0) receiver._buffers = []
    return true
  }

  private handle (data: RawData): void {
    try {
      this.session!.handle(decodeMessage(toBytes(data)))
    } catch (err) {
      // A refusal closes with its own code (a malformed message: 4400).
      if (err instanceof WeftError) return this.fail(err.closeCode, err)
      // A bug triggered by one peer's message must not take the process (and every other
      // peer) down: log it loudly and drop that connection.
      this.ctx.options.logger.error({ doc: this.docName, transport: 'websocket', ip: this.ip, user: this.user, err }, 'unexpected error handling a message')
      this.ctx.metrics.inc('ws_message_errors_total')
      return this.fail(CloseCode.malformed, err as Error)
    }
  }

  private fail (code: number, err: Error): void {
    this.close(code, CloseReason[code] ?? '', err.message)
  }

  /** Ends the tick's cork: the frames of this tick leave together. */
  uncork (): void {
    this.corked = false
    ;(this.ws as unknown as { _socket: Duplex })._socket.uncork()
  }

  socketError (err: Error): void {
    this.ctx.options.logger.debug({ doc: this.docName, transport: 'websocket', ip: this.ip, err: err.message }, 'socket error')
  }

  /** The socket closed: leave the doc, free everything. */
  socketClosed (): void {
    this.closed = true
    this.live.delete(this)
    this.slot.release()
    this.cancelExpiry?.()
    if (this.held?.timer != null) clearTimeout(this.held.timer)
    this.held = null
    this.session?.detach()
    this.ctx.registry.release(this.docName, this)
  }
}

function uncork (c: WsConnection): void { c.uncork() }
function drain (c: WsConnection): void { c.drain() }

interface Held {
  messages: RawData[]
  /** Index of the next message to handle (a queue without shifting the array). */
  next: number
  timer: NodeJS.Timeout | null
}

const EMPTY = Buffer.alloc(0)
/** A held connection wakes at most this often (or when its next token is due, if later). */
const DRAIN_EVERY_MS = 50

function toBytes (data: RawData): Uint8Array {
  if (Array.isArray(data)) return Buffer.concat(data)
  if (data instanceof ArrayBuffer) return new Uint8Array(data)
  return data
}
