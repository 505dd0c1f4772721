/**
 * `GET /docs/:doc/poll?cursor=&aw=&timeout=&sv=` — long polling (see transports/long-poll.ts).
 * Without a usable cursor the answer is a `reset`: the state the client lacks (relative to its
 * state vector `sv`, base64, when given) plus the server's state vector and a fresh cursor.
 * HTTP-tier clients use `timeout=0` with `sv` as their state-vector handshake on every connect.
 * Awareness: every reset carries the full awareness and an `aw` cursor; a client that passes `aw`
 * back is answered for awareness changes too (without `aw` it only hears about updates).
 */
import type { Router } from 'express'
import * as Y from 'yjs'
import { base64ToBytes } from '../../shared/base64.js'
import type { WeftContext } from '../context.js'
import { clientIp } from '../limits/connections.js'
import { httpSessions } from '../transports/http-session.js'
import { defaultPollTimeoutS, maxPollTimeoutS, pollHubs } from '../transports/long-poll.js'
import { docRequest, HttpProblem, preflight, sendProblem } from './request.js'

export function pollRoutes (router: Router, ctx: WeftContext): void {
  const sessions = httpSessions(ctx)
  const hubs = pollHubs(ctx)

  preflight(router, ctx, '/docs/:doc/poll', 'GET')
  router.get('/docs/:doc/poll', async (req, res) => {
    const releases: Array<() => void> = []
    const release = (): void => { for (const r of releases.splice(0)) r() }
    try {
      const { doc, grant, sessionId } = await docRequest(ctx, req, res)
      const q = req.query
      let timeoutS = parseTimeout(q.timeout)
      // A held poll ends when its token does (answered like a timeout; the next poll gets 401).
      if (grant.expiresAt !== undefined) timeoutS = Math.min(timeoutS, Math.max(0, Math.floor(grant.expiresAt - Date.now() / 1000)))
      const sv = q.sv === undefined ? undefined : parseStateVector(q.sv)
      // A held poll counts as an observer of its address (maxObserversPerIp → 429).
      releases.push(ctx.limits.admitObserver(clientIp(req)))
      const holder = {}
      const shared = await ctx.registry.acquire(doc, holder)
      releases.push(() => ctx.registry.release(doc, holder))
      const session = sessionId == null ? null : await sessions.get(doc, sessionId, grant.access)
      if (session != null) releases.push(session.hold())
      hubs.poll(res, {
        doc: shared,
        session,
        cursor: typeof q.cursor === 'string' ? q.cursor : null,
        aw: typeof q.aw === 'string' ? q.aw : null,
        sv,
        timeoutS,
        release
      })
    } catch (err) {
      release()
      sendProblem(ctx, res, err, 'poll')
    }
  })
}

function parseTimeout (value: unknown): number {
  if (value === undefined || value === '') return defaultPollTimeoutS
  const n = Number(value)
  if (typeof value !== 'string' || !Number.isFinite(n) || n < 0) throw new HttpProblem(400, 'timeout must be a number of seconds ≥ 0')
  return Math.min(Math.floor(n), maxPollTimeoutS)
}

function parseStateVector (value: unknown): Uint8Array {
  try {
    const sv = base64ToBytes(String(value))
    Y.decodeStateVector(sv) // throws on garbage, before it reaches encodeStateAsUpdate
    return sv
  } catch {
    throw new HttpProblem(400, 'sv must be a base64 Yjs state vector')
  }
}
