/**
 * Connection limits: WebSocket connections in total, per client IP and per doc, SSE streams /
 * pending polls ("observers") per IP, HTTP editor sessions per IP, and empty docs held open by
 * readers per IP. A transport asks `admit*()` before it opens anything and calls the returned
 * release function exactly once when the peer goes (calling it again is harmless). A refusal is
 * a `LimitError`: HTTP 429 before a socket opens, counted in metrics as
 * `limit_refused_total{limit="…"}`.
 */
import type { IncomingMessage } from 'node:http'
import type { Metrics } from '../metrics.js'
import { WeftError } from '../errors.js'

export interface ConnectionLimitOptions {
  maxConnections: number
  maxConnectionsPerIp: number
  maxConnectionsPerDoc: number
  maxObserversPerIp: number
  maxHttpSessionsPerIp: number
  maxEmptyDocsPerIp: number
}

export class LimitError extends WeftError {
  override name = 'LimitError'
  constructor (
    readonly limit: 'connections' | 'connections_per_ip' | 'connections_per_doc' | 'observers_per_ip' | 'messages_per_second' |
    'http_sessions_per_ip' | 'empty_docs_per_ip' | 'requests_per_second',
    message: string,
    /** Seconds after which trying again can succeed (HTTP `Retry-After`). */
    readonly retryAfterS = 1
  ) {
    super('tooManyRequests', message)
  }
}

export type Release = () => void

/** The client address a limit is counted against (the socket peer; proxies are not trusted). */
export const clientIp = (req: IncomingMessage): string => req.socket.remoteAddress ?? 'unknown'

export class ConnectionLimits {
  private total = 0
  private readonly perIp = new Map<string, number>()
  private readonly perDoc = new Map<string, number>()
  private readonly observersPerIp = new Map<string, number>()
  private readonly httpSessionsPerIp = new Map<string, number>()
  /** Per address: the empty docs its readers hold open, and how many of its readers hold each. */
  private readonly emptyDocsPerIp = new Map<string, Map<string, number>>()

  constructor (private readonly opts: ConnectionLimitOptions, private readonly metrics: Metrics) {}

  /** Admits one WebSocket connection from `ip` on `doc`, or throws LimitError. */
  admitConnection (ip: string, doc: string): Release {
    if (this.total >= this.opts.maxConnections) throw this.refuse('connections', `too many connections (max ${this.opts.maxConnections})`)
    if ((this.perIp.get(ip) ?? 0) >= this.opts.maxConnectionsPerIp) throw this.refuse('connections_per_ip', `too many connections from this address (max ${this.opts.maxConnectionsPerIp})`)
    if ((this.perDoc.get(doc) ?? 0) >= this.opts.maxConnectionsPerDoc) throw this.refuse('connections_per_doc', `too many connections on this doc (max ${this.opts.maxConnectionsPerDoc})`)
    this.total++
    bump(this.perIp, ip, 1)
    bump(this.perDoc, doc, 1)
    return once(() => {
      this.total--
      bump(this.perIp, ip, -1)
      bump(this.perDoc, doc, -1)
    })
  }

  /** Admits one SSE stream or pending long poll from `ip`, or throws LimitError. */
  admitObserver (ip: string): Release {
    if ((this.observersPerIp.get(ip) ?? 0) >= this.opts.maxObserversPerIp) throw this.refuse('observers_per_ip', `too many streams from this address (max ${this.opts.maxObserversPerIp})`)
    bump(this.observersPerIp, ip, 1)
    return once(() => bump(this.observersPerIp, ip, -1))
  }

  /** Admits one more HTTP editor session created by `ip`, or throws LimitError. */
  admitHttpSession (ip: string): Release {
    if ((this.httpSessionsPerIp.get(ip) ?? 0) >= this.opts.maxHttpSessionsPerIp) throw this.refuse('http_sessions_per_ip', `too many HTTP sessions from this address (max ${this.opts.maxHttpSessionsPerIp})`)
    bump(this.httpSessionsPerIp, ip, 1)
    return once(() => bump(this.httpSessionsPerIp, ip, -1))
  }

  /**
   * Admits a reader from `ip` (an SSE stream, a held poll) holding open `doc`, which has no
   * content: every name is a valid doc, so without this bound one client could fill `maxDocs`
   * with made-up names and refuse everyone else. Distinct docs count, not streams: many viewers
   * behind one proxy watching the same new doc cost one.
   */
  admitEmptyDoc (ip: string, doc: string): Release {
    let docs = this.emptyDocsPerIp.get(ip)
    if (docs?.has(doc) !== true && (docs?.size ?? 0) >= this.opts.maxEmptyDocsPerIp) {
      throw this.refuse('empty_docs_per_ip', `too many empty docs held open from this address (max ${this.opts.maxEmptyDocsPerIp})`)
    }
    if (docs === undefined) this.emptyDocsPerIp.set(ip, docs = new Map())
    bump(docs, doc, 1)
    return once(() => {
      const d = this.emptyDocsPerIp.get(ip)
      if (d === undefined) return
      bump(d, doc, -1)
      if (d.size === 0) this.emptyDocsPerIp.delete(ip)
    })
  }

  /** Counts a refusal decided elsewhere (the HTTP rate limiter) and makes its error. */
  refuse (limit: LimitError['limit'], message: string, retryAfterS?: number): LimitError {
    this.metrics.inc(`limit_refused_total{limit="${limit}"}`)
    return new LimitError(limit, message, retryAfterS)
  }

  /** Counts a per-message rate-limit close (the transport decides when). */
  rateLimited (): void { this.metrics.inc('limit_refused_total{limit="messages_per_second"}') }

  /** Live counts, for tests and /metrics: every map is emptied as peers leave (no leak). */
  stats (): { connections: number, ips: number, docs: number, observerIps: number, observers: number, httpSessionIps: number, emptyDocIps: number } {
    let observers = 0
    for (const n of this.observersPerIp.values()) observers += n
    return {
      connections: this.total,
      ips: this.perIp.size,
      docs: this.perDoc.size,
      observerIps: this.observersPerIp.size,
      observers,
      httpSessionIps: this.httpSessionsPerIp.size,
      emptyDocIps: this.emptyDocsPerIp.size
    }
  }
}

function bump (map: Map<string, number>, key: string, by: number): void {
  const n = (map.get(key) ?? 0) + by
  if (n <= 0) map.delete(key)
  else map.set(key, n)
}

function once (fn: () => void): Release {
  let done = false
  return () => { if (!done) { done = true; fn() } }
}
