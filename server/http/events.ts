/**
 * `GET /docs/:doc/events`: the SSE stream for read-only observers (server/transports/sse.ts).
 * Query: `view=json` adds the JSON view as `content` (`view=prosemirror`: the same, with XML
 * roots as ProseMirror JSON); `types=name:kind,…` pins root kinds (implies `view=json`); `awareness=0` drops awareness events; `cursor=` resumes like
 * `Last-Event-ID` (the header wins: EventSource sends the newer one on reconnect).
 */
import type { Router } from 'express'
import type { WeftContext } from '../context.js'
import { parseTypes } from '../docs/json-view.js'
import { parseView } from '../docs/prosemirror.js'
import { clientIp, type Slot } from '../limits/connections.js'
import type { SseTransport } from '../transports/sse.js'
import type { HttpSessions } from '../transports/http-session.js'
import { WeftError } from '../errors.js'
import { corsHeaders, queryParam, readRequest, sendProblem } from './request.js'

export function eventRoutes (router: Router, ctx: WeftContext, sse: SseTransport, sessions: HttpSessions): void {

  router.options('/docs/:doc/events', (req, res) => {
    res.set({ ...corsHeaders(ctx, req), 'Access-Control-Allow-Methods': 'GET', 'Access-Control-Allow-Headers': 'Last-Event-ID, Authorization, Accept', 'Access-Control-Max-Age': '600' }).status(204).end()
  })

  router.get('/docs/:doc/events', async (req, res) => {
    let slot: Slot | null = null
    try {
      const { doc, grant } = await readRequest(ctx, req)
      const view = queryParam(req, 'view')
      const types = queryParam(req, 'types')
      const viewKind = parseView(view)
      const pinned = view === 'json' || view === 'prosemirror' || types !== undefined ? parseTypes(types) : null
      const awareness = !['0', 'false', 'off'].includes(queryParam(req, 'awareness') ?? '')
      if (req.method === 'HEAD') {
        // Express answers HEAD with the GET route; a stream's body goes straight to the socket, so stop here.
        res.status(200).set({ ...corsHeaders(ctx, req), 'Content-Type': 'text/event-stream; charset=utf-8', 'Cache-Control': 'no-cache, no-transform' }).end()
        return
      }
      const header = req.headers['last-event-id']
      const cursor = (typeof header === 'string' && header !== '') ? header : queryParam(req, 'cursor')
      // Streams per client address are bounded (429 beyond); the transport frees the slot when
      // the stream ends (a slot object the stream keeps, not a `close` listener: bench "idle").
      slot = ctx.limits.admitObserver(clientIp(req))
      // An SSE + POST editor names its HTTP session: the stream keeps it alive and skips its echo.
      let editor
      const sessionId = queryParam(req, 'session')
      if (sessionId !== undefined && sessionId !== '') {
        const session = await sessions.get(doc, sessionId, grant.access, grant.user)
        res.once('close', session.hold())
        editor = session.session
      }
      await sse.open(req, res, { doc, grant, pinned, view: viewKind, awareness, cursor, headers: corsHeaders(ctx, req), editor, slot })
      // The stream owns this response for hours and never calls next(): drop the router's
      // per-request closures so an idle observer holds only what its socket needs (~1 KB less each).
      const loose = req as unknown as Record<string, unknown>
      loose.next = undefined
      loose.params = undefined
      ;(res as unknown as Record<string, unknown>).locals = undefined
    } catch (err) {
      slot?.release() // idempotent: whoever ends first frees it
      sendProblem(ctx, res, err, 'events')
    }
  })
}
