/**
 * HTTP-only editor sessions (SSE + POST and long-poll clients).
 *
 * A WebSocket connection is its own session; an HTTP client is a series of unrelated requests,
 * so it names its session with a random id (`X-Weft-Session` header or `?session=`). Each
 * (doc, session id) gets one `HttpSession`, created on first use, holding the same editor
 * `Session` a WebSocket has (server/session.ts): the awareness client ids it introduces are
 * pinned to it, its own updates are never sent back to it, and when it has been idle for
 * `httpSessionIdleMs` (no request in flight, no stream open) it leaves the doc and its awareness
 * states are removed, exactly like a closed WebSocket.
 */
import { CloseCode } from '../../shared/close-codes.js'
import type { WeftContext } from '../context.js'
import type { Access } from '../docs/broadcast.js'
import type { DocLease } from '../docs/registry.js'
import type { SharedDoc } from '../docs/shared-doc.js'
import { NO_SLOT, type Slot } from '../limits/connections.js'
import { cursorPipe, Session, type SessionContext } from '../session.js'
import { TokenBucket } from '../limits/rate.js'
import { WeftError } from '../errors.js'

/** Header carrying the session id (browsers' EventSource cannot set headers: `?session=` too). */
export const sessionHeader = 'x-weft-session'

/** 8–64 URL-safe characters: clients send ~22 random base64url chars (128 bits). */
const SESSION_ID = /^[A-Za-z0-9_-]{8,64}$/

export class SessionIdError extends WeftError {
  override name = 'SessionIdError'
  constructor (message: string) { super('malformed', message) }
}

export class TooManySessionsError extends WeftError {
  override name = 'TooManySessionsError'
  constructor (message: string) { super('tooManyRequests', message) }
}

/** The session id a request names, `null` when it names none; throws on a malformed id. */
export function sessionIdOf (req: { headers: Record<string, string | string[] | undefined>, url?: string }): string | null {
  let id: string | null = null
  const header = req.headers[sessionHeader]
  if (typeof header === 'string' && header !== '') id = header
  else {
    const q = new URL(req.url ?? '/', 'http://localhost').searchParams.get('session')
    if (q != null && q !== '') id = q
  }
  if (id != null && !SESSION_ID.test(id)) throw new SessionIdError('session id must be 8-64 characters of [A-Za-z0-9_-]')
  return id
}

export class HttpSession {
  /** Requests in flight and streams open that keep the session alive. */
  private holds = 0
  private idleTimer: NodeJS.Timeout | null = null
  closed = false
  /** Its requests' budget: the same as a WebSocket connection's messages (`maxMessagesPerSecond`). */
  readonly bucket: TokenBucket
  /**
   * The editor (server/session.ts): the doc's peer, owner of its awareness ids and origin of its
   * writes. Its pipe carries nothing: the data reaches the client by cursor, from the doc's
   * history, through its poll or SSE stream, which skip what this session wrote.
   */
  readonly session: Session

  constructor (
    readonly id: string,
    private readonly lease: DocLease,
    access: Access,
    sessions: SessionContext,
    user: string | undefined,
    private readonly onEnd: (s: HttpSession) => void,
    private readonly idleMs: number,
    rate: { perSecond: number, burst: number }
  ) {
    this.bucket = new TokenBucket(rate.perSecond, rate.burst)
    // The doc ends its writers on a storage failure (4500): an HTTP editor has nothing open to
    // close, its next POST is answered 503 while storage still fails. Any other end (a client
    // id conflict, too much presence) ends the session, its awareness with it.
    this.session = new Session(lease.doc, cursorPipe(code => { if (code !== CloseCode.storageFailed) this.expire() }), access, sessions, user, 'http')
    this.session.join()
  }

  get doc (): SharedDoc { return this.lease.doc }

  /** A session's access follows the grant of its latest request. */
  get access (): Access { return this.session.access }
  set access (access: Access) { this.session.access = access }

  /** Keeps the session alive until the returned function is called (idempotent). */
  hold (): () => void {
    this.holds++
    if (this.idleTimer != null) { clearTimeout(this.idleTimer); this.idleTimer = null }
    let released = false
    return () => {
      if (released) return
      released = true
      this.holds--
      this.armIdle()
    }
  }

  armIdle (): void {
    if (this.closed || this.holds > 0) return
    if (this.idleTimer != null) clearTimeout(this.idleTimer)
    this.idleTimer = setTimeout(() => { this.idleTimer = null; if (this.holds === 0) this.expire() }, this.idleMs)
    this.idleTimer.unref?.()
  }

  /** Ends the session now: it leaves the doc and its awareness states are removed. Idempotent. */
  expire (): void {
    if (this.closed) return
    this.closed = true
    if (this.idleTimer != null) { clearTimeout(this.idleTimer); this.idleTimer = null }
    this.session.detach()
    this.lease.release()
    this.onEnd(this)
  }
}

/** A per-IP session slot taken by a request that names a session not created yet. */
interface Reservation {
  slot: Slot
  /** Requests in flight that share it. */
  refs: number
  claimed: boolean
}

/** All HTTP sessions of one Weft instance. */
export class HttpSessions {
  private readonly sessions = new Map<string, HttpSession>()
  /** Sessions being created: concurrent first requests share one. */
  private readonly creating = new Map<string, Promise<HttpSession>>()
  /**
   * Per-IP slots (`maxHttpSessionsPerIp`) reserved by the rate-limit middleware (http/limit.ts),
   * which sees the client's address, for sessions its request may create. The session claims
   * the slot and gives it back when it ends; a request that created nothing gives it back when
   * it is answered.
   */
  private readonly reservations = new Map<string, Reservation>()
  private closed = false

  constructor (private readonly ctx: WeftContext) {
    ctx.metrics.gauge('http_sessions', () => this.sessions.size)
  }

  private static key (doc: string, id: string): string { return `${doc}\0${id}` }

  get size (): number { return this.sessions.size }

  /**
   * Reserves a per-IP slot for session `id` on `doc` unless it is live; throws LimitError past
   * `maxHttpSessionsPerIp`. Returns what to call once the request is answered.
   */
  reserve (doc: string, id: string, ip: string): () => void {
    const key = HttpSessions.key(doc, id)
    if (this.peek(doc, id) !== undefined) return () => {}
    let r = this.reservations.get(key)
    if (r === undefined) {
      r = { slot: this.ctx.limits.admitHttpSession(ip), refs: 0, claimed: false }
      this.reservations.set(key, r)
    }
    const held = r
    held.refs++
    let done = false
    return () => {
      if (done) return
      done = true
      if (--held.refs > 0 || held.claimed) return
      if (this.reservations.get(key) === held) this.reservations.delete(key)
      held.slot.release()
    }
  }

  /** The live session, if any (for the SSE route: echo suppression and holds). */
  peek (doc: string, id: string): HttpSession | undefined {
    const s = this.sessions.get(HttpSessions.key(doc, id))
    return s?.closed === false ? s : undefined
  }

  /**
   * The session `id` on `doc`, created (and the doc acquired) on first use. `access` is the
   * grant of the current request: a session's access follows its latest request.
   */
  async get (doc: string, id: string, access: Access, user?: string): Promise<HttpSession> {
    if (this.closed) throw new Error('server is shutting down')
    if (!SESSION_ID.test(id)) throw new SessionIdError('session id must be 8-64 characters of [A-Za-z0-9_-]')
    const key = HttpSessions.key(doc, id)
    const live = this.sessions.get(key)
    if (live !== undefined && !live.closed) { live.access = access; return live }
    const pending = this.creating.get(key)
    if (pending !== undefined) return await pending
    if (this.sessions.size >= this.ctx.options.maxHttpSessions) throw new TooManySessionsError(`too many HTTP sessions (max ${this.ctx.options.maxHttpSessions})`)
    const made = (async () => {
      const lease = await this.ctx.registry.lease(doc)
      const { maxMessagesPerSecond: perSecond, messageBurst: burst, httpSessionIdleMs } = this.ctx.options
      const slot = this.claim(key)
      const session = new HttpSession(id, lease, access, this.ctx.session, user, s => {
        slot.release()
        if (this.sessions.get(key) === s) this.sessions.delete(key)
      }, httpSessionIdleMs, { perSecond, burst })
      this.sessions.set(key, session)
      this.ctx.metrics.inc('http_sessions_total')
      session.armIdle()
      return session
    })()
    this.creating.set(key, made)
    try {
      return await made
    } finally {
      this.creating.delete(key)
    }
  }

  /** Takes the request's reserved per-IP slot over for the session (released when it ends). */
  private claim (key: string): Slot {
    const r = this.reservations.get(key)
    if (r === undefined) return NO_SLOT
    this.reservations.delete(key)
    r.claimed = true
    return r.slot
  }

  /** Ends a session now (a client saying goodbye). */
  end (doc: string, id: string): void {
    this.sessions.get(HttpSessions.key(doc, id))?.expire()
  }

  close (): void {
    this.closed = true
    for (const s of [...this.sessions.values()]) s.expire()
    this.sessions.clear()
  }
}
