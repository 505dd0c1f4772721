/**
 * The WebSocket transport: the y-websocket protocol on any path (`/<doc name>`).
 * Access is decided before the socket opens (plain HTTP 400/401/403/503 on the upgrade).
 * Messages that arrive while the doc loads are queued (bounded) and handled in order after
 * the server's step1, so nobody ever syncs against a half-loaded doc.
 */
import type { IncomingMessage } from 'node:http'
import type { Duplex } from 'node:stream'
import { WebSocketServer, type WebSocket, type RawData } from 'ws'
import { CloseCode, CloseReason } from '../../shared/close-codes.js'
import { decodeMessage, ProtocolError } from '../../shared/protocol.js'
import type { WeftContext } from '../context.js'
import { docNameFromPath, DocNameError } from '../doc-name.js'
import { AuthError, type Grant } from '../options.js'
import { Session } from '../session.js'
import { chooseProtocol } from '../auth/token.js'
import { clientIp, LimitError, type Release } from '../limits/connections.js'
import { TokenBucket } from '../limits/rate.js'
import { TooManyDocsError } from '../docs/registry.js'

interface Live { ws: WebSocket, alive: boolean, session: Session | null }

export interface WebSocketTransport {
  handleUpgrade (req: IncomingMessage, socket: Duplex, head: Buffer): void
  readonly connections: number
  close (): Promise<void>
}

export function createWebSocketTransport (ctx: WeftContext): WebSocketTransport {
  const { options, registry, metrics } = ctx
  const log = options.logger
  const wss = new WebSocketServer({ noServer: true, maxPayload: options.maxMessageBytes, perMessageDeflate: false, clientTracking: false, handleProtocols: chooseProtocol })
  const live = new Set<Live>()

  // One timer for all connections: ping, and drop those that did not answer the last ping.
  const heartbeat = setInterval(() => {
    for (const c of live) {
      if (!c.alive) { metrics.inc('ws_dead_connections_total'); c.ws.terminate(); continue }
      c.alive = false
      c.ws.ping()
    }
  }, options.pingIntervalMs)
  heartbeat.unref()

  function refuse (socket: Duplex, status: number, message: string): void {
    metrics.inc(`ws_upgrades_refused_total{status="${status}"}`)
    if (socket.writable) {
      const body = `${message}\n`
      socket.end(`HTTP/1.1 ${status} ${httpStatusText(status)}\r\nConnection: close\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`)
    }
    socket.destroy()
  }

  async function handleUpgrade (req: IncomingMessage, socket: Duplex, head: Buffer): Promise<void> {
    socket.on('error', () => {}) // a reset during the handshake is not our error to throw
    if (ctx.closing) return refuse(socket, 503, 'server is shutting down')
    let doc: string
    let grant: Grant
    let release: Release
    try {
      const url = new URL(req.url ?? '/', 'http://localhost')
      doc = docNameFromPath(url.pathname, options.maxDocNameLength)
      grant = await ctx.authorize(req, doc)
      release = ctx.limits.admitConnection(clientIp(req), doc)
    } catch (err) {
      if (err instanceof DocNameError) return refuse(socket, 400, err.message)
      if (err instanceof AuthError) return refuse(socket, err.status, err.message)
      if (err instanceof LimitError) return refuse(socket, err.status, err.message)
      log.error({ err }, 'upgrade failed')
      return refuse(socket, 500, 'internal error')
    }
    // The socket outlives every path through the handshake, so its close frees the slot.
    socket.once('close', release)
    if (socket.destroyed) return release()
    wss.handleUpgrade(req, socket, head, ws => { void open(ws, doc, grant) })
  }

  async function open (ws: WebSocket, docName: string, grant: Grant): Promise<void> {
    metrics.inc('ws_connections_total')
    const conn: Live = { ws, alive: true, session: null }
    live.add(conn)
    const queue: RawData[] = []
    let closed = false
    const holder = {}

    const close = (code: number, reason: string): void => {
      if (ws.readyState === ws.OPEN || ws.readyState === ws.CONNECTING) ws.close(code, reason)
    }
    const fail = (code: number, err: Error): void => {
      metrics.inc(`ws_closed_total{code="${code}"}`)
      log.warn({ doc: docName, user: grant.user, code, err: err.message }, 'closing connection')
      close(code, CloseReason[code] ?? '')
    }
    const handle = (data: RawData, isBinary = true): void => {
      if (!isBinary) return fail(CloseCode.malformed, new ProtocolError('text frames are not part of the protocol'))
      try {
        conn.session!.handle(decodeMessage(toBytes(data)))
      } catch (err) {
        if (err instanceof ProtocolError) return fail(CloseCode.malformed, err)
        // A bug triggered by one peer's message must not take the process (and every other
        // peer) down: log it loudly and drop that connection.
        log.error({ doc: docName, user: grant.user, err }, 'unexpected error handling a message')
        metrics.inc('ws_message_errors_total')
        return fail(CloseCode.malformed, err as Error)
      }
    }

    ws.on('pong', () => { conn.alive = true })
    ws.on('error', err => { log.debug({ doc: docName, err: err.message }, 'socket error') })
    const bucket = new TokenBucket(options.maxMessagesPerSecond, options.messageBurst)
    ws.on('message', (data, isBinary) => {
      conn.alive = true
      // Once closing, what the peer still sent is neither applied nor worth decoding.
      if (ws.readyState !== ws.OPEN) return
      metrics.inc('ws_messages_total')
      if (!bucket.take()) {
        ctx.limits.rateLimited()
        return fail(CloseCode.tooManyRequests, new Error('message rate limit exceeded'))
      }
      if (conn.session != null) return handle(data, isBinary)
      if (!isBinary) return fail(CloseCode.malformed, new ProtocolError('text frames are not part of the protocol'))
      if (queue.length >= options.maxQueuedMessages) return fail(CloseCode.tooManyRequests, new Error('too many messages while the doc loads'))
      queue.push(data)
    })
    ws.on('close', () => {
      closed = true
      live.delete(conn)
      conn.session?.detach()
      registry.release(docName, holder)
    })

    let expiry: NodeJS.Timeout | null = null
    if (grant.expiresAt !== undefined) {
      const ms = grant.expiresAt * 1000 - Date.now()
      expiry = setTimeout(() => close(CloseCode.unauthorized, 'token expired'), Math.max(0, Math.min(ms, 2 ** 31 - 1)))
      ws.once('close', () => clearTimeout(expiry!))
    }

    let sharedDoc
    try {
      sharedDoc = await registry.acquire(docName, holder)
    } catch (err) {
      registry.release(docName, holder)
      // Too many docs in memory is a limit like the others (4429, counted), not a storage failure.
      if (err instanceof TooManyDocsError) { metrics.inc('limit_refused_total{limit="docs"}'); return fail(CloseCode.tooManyRequests, err) }
      return fail(CloseCode.storageFailed, err as Error)
    }
    if (closed) { registry.release(docName, holder); return }

    // Frames sent to this socket in one tick leave in one writev: a stored batch of k updates
    // reaches each peer as one syscall, not k. ws corks around each frame itself; our outer
    // cork holds them until the tick ends. (ws has no public cork; `_socket` is its net.Socket.)
    const socket = (ws as unknown as { _socket: Duplex })._socket
    let corked = false
    const uncork = (): void => { corked = false; socket.uncork() }
    const session = new Session(sharedDoc, {
      send (message) {
        if (ws.readyState !== ws.OPEN) return
        if (ws.bufferedAmount > options.maxBufferedBytes) {
          metrics.inc('ws_slow_consumers_total')
          return close(CloseCode.tooSlow, CloseReason[CloseCode.tooSlow]!)
        }
        if (!corked) { corked = true; socket.cork(); process.nextTick(uncork) }
        ws.send(message)
      },
      close
    }, grant.access, { maxUpdateBytes: options.maxMessageBytes, maxAwarenessStateBytes: options.maxAwarenessStateBytes }, log, grant.user)
    conn.session = session
    session.start()
    for (const data of queue.splice(0)) {
      // After a bad queued message the socket is closing: what was queued behind it is not applied.
      if (closed || ws.readyState !== ws.OPEN) break
      handle(data)
    }
  }

  return {
    handleUpgrade (req, socket, head) { void handleUpgrade(req, socket, head) },
    get connections () { return live.size },
    async close () {
      clearInterval(heartbeat)
      const closedAll = [...live].map(c => new Promise<void>(resolve => {
        if (c.ws.readyState === c.ws.CLOSED) return resolve()
        c.ws.once('close', () => resolve())
        c.ws.close(CloseCode.serviceRestart, CloseReason[CloseCode.serviceRestart])
        // A peer that does not answer the close handshake is cut after a second.
        setTimeout(() => { c.ws.terminate(); resolve() }, 1000).unref()
      }))
      await Promise.all(closedAll)
      wss.close()
    }
  }
}

function toBytes (data: RawData): Uint8Array {
  if (Array.isArray(data)) return Buffer.concat(data)
  if (data instanceof ArrayBuffer) return new Uint8Array(data)
  return data
}

function httpStatusText (status: number): string {
  return ({ 400: 'Bad Request', 401: 'Unauthorized', 403: 'Forbidden', 429: 'Too Many Requests', 500: 'Internal Server Error', 503: 'Service Unavailable' } as Record<number, string>)[status] ?? 'Error'
}
