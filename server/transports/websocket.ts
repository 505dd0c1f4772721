/**
 * The WebSocket transport: the y-websocket protocol on any path (`/<doc name>`).
 * Access is decided before the socket opens (plain HTTP 400/401/403/503 on the upgrade).
 * Messages that arrive while the doc loads are queued (bounded) and handled in order after
 * the server's step1, so nobody ever syncs against a half-loaded doc.
 */
import type { IncomingMessage } from 'node:http'
import type { Duplex } from 'node:stream'
import { WebSocketServer } from 'ws'
import { CloseCode, CloseReason } from '../../shared/close-codes.js'
import type { WeftContext } from '../context.js'
import { docNameFromPath } from '../doc-name.js'
import type { Grant } from '../auth/grant.js'
import { chooseProtocol } from '../auth/token.js'
import { WeftError } from '../errors.js'
import { bothSlots, clientIp, forgetPeerAddress, type Slot } from '../limits/connections.js'
import { WsConnection } from './ws-connection.js'
import { WeftSocket } from './ws-socket.js'

export interface WebSocketTransport {
  handleUpgrade (req: IncomingMessage, socket: Duplex, head: Buffer): void
  readonly connections: number
  close (): Promise<void>
}

export function createWebSocketTransport (ctx: WeftContext): WebSocketTransport {
  const { options, registry, metrics } = ctx
  const log = options.logger
  // Pings are answered by the connection (ws-socket.ts: ws' automatic pong costs a closure per socket).
  const wss = new WebSocketServer<typeof WeftSocket>({ noServer: true, maxPayload: options.maxMessageBytes, perMessageDeflate: false, clientTracking: false, handleProtocols: chooseProtocol, WebSocket: WeftSocket, autoPong: false })
  const live = new Set<WsConnection>()

  // One timer for all connections: ping, and drop those that read nothing since the last ping.
  const heartbeat = setInterval(() => {
    for (const c of live) {
      // A throttled connection is not reading its socket, pongs included (ws-connection.ts).
      if (c.throttled) continue
      if (!c.heartbeat()) { metrics.inc('ws_dead_connections_total'); c.ws.terminate(); continue }
      c.ws.ping()
    }
  }, options.pingIntervalMs)
  heartbeat.unref()

  function refuse (socket: Duplex, status: number, message: string, req: IncomingMessage, doc?: string): void {
    metrics.inc(`ws_upgrades_refused_total{status="${status}"}`)
    const fields = { doc, transport: 'websocket', ip: clientIp(req), status, err: message }
    if (status >= 500) log.error(fields, 'upgrade refused')
    else log.info(fields, 'upgrade refused')
    if (socket.writable) {
      const body = `${message}\n`
      socket.end(`HTTP/1.1 ${status} ${httpStatusText(status)}\r\nConnection: close\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`)
    }
    socket.destroy()
  }

  // Nothing created here may keep `req` (headers, raw headers, its stream state: about 1 KB) for
  // the life of the connection: what outlives the handshake is built outside this scope
  // (the slots, `released`), and the socket listeners added here are removed once ws owns it.
  async function handleUpgrade (req: IncomingMessage, socket: Duplex, head: Buffer): Promise<void> {
    socket.on('error', ignore) // a reset during the handshake is not our error to throw
    if (ctx.closing) return refuse(socket, 503, 'server is shutting down', req)
    let doc: string | undefined
    let grant: Grant
    let slot: Slot
    const ip = clientIp(req)
    try {
      const url = new URL(req.url ?? '/', 'http://localhost')
      doc = docNameFromPath(url.pathname, options.maxDocNameLength)
      grant = await ctx.authorize(req, doc)
      const connection = ctx.limits.admitConnection(ip, doc)
      // A reader of a doc nobody wrote counts against its address's empty-doc budget, as SSE
      // streams and held polls do (limits/reader-hold.ts): read-only clients walking made-up
      // names would otherwise fill maxDocs for everyone. A writer creates the doc it names.
      let emptySlot: Slot | null = null
      try {
        if (grant.access !== 'write' && !(await registry.exists(doc))) emptySlot = ctx.limits.admitEmptyDoc(ip, doc)
      } catch (err) {
        connection.release()
        throw err
      }
      slot = bothSlots(connection, emptySlot)
    } catch (err) {
      // A bad name, credentials, a limit: each refusal carries its status (shared/errors.ts).
      if (err instanceof WeftError) return refuse(socket, err.status, err.message, req, doc)
      log.error({ doc, err }, 'upgrade failed')
      return refuse(socket, 500, 'internal error', req, doc)
    }
    // Until ws hands us the connection, the socket's close frees the slot (ws may drop a bad
    // handshake without calling back); from then on the connection's close does (socketClosed).
    ;(socket as Handshaking)[SLOT] = slot
    socket.on('close', released)
    if (socket.destroyed) return slot.release()
    wss.handleUpgrade(req, socket, head, opened(socket, doc, grant, ip))
  }

  /** ws' callback once the handshake is done: the connection takes over the slots. */
  function opened (socket: Handshaking, docName: string, grant: Grant, ip: string): (ws: WeftSocket) => void {
    return ws => {
      const slot = socket[SLOT]!
      socket[SLOT] = undefined
      socket.off('close', released)
      socket.off('error', ignore)
      forgetPeerAddress(socket)
      metrics.inc('ws_connections_total')
      log.debug({ doc: docName, transport: 'websocket', ip, user: grant.user, access: grant.access }, 'connected')
      void new WsConnection(ctx, live, ws, docName, grant, ip, slot).join()
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
        c.close(CloseCode.serviceRestart, CloseReason[CloseCode.serviceRestart])
        // A peer that does not answer the close handshake is cut after a second.
        setTimeout(() => { c.ws.terminate(); resolve() }, 1000).unref()
      }))
      await Promise.all(closedAll)
      wss.close()
    }
  }
}


const SLOT = Symbol('weft:slot')
type Handshaking = Duplex & { [SLOT]?: Slot }
function ignore (): void {}
function released (this: Handshaking): void { this[SLOT]?.release() }

function httpStatusText (status: number): string {
  return ({ 400: 'Bad Request', 401: 'Unauthorized', 403: 'Forbidden', 429: 'Too Many Requests', 500: 'Internal Server Error', 503: 'Service Unavailable' } as Record<number, string>)[status] ?? 'Error'
}
