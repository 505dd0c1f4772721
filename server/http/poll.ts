/**
 * `GET /docs/:doc/poll?cursor=&aw=&timeout=&sv=` — long polling (see transports/long-poll.ts).
 * Without a usable cursor the answer is a `reset`: the state the client lacks (relative to its
 * state vector `sv`, base64, when given) plus the server's state vector and a fresh cursor.
 * HTTP-tier clients use `timeout=0` with `sv` as their state-vector handshake on every connect.
 * Awareness: every reset carries the full awareness and an `aw` cursor; a client that passes `aw`
 * back is answered for awareness changes too (without `aw` it only hears about updates).
 * `timeout` is in seconds (default 25, at most 55, fractions kept to the millisecond), counted
 * from the request's arrival.
 */
import type { Response, Router } from 'express'
import * as Y from 'yjs'
import { base64ToBytes } from '../../shared/base64.js'
import type { WeftContext } from '../context.js'
import { clientIp, type Slot } from '../limits/connections.js'
import type { HttpSession, HttpSessions } from '../transports/http-session.js'
import type { SharedDoc } from '../docs/shared-doc.js'
import { defaultPollTimeoutS, maxPollTimeoutS, type PollHubs } from '../transports/long-poll.js'
import { docRequest, preflight, sendProblem } from './request.js'
import { WeftError } from '../errors.js'
import { msUntilExpiry } from '../auth/expiry.js'
import { validateStateVector } from '../docs/validate.js'
import { bytesToBase64 } from '../../shared/base64.js'
import { parseCursor } from '../../shared/cursor.js'
import { BLANK_SEQ, blankCursor, followCursor } from '../docs/blank.js'
import type { PollBody } from '../../shared/poll.js'
import { holdForReader } from '../limits/reader-hold.js'

export function pollRoutes (router: Router, ctx: WeftContext, sessions: HttpSessions, hubs: PollHubs): void {

  preflight(router, ctx, '/docs/:doc/poll', 'GET')
  router.get('/docs/:doc/poll', async (req, res) => {
    // The timeout counts from here: loading the doc or session must not make the answer late.
    const receivedAt = performance.now()
    const releases: Slot[] = []
    const release = (): void => { for (const r of releases.splice(0)) r.release() }
    try {
      const { doc, grant, sessionId } = await docRequest(ctx, req, res)
      const q = req.query
      let timeoutMs = parseTimeout(q.timeout)
      // A held poll ends when its token does (answered like a timeout; the next poll gets 401).
      timeoutMs = Math.min(timeoutMs, msUntilExpiry(grant) ?? timeoutMs)
      const sv = q.sv === undefined ? undefined : parseStateVector(q.sv)
      // A held poll counts as an observer of its address (maxObserversPerIp → 429).
      releases.push(ctx.limits.admitObserver(clientIp(req)))
      let shared: SharedDoc
      let session: HttpSession | null = null
      if (sessionId == null) {
        // An observer's poll of a doc nobody wrote and nobody has open is answered as empty
        // without loading it, unless it is to be held: then it counts against its address's
        // empty-doc budget (limits/reader-hold.ts). A reader walking made-up names filled maxDocs.
        const seq = parseCursor(doc, q.cursor)
        if ((timeoutMs === 0 || seq === null) && !(await ctx.registry.exists(doc))) {
          release()
          // The blank cursor on a doc still blank: nothing new, as a held poll would time out.
          if (seq === BLANK_SEQ) res.status(204).set('Cache-Control', 'no-store').end()
          else sendEmptyReset(ctx, res, doc, sv)
          return
        }
        const hold = await holdForReader(ctx, doc, clientIp(req))
        releases.push(hold)
        shared = hold.doc
      } else {
        // An HTTP editor's poll: its session holds the doc.
        session = await sessions.get(doc, sessionId, grant.access, grant.user)
        releases.push({ release: session.hold() })
        shared = session.doc
      }
      if (sv !== undefined) validateStateVector(sv, shared.ydoc) // 400 past the doc's bound
      await shared.reach(parseCursor(doc, q.cursor))
      hubs.poll(res, {
        doc: shared,
        editor: session?.session ?? null,
        cursor: followCursor(shared, typeof q.cursor === 'string' ? q.cursor : null) ?? null,
        aw: typeof q.aw === 'string' ? q.aw : null,
        sv,
        timeoutMs,
        receivedAt,
        release
      })
    } catch (err) {
      release()
      sendProblem(ctx, res, err, 'poll')
    }
  })
}

/** The reset of a doc with nothing stored, built without loading it (cursor: docs/blank.ts). */
function sendEmptyReset (ctx: WeftContext, res: Response, name: string, sv: Uint8Array | undefined): void {
  const blank = new Y.Doc()
  try {
    if (sv !== undefined) validateStateVector(sv, blank)
    const body: PollBody = {
      cursor: blankCursor(name),
      // No hub, so no awareness epoch: any `aw` cursor of a later hub is foreign and gets the full awareness.
      aw: '0.0',
      reset: true,
      update: bytesToBase64(Y.encodeStateAsUpdate(blank, sv)),
      stateVector: bytesToBase64(Y.encodeStateVector(blank))
    }
    ctx.metrics.inc('polls_total')
    res.statusCode = 200
    res.setHeader('Cache-Control', 'no-store')
    res.setHeader('Content-Type', 'application/json; charset=utf-8')
    res.end(JSON.stringify(body))
  } finally {
    blank.destroy()
  }
}

/** `timeout` in seconds (fractions kept to the millisecond) → ms, at most `maxPollTimeoutS`. */
function parseTimeout (value: unknown): number {
  if (value === undefined || value === '') return defaultPollTimeoutS * 1000
  const n = Number(value)
  if (typeof value !== 'string' || !Number.isFinite(n) || n < 0) throw new WeftError('malformed', 'timeout must be a number of seconds ≥ 0')
  return Math.min(Math.floor(n * 1000), maxPollTimeoutS * 1000)
}

function parseStateVector (value: unknown): Uint8Array {
  try {
    const sv = base64ToBytes(String(value))
    Y.decodeStateVector(sv) // throws on garbage, before it reaches encodeStateAsUpdate
    return sv
  } catch {
    throw new WeftError('malformed', 'sv must be a base64 Yjs state vector')
  }
}
