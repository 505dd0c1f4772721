/**
 * A small HTTP proxy standing in for a hostile network between a client and the server: it
 * forwards plain requests (streaming both ways) and, depending on its mode, refuses WebSocket
 * upgrades, answers 502 in place of any `text/event-stream` response, and/or refuses event
 * stream requests outright with its own plain-text 403.
 * Modes can change at runtime (a network that gets better or worse).
 */
import { createServer, request, type IncomingMessage } from 'node:http'
import { connect, type Socket } from 'node:net'
import { createHash } from 'node:crypto'
import type { AddressInfo } from 'node:net'

export interface ProxyMode {
  upgrades: boolean
  sse: boolean
  /** Pass event-stream headers but hold their bodies (a buffering proxy). */
  bufferSse?: boolean
  /** Complete WebSocket upgrades itself, then never pass a frame (a broken middlebox). */
  blackholeWebSocket?: boolean
  /**
   * Answer every `GET …/events` itself with a plain-text 403, never forwarding it (a proxy
   * whose policy forbids event streams; its refusal does not have Weft's JSON body).
   */
  refuseEvents?: boolean
  /** Likewise for every `POST …/updates` (a proxy that refuses uploads). */
  refuseUpdates?: boolean
}

export interface HostileProxy {
  url: string
  mode: ProxyMode
  /** Requests forwarded, by path (query stripped). */
  requests: Map<string, number>
  /** Cuts every open connection (a network blip). */
  cutAll (): void
  close (): Promise<void>
}

export async function startProxy (targetPort: number, mode: ProxyMode): Promise<HostileProxy> {
  const sockets = new Set<Socket>()
  const requests = new Map<string, number>()
  const server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0]!
    requests.set(path, (requests.get(path) ?? 0) + 1)
    if ((proxy.mode.refuseEvents === true && path.endsWith('/events')) || (proxy.mode.refuseUpdates === true && req.method === 'POST' && path.endsWith('/updates'))) {
      req.resume()
      res.writeHead(403, { 'content-type': 'text/plain' }).end('Forbidden by proxy policy\n')
      return
    }
    const up = request({ host: '127.0.0.1', port: targetPort, method: req.method, path: req.url, headers: req.headers }, (upRes: IncomingMessage) => {
      if (!proxy.mode.sse && (upRes.headers['content-type'] ?? '').startsWith('text/event-stream')) {
        upRes.destroy()
        res.writeHead(502, { 'content-type': 'text/plain' }).end('event streams are not allowed here\n')
        return
      }
      res.writeHead(upRes.statusCode ?? 502, upRes.headers)
      if (proxy.mode.bufferSse === true && (upRes.headers['content-type'] ?? '').startsWith('text/event-stream')) {
        res.flushHeaders()
        upRes.resume() // read and drop: the bytes never reach the client
        return
      }
      upRes.pipe(res)
    })
    up.on('error', () => { if (!res.headersSent) res.writeHead(502).end(); else res.destroy() })
    res.on('close', () => { if (!res.writableFinished) up.destroy() })
    req.pipe(up)
  })
  server.on('connection', s => { sockets.add(s); s.once('close', () => sockets.delete(s)) })
  server.on('upgrade', (req, socket, head) => {
    if (proxy.mode.blackholeWebSocket === true) {
      const accept = createHash('sha1').update(`${String(req.headers['sec-websocket-key'])}258EAFA5-E914-47DA-95CA-C5AB0DC85B11`).digest('base64')
      socket.write(`HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${accept}\r\n\r\n`)
      socket.on('data', () => {}) // swallow everything
      sockets.add(socket as Socket)
      socket.once('close', () => sockets.delete(socket as Socket))
      return
    }
    if (!proxy.mode.upgrades) {
      socket.end('HTTP/1.1 403 Forbidden\r\nConnection: close\r\nContent-Length: 0\r\n\r\n')
      return
    }
    const up = connect(targetPort, '127.0.0.1', () => {
      const lines = [`${req.method} ${req.url} HTTP/1.1`]
      for (let i = 0; i < req.rawHeaders.length; i += 2) lines.push(`${req.rawHeaders[i]}: ${req.rawHeaders[i + 1]}`)
      up.write(lines.join('\r\n') + '\r\n\r\n')
      if (head.length > 0) up.write(head)
      up.pipe(socket)
      socket.pipe(up)
    })
    sockets.add(up)
    up.once('close', () => { sockets.delete(up); socket.destroy() })
    socket.once('close', () => up.destroy())
    up.on('error', () => socket.destroy())
    socket.on('error', () => up.destroy())
  })
  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', () => resolve()))
  const port = (server.address() as AddressInfo).port
  const proxy: HostileProxy = {
    url: `http://127.0.0.1:${port}`,
    mode: { ...mode },
    requests,
    cutAll () { for (const s of sockets) s.destroy() },
    close () {
      for (const s of sockets) s.destroy()
      server.closeAllConnections()
      return new Promise(resolve => server.close(() => resolve()))
    }
  }
  return proxy
}
