/**
 * Connection limits: WebSocket connections in total, per client IP and per doc, and SSE
 * streams / pending polls ("observers") per IP. A transport asks `admit*()` before it opens
 * anything and calls the returned release function exactly once when the peer goes (calling it
 * again is harmless). A refusal is a `LimitError`: HTTP 429 before a socket opens, counted in
 * metrics as `limit_refused_total{limit="…"}`.
 */
import type { IncomingMessage } from 'node:http'
import type { Metrics } from '../metrics.js'

export interface ConnectionLimitOptions {
  maxConnections: number
  maxConnectionsPerIp: number
  maxConnectionsPerDoc: number
  maxObserversPerIp: number
}

export class LimitError extends Error {
  override name = 'LimitError'
  readonly status = 429
  constructor (readonly limit: 'connections' | 'connections_per_ip' | 'connections_per_doc' | 'observers_per_ip' | 'messages_per_second', message: string) {
    super(message)
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

  /** Counts a per-message rate-limit close (the transport decides when). */
  rateLimited (): void { this.metrics.inc('limit_refused_total{limit="messages_per_second"}') }

  /** Live counts, for tests and /metrics: every map is emptied as peers leave (no leak). */
  stats (): { connections: number, ips: number, docs: number, observerIps: number, observers: number } {
    let observers = 0
    for (const n of this.observersPerIp.values()) observers += n
    return { connections: this.total, ips: this.perIp.size, docs: this.perDoc.size, observerIps: this.observersPerIp.size, observers }
  }

  private refuse (limit: LimitError['limit'], message: string): LimitError {
    this.metrics.inc(`limit_refused_total{limit="${limit}"}`)
    return new LimitError(limit, message)
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
