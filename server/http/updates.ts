/**
 * The up direction for HTTP-only editors: `POST /docs/:doc/updates` (one Yjs update, binary or
 * `{ update: base64 }`), `POST /docs/:doc/awareness` (one awareness update, binary or
 * `{ update: base64 }`) and `DELETE /docs/:doc/session` (an HTTP editor leaving). 204 only once
 * the update is stored and broadcast, so a client that got its 204 may forget the update;
 * anything else and it resyncs by state vector.
 */
import type { Request, Response, Router } from 'express'
import type { WeftContext } from '../context.js'
import { decodeAwarenessEntries } from '../../shared/awareness.js'
import { base64ToBytes } from '../../shared/base64.js'
import { ClientIdConflictError } from '../docs/client-ids.js'
import { cursorPipe, Session } from '../session.js'
import type { HttpSessions } from '../transports/http-session.js'
import { docRequest, preflight, requireWrite, sendProblem } from './request.js'
import { WeftError } from '../errors.js'
import { readBody } from './body.js'

/** True when an awareness update only removes states (every entry "null"); false for anything else, malformed included. */
function onlyRemovals (update: Uint8Array, maxStateLength: number): boolean {
  try {
    const entries = decodeAwarenessEntries(update, { maxEntries: 1024, maxStateLength })
    return entries.length > 0 && entries.every(e => e.isNull)
  } catch {
    return false // the session's own decoding answers it (400)
  }
}

export function updateRoutes (router: Router, ctx: WeftContext, sessions: HttpSessions): void {
  const limit = ctx.options.maxMessageBytes
  // base64 is 4/3 of the bytes, plus the JSON around it.
  const jsonLimit = Math.ceil(limit * 4 / 3) + 1024

  /** Reads the body as bytes: 413 at the limit (http/body.ts), 415 for other types, 400 for bad JSON/base64. */
  async function body (req: Request, res: Response): Promise<Uint8Array> {
    const type = (req.headers['content-type'] ?? '').toLowerCase()
    const isJson = type.startsWith('application/json')
    if (!isJson && !type.startsWith('application/octet-stream')) throw new WeftError('unsupportedType', 'send application/octet-stream or application/json { update: base64 }')
    const bytes = await readBody(req, res, isJson ? jsonLimit : limit)
    ctx.traffic.http.received.inc(bytes.byteLength)
    if (!isJson) return new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength)
    let parsed: unknown
    try {
      parsed = JSON.parse(bytes.toString('utf8'))
    } catch {
      throw new WeftError('malformed', 'body is not JSON')
    }
    const text = (parsed as { update?: unknown } | null)?.update
    if (typeof text !== 'string') throw new WeftError('malformed', 'JSON body must be { update: base64 }')
    try {
      return base64ToBytes(text)
    } catch {
      throw new WeftError('malformed', 'update is not base64')
    }
  }

  preflight(router, ctx, '/docs/:doc/updates', 'POST')
  preflight(router, ctx, '/docs/:doc/awareness', 'POST')
  preflight(router, ctx, '/docs/:doc/session', 'DELETE')

  router.post('/docs/:doc/updates', async (req, res) => {
    let release = (): void => {}
    try {
      const { doc, grant, sessionId } = await docRequest(ctx, req, res)
      requireWrite(grant)
      const update = await body(req, res)
      let editor: Session
      if (sessionId != null) {
        const session = await sessions.get(doc, sessionId, grant.access, grant.user)
        release = session.hold()
        editor = session.session
      } else {
        // No session: a one-shot writer (a script, a webhook), an editor for this request only
        // that never joins the doc's peers. Hold the doc for the request.
        const lease = await ctx.registry.lease(doc)
        release = lease.release
        editor = new Session(lease.doc, cursorPipe(), grant.access, ctx.session, grant.user, 'http')
      }
      // A WebSocket editor's rules (server/session.ts): 400 for an invalid update or too many
      // pending structs; 409 for a client id that names other content here, which also ends the
      // session (its awareness goes with it), as it closes a WebSocket with 4409.
      try {
        await editor.write(update)
      } catch (err) {
        if (err instanceof ClientIdConflictError) ctx.options.logger.warn({ doc, user: grant.user, client: err.client, clock: err.clock }, 'refused an update: its client id names different content on the server')
        throw err
      }
      ctx.metrics.inc('http_updates_total')
      res.status(204).end()
    } catch (err) {
      sendProblem(ctx, res, err, 'updates')
    } finally {
      release()
    }
  })

  // An HTTP editor leaving (or switching to WebSocket): its awareness ids are freed now rather
  // than after the idle timeout, so its next connection may claim them at once.
  router.delete('/docs/:doc/session', async (req, res) => {
    try {
      const { doc, sessionId } = await docRequest(ctx, req, res)
      if (sessionId == null) throw new WeftError('malformed', 'send X-Weft-Session or ?session=')
      sessions.end(doc, sessionId)
      res.status(204).end()
    } catch (err) {
      sendProblem(ctx, res, err, 'session')
    }
  })

  router.post('/docs/:doc/awareness', async (req, res) => {
    let release = (): void => {}
    try {
      const { doc, grant, sessionId } = await docRequest(ctx, req, res)
      // Awareness ids are pinned to the session that introduced them: no session, no owner.
      if (sessionId == null) throw new WeftError('malformed', 'awareness needs a session: send X-Weft-Session or ?session=')
      const update = await body(req, res)
      // A goodbye (only removals) for a session that has ended — the client's DELETE got there
      // first — has nothing to remove: it must not start the session again, which would hold the
      // doc and an address slot until the idle timeout.
      if (sessions.peek(doc, sessionId) === undefined && onlyRemovals(update, ctx.options.maxAwarenessStateBytes)) {
        res.status(204).end()
        return
      }
      const session = await sessions.get(doc, sessionId, grant.access, grant.user)
      release = session.hold()
      // A WebSocket editor's rules (server/session.ts). A read-only session's presence and a
      // newcomer's state in a full doc are ignored, not refused: 204 (a 403 would make an HTTP
      // viewer's client stop; see `readOnlyPresence`). Too much presence: 413, and the session
      // is ended like the WebSocket it would be (4413).
      let refused: number[]
      try {
        refused = session.session.presence(update)
      } catch (err) {
        if (err instanceof WeftError && err.refusal === 'presenceTooLarge') session.expire()
        throw err
      }
      // Ids another session holds: over WebSocket ignored (the stock provider has no message for
      // it); an HTTP client is told, and retries (its previous connection may still hold them).
      if (refused.length > 0) throw new WeftError('clientIdConflict', `awareness client ids ${refused.join(', ')} belong to another session`)
      res.status(204).end()
    } catch (err) {
      sendProblem(ctx, res, err, 'awareness')
    } finally {
      release()
    }
  })
}
