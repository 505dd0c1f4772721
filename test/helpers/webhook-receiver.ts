/**
 * A webhook receiver for tests: a real `node:http` server on port 0 that records every request
 * and answers what the test says (204 by default), and the README's verification snippet
 * (/work/notes/readme-webhooks.md → README "Webhooks"), typed, unchanged otherwise.
 */
import { createHmac, timingSafeEqual } from 'node:crypto'
import { createServer, type IncomingHttpHeaders } from 'node:http'
import type { AddressInfo } from 'node:net'

// ---- the README's snippet ----------------------------------------------------------------

/**
 * True when `header` (the Weft-Signature header) signs `body` (the raw request body, as
 * received) with `secret`, and its timestamp is within `toleranceS` seconds of now.
 */
export function verifyWeftSignature (secret: string, header: string | undefined, body: string, toleranceS = 300): boolean {
  const parts = Object.fromEntries(String(header ?? '').split(',').map(p => p.split('=', 2)))
  const t = Number(parts.t)
  if (!Number.isInteger(t) || Math.abs(Date.now() / 1000 - t) > toleranceS) return false
  const expected = createHmac('sha256', secret).update(`${t}.${body}`).digest()
  const given = Buffer.from(parts.v1 ?? '', 'hex')
  return given.length === expected.length && timingSafeEqual(given, expected)
}

// ---- the receiver -------------------------------------------------------------------------

export interface Received {
  /** The request's path and query. */
  path: string
  headers: IncomingHttpHeaders
  body: string
  json: Record<string, any>
  /** `Date.now()` when it arrived. */
  at: number
  /** The status answered. */
  status: number
}

export interface Receiver {
  url: string
  /** Every request, in arrival order (failed ones included). */
  requests: Received[]
  /** The accepted ones (2xx answered). */
  accepted (): Received[]
  /** What to answer the nth request (0-based): a status. */
  respond: (n: number, r: Omit<Received, 'status'>) => number
  close (): Promise<void>
}

export async function startReceiver (respond: Receiver['respond'] = () => 204, port = 0): Promise<Receiver> {
  const requests: Received[] = []
  const receiver: Receiver = {
    url: '',
    requests,
    accepted: () => requests.filter(r => r.status >= 200 && r.status < 300),
    respond,
    close: async () => {
      server.closeAllConnections()
      await new Promise<void>(resolve => server.close(() => resolve()))
    }
  }
  const server = createServer((req, res) => {
    const chunks: Buffer[] = []
    req.on('data', (c: Buffer) => chunks.push(c))
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8')
      let json: Record<string, any> = {}
      try { json = JSON.parse(body) } catch {}
      const r = { path: req.url ?? '', headers: req.headers, body, json, at: Date.now() }
      const status = receiver.respond(requests.length, r)
      requests.push({ ...r, status })
      res.writeHead(status).end()
    })
  })
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(port, '127.0.0.1', () => resolve())
  })
  receiver.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`
  return receiver
}

/** The received deliveries of one event kind (and doc). */
export const eventsOf = (rs: Received[], event: string, doc?: string): Received[] => rs.filter(r => r.json.event === event && (doc === undefined || r.json.doc === doc))
