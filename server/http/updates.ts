/**
 * The up direction for HTTP-only editors: `POST /docs/:doc/updates` (one Yjs update, binary or
 * `{ update: base64 }`), `POST /docs/:doc/awareness` (one awareness update, binary or
 * `{ update: base64 }`) and `DELETE /docs/:doc/session` (an HTTP editor leaving). 204 only once
 * the update is stored and broadcast, so a client that got its 204 may forget the update;
 * anything else and it resyncs by state vector.
 */
import express, { type Request, type Response, type Router } from 'express'
import type { WeftContext } from '../context.js'
import { decodeAwarenessUpdate } from '../../shared/awareness.js'
import { base64ToBytes } from '../../shared/base64.js'
import { validateUpdate } from '../docs/validate.js'
import { dependsOnMissing, MAX_PENDING_BYTES, pendingBytes } from '../docs/dependencies.js'
import type { DocPeer } from '../docs/broadcast.js'
import { httpSessions } from '../transports/http-session.js'
import { docRequest, HttpProblem, preflight, requireWrite, sendProblem } from './request.js'

export function updateRoutes (router: Router, ctx: WeftContext): void {
  const sessions = httpSessions(ctx)
  const limit = ctx.options.maxMessageBytes
  const raw = express.raw({ type: 'application/octet-stream', limit })
  // base64 is 4/3 of the bytes, plus the JSON around it.
  const json = express.json({ type: 'application/json', limit: Math.ceil(limit * 4 / 3) + 1024 })

  /** Reads the body as bytes: 413 past the limit, 415 for other types, 400 for bad JSON/base64. */
  async function body (req: Request, res: Response): Promise<Uint8Array> {
    const type = req.headers['content-type'] ?? ''
    const parser = type.startsWith('application/json') ? json : type.startsWith('application/octet-stream') ? raw : null
    if (parser == null) throw new HttpProblem(415, 'send application/octet-stream or application/json { update: base64 }')
    await new Promise<void>((resolve, reject) => parser(req, res, (err?: unknown) => err == null ? resolve() : reject(err)))
    if (Buffer.isBuffer(req.body)) return new Uint8Array(req.body.buffer, req.body.byteOffset, req.body.byteLength)
    const text = (req.body as { update?: unknown } | undefined)?.update
    if (typeof text !== 'string') throw new HttpProblem(400, 'JSON body must be { update: base64 }')
    try {
      return base64ToBytes(text)
    } catch {
      throw new HttpProblem(400, 'update is not base64')
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
      const decoded = validateUpdate(update, { maxUpdateBytes: limit })
      let peer: DocPeer | null = null
      let shared
      if (sessionId != null) {
        const session = await sessions.get(doc, sessionId, grant.access)
        release = session.hold()
        session.own.add(update)
        peer = session
        shared = session.doc
      } else {
        // No session: a one-shot writer (a script, a webhook). Hold the doc for the request only.
        const holder = {}
        shared = await ctx.registry.acquire(doc, holder)
        release = () => ctx.registry.release(doc, holder)
      }
      // Same bound as the WebSocket session (docs/dependencies.ts): no pile-up of pending structs.
      if (pendingBytes(shared.ydoc) + update.byteLength > MAX_PENDING_BYTES && dependsOnMissing(decoded, shared.ydoc)) {
        throw new HttpProblem(400, 'update depends on structs the server does not have, and too many such updates are pending')
      }
      await shared.submit(update, peer)
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
      if (sessionId == null) throw new HttpProblem(400, 'send X-Weft-Session or ?session=')
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
      if (sessionId == null) throw new HttpProblem(400, 'awareness needs a session: send X-Weft-Session or ?session=')
      const update = await body(req, res)
      const entries = decodeAwarenessUpdate(update, { maxEntries: 64, maxStateLength: ctx.options.maxAwarenessStateBytes })
      const session = await sessions.get(doc, sessionId, grant.access)
      release = session.hold()
      const refused = session.doc.applyAwareness(entries, session)
      if (refused.length > 0) {
        ctx.options.logger.warn({ doc, user: grant.user, refused }, 'refused awareness for client ids owned by another peer')
        throw new HttpProblem(409, `awareness client ids ${refused.join(', ')} belong to another session`)
      }
      res.status(204).end()
    } catch (err) {
      sendProblem(ctx, res, err, 'awareness')
    } finally {
      release()
    }
  })
}
