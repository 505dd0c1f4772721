/**
 * Connection limits: WebSocket connections in total, per client IP and per doc, SSE streams /
 * pending polls ("observers") per IP, HTTP editor sessions per IP, and empty docs held open by
 * readers per IP. A transport asks `admit*()` before it opens anything and calls the returned
 * slot's `release()` when the peer goes: the first call frees the slot, later ones do nothing.
 * A refusal is a `LimitError`: HTTP 429 before a socket opens, counted in metrics as
 * `limit_refused_total{limit="…"}`.
 *
 * A slot is one small object whose methods live on a shared prototype, not a closure: a
 * `once(() => …)` release captured its address and doc in two closures and two contexts, about
 * 0.2 KB that every idle WebSocket and SSE stream kept for its whole life (bench "idle").
 */
import type { IncomingMessage } from 'node:http'
import type { Duplex } from 'node:stream'
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

/** A held slot (or anything that gives a hold back): `release()` is idempotent. */
export interface Slot {
  release (): void
}

/** A slot that holds nothing. */
export const NO_SLOT: Slot = { release () {} }

/** Two holds given back together (both idempotent, so this is too); `b` null: just `a`. */
export function bothSlots (a: Slot, b: Slot | null): Slot {
  return b === null ? a : new SlotPair(a, b)
}

class SlotPair implements Slot {
  constructor (private readonly a: Slot, private readonly b: Slot) {}
  release (): void { this.a.release(); this.b.release() }
}

/** The client address a limit is counted against (the socket peer; proxies are not trusted). */
export const clientIp = (req: IncomingMessage): string => req.socket.remoteAddress ?? 'unknown'

/**
 * Drops the peer address Node cached on `socket` when `clientIp` asked (an `{ address, family,
 * port }` object, 56 bytes): for a socket that stays open for hours (a WebSocket, an SSE
 * stream) once nothing asks any more. Node makes it again if anyone does.
 */
export function forgetPeerAddress (socket: Duplex): void {
  const s = socket as Duplex & { _peername?: unknown }
  // Only where it is set: a new property would cost the socket more than it saves.
  if (s._peername != null) s._peername = undefined
}

export class ConnectionLimits {
  private readonly counts = new Counts()

  constructor (private readonly opts: ConnectionLimitOptions, private readonly metrics: Metrics) {}

  /** Admits one WebSocket connection from `ip` on `doc`, or throws LimitError. */
  admitConnection (ip: string, doc: string): Slot {
    const c = this.counts
    if (c.total >= this.opts.maxConnections) throw this.refuse('connections', `too many connections (max ${this.opts.maxConnections})`)
    if ((c.perIp.get(ip) ?? 0) >= this.opts.maxConnectionsPerIp) throw this.refuse('connections_per_ip', `too many connections from this address (max ${this.opts.maxConnectionsPerIp})`)
    if ((c.perDoc.get(doc) ?? 0) >= this.opts.maxConnectionsPerDoc) throw this.refuse('connections_per_doc', `too many connections on this doc (max ${this.opts.maxConnectionsPerDoc})`)
    c.total++
    bump(c.perIp, ip, 1)
    bump(c.perDoc, doc, 1)
    return new LimitSlot(c, CONNECTION, ip, doc)
  }

  /** Admits one SSE stream or pending long poll from `ip`, or throws LimitError. */
  admitObserver (ip: string): Slot {
    const c = this.counts
    if ((c.observersPerIp.get(ip) ?? 0) >= this.opts.maxObserversPerIp) throw this.refuse('observers_per_ip', `too many streams from this address (max ${this.opts.maxObserversPerIp})`)
    bump(c.observersPerIp, ip, 1)
    return new LimitSlot(c, OBSERVER, ip, '')
  }

  /** Admits one more HTTP editor session created by `ip`, or throws LimitError. */
  admitHttpSession (ip: string): Slot {
    const c = this.counts
    if ((c.httpSessionsPerIp.get(ip) ?? 0) >= this.opts.maxHttpSessionsPerIp) throw this.refuse('http_sessions_per_ip', `too many HTTP sessions from this address (max ${this.opts.maxHttpSessionsPerIp})`)
    bump(c.httpSessionsPerIp, ip, 1)
    return new LimitSlot(c, HTTP_SESSION, ip, '')
  }

  /**
   * Admits a reader from `ip` (an SSE stream, a held poll) holding open `doc`, which has no
   * content: every name is a valid doc, so without this bound one client could fill `maxDocs`
   * with made-up names and refuse everyone else. Distinct docs count, not streams: many viewers
   * behind one proxy watching the same new doc cost one.
   */
  admitEmptyDoc (ip: string, doc: string): Slot {
    const c = this.counts
    let docs = c.emptyDocsPerIp.get(ip)
    if (docs?.has(doc) !== true && (docs?.size ?? 0) >= this.opts.maxEmptyDocsPerIp) {
      throw this.refuse('empty_docs_per_ip', `too many empty docs held open from this address (max ${this.opts.maxEmptyDocsPerIp})`)
    }
    if (docs === undefined) c.emptyDocsPerIp.set(ip, docs = new Map())
    bump(docs, doc, 1)
    return new LimitSlot(c, EMPTY_DOC, ip, doc)
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
    const c = this.counts
    let observers = 0
    for (const n of c.observersPerIp.values()) observers += n
    return {
      connections: c.total,
      ips: c.perIp.size,
      docs: c.perDoc.size,
      observerIps: c.observersPerIp.size,
      observers,
      httpSessionIps: c.httpSessionsPerIp.size,
      emptyDocIps: c.emptyDocsPerIp.size
    }
  }
}

/** The live counts: a slot holds these, not the limits (module-private, so only slots free). */
class Counts {
  total = 0
  readonly perIp = new Map<string, number>()
  readonly perDoc = new Map<string, number>()
  readonly observersPerIp = new Map<string, number>()
  readonly httpSessionsPerIp = new Map<string, number>()
  /** Per address: the empty docs its readers hold open, and how many of its readers hold each. */
  readonly emptyDocsPerIp = new Map<string, Map<string, number>>()
}

/** A slot's kind (what it counts against), or `RELEASED`. */
const RELEASED = 0
const CONNECTION = 1
const OBSERVER = 2
const HTTP_SESSION = 3
const EMPTY_DOC = 4

/**
 * One admitted peer's slot: what it counts against (`kind`, its address and doc, the strings
 * the transport holds anyway) until `release()`. Four fields, no closure.
 */
class LimitSlot implements Slot {
  constructor (
    private readonly counts: Counts,
    /** What it counts as; `RELEASED` once given back. */
    private kind: number,
    private readonly ip: string,
    /** The doc, for connections and empty docs ('' otherwise). */
    private readonly doc: string
  ) {}

  release (): void {
    const kind = this.kind
    this.kind = RELEASED
    const c = this.counts
    switch (kind) {
      case CONNECTION:
        c.total--
        bump(c.perIp, this.ip, -1)
        bump(c.perDoc, this.doc, -1)
        return
      case OBSERVER: return bump(c.observersPerIp, this.ip, -1)
      case HTTP_SESSION: return bump(c.httpSessionsPerIp, this.ip, -1)
      case EMPTY_DOC: {
        const d = c.emptyDocsPerIp.get(this.ip)
        if (d === undefined) return
        bump(d, this.doc, -1)
        if (d.size === 0) c.emptyDocsPerIp.delete(this.ip)
      }
    }
  }
}

function bump (map: Map<string, number>, key: string, by: number): void {
  const n = (map.get(key) ?? 0) + by
  if (n <= 0) map.delete(key)
  else map.set(key, n)
}
