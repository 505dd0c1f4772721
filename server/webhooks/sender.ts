/**
 * One attempt of one delivery: a POST with the event's JSON, its headers and a time limit.
 * Any 2xx is accepted; anything else — another status (redirects are not followed), a refused
 * connection, a timeout — is a failure the outbox retries (outbox.ts).
 *
 * `node:http` with keep-alive agents rather than `fetch`: a delivery through undici's fetch cost
 * about 1.7 ms of CPU (its streams, abort signals and garbage), through `http.request` about a
 * third of that (measured in-process with a local receiver; see the webhooks note).
 */
import { Agent as HttpAgent, request as httpRequest, type IncomingMessage } from 'node:http'
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https'
import { version } from '../version.js'
import { SIGNATURE_HEADER, signatureHeader } from './signature.js'

export interface Attempt {
  url: string
  /** The event's id: the `Weft-Delivery` header, the same on every attempt (receivers dedupe by it). */
  id: string
  event: string
  body: string
  /** 1 for the first attempt. */
  attempt: number
}

export type AttemptResult = { ok: true, status: number } | { ok: false, status?: number, error?: string }

const userAgent = `weft-webhooks/${version}`

export class Sender {
  private readonly http: HttpAgent
  private readonly https: HttpsAgent

  constructor (private readonly secret: string | undefined, private readonly timeoutMs: number, concurrency: number) {
    this.http = new HttpAgent({ keepAlive: true, maxSockets: concurrency })
    this.https = new HttpsAgent({ keepAlive: true, maxSockets: concurrency })
  }

  /** Sends `a`; resolves with the outcome (never rejects). `signal` cuts it short (close). */
  post (a: Attempt, signal: AbortSignal): Promise<AttemptResult> {
    return new Promise(resolve => {
      let done = false
      const finish = (r: AttemptResult): void => {
        if (done) return
        done = true
        clearTimeout(timer)
        resolve(r)
      }
      const body = Buffer.from(a.body)
      const headers: Record<string, string> = {
        'content-type': 'application/json',
        'content-length': String(body.byteLength),
        'user-agent': userAgent,
        'weft-event': a.event,
        'weft-delivery': a.id,
        'weft-attempt': String(a.attempt)
      }
      if (this.secret !== undefined) headers[SIGNATURE_HEADER.toLowerCase()] = signatureHeader(this.secret, a.body)
      const url = new URL(a.url)
      const https = url.protocol === 'https:'
      const req = (https ? httpsRequest : httpRequest)(url, { method: 'POST', headers, agent: https ? this.https : this.http, signal }, (res: IncomingMessage) => {
        // The answer's body is not needed; reading it to the end frees the connection for the next request.
        res.resume()
        res.on('error', () => {})
        const status = res.statusCode ?? 0
        finish(status >= 200 && status < 300 ? { ok: true, status } : { ok: false, status })
      })
      const timer = setTimeout(() => { req.destroy(); finish({ ok: false, error: 'timed out' }) }, this.timeoutMs)
      req.on('error', (err: NodeJS.ErrnoException) => finish({ ok: false, error: err.code ?? err.message }))
      req.end(body)
    })
  }

  /** Closes the kept-alive connections. */
  close (): void {
    this.http.destroy()
    this.https.destroy()
  }
}
