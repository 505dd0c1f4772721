/**
 * Where a client may put its token, in the order we look:
 *   1. `?token=` in the URL (EventSource and the stock y-websocket provider's `params` can do this),
 *   2. `Authorization: Bearer <token>` (fetch, Node clients),
 *   3. an entry of `Sec-WebSocket-Protocol` shaped like a JWT (browsers cannot set headers on a
 *      WebSocket; the server echoes that entry back, or the browser would fail the handshake),
 *   4. a `weft_token` cookie (browsers on the server's own origin, no code needed). Last: the
 *      browser attaches it to every request, so a token the client put in the request itself
 *      says more about who is asking; and a cookie token is only accepted from an allowed
 *      Origin (origins.ts), which a page that sends its own token must not be held to.
 * Query strings end up in access logs; prefer the header, the protocol entry or the cookie.
 */
import type { IncomingMessage } from 'node:http'

export const TOKEN_COOKIE = 'weft_token'

export type TokenSource = 'query' | 'header' | 'cookie' | 'protocol'

/** Three base64url parts separated by dots: what a compact JWS looks like. */
const JWT_SHAPE = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$/

/** Longest token we read at all; anything longer is refused before any crypto runs. */
export const MAX_TOKEN_LENGTH = 8192

export function extractToken (req: IncomingMessage): { token: string, source: TokenSource } | null {
  const url = req.url ?? '/'
  const q = url.indexOf('?')
  if (q >= 0) {
    const token = new URLSearchParams(url.slice(q + 1)).get('token')
    if (token != null && token !== '') return { token, source: 'query' }
  }
  const auth = req.headers.authorization
  if (auth !== undefined) {
    const m = /^Bearer\s+(\S+)\s*$/i.exec(auth)
    if (m != null) return { token: m[1]!, source: 'header' }
  }
  const protocols = req.headers['sec-websocket-protocol']
  if (typeof protocols === 'string') {
    const token = tokenProtocol(protocols.split(',').map(p => p.trim()))
    if (token != null) return { token, source: 'protocol' }
  }
  const cookie = req.headers.cookie
  if (cookie !== undefined) {
    const token = readCookie(cookie, TOKEN_COOKIE)
    if (token != null && token !== '') return { token, source: 'cookie' }
  }
  return null
}

/** The subprotocol entry that carries the token, if any. */
export function tokenProtocol (protocols: Iterable<string>): string | null {
  for (const p of protocols) {
    if (p.length <= MAX_TOKEN_LENGTH && JWT_SHAPE.test(p)) return p
  }
  return null
}

/**
 * For `WebSocketServer({ handleProtocols })`: answer with the token entry when there is one
 * (the client offered it, so it must hear it back), else the first offered protocol (ws' default).
 */
export function chooseProtocol (protocols: Set<string>): string | false {
  const token = tokenProtocol(protocols)
  if (token != null) return token
  for (const p of protocols) return p
  return false
}

function readCookie (header: string, name: string): string | null {
  for (const part of header.split(';')) {
    const eq = part.indexOf('=')
    if (eq < 0) continue
    if (part.slice(0, eq).trim() !== name) continue
    const raw = part.slice(eq + 1).trim().replace(/^"(.*)"$/, '$1')
    try { return decodeURIComponent(raw) } catch { return raw }
  }
  return null
}
