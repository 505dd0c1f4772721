/**
 * What every doc route does first, and how every doc route answers an error: check the doc
 * name, ask `ctx.authorize`, apply CORS, map any failure to one defined status with a short
 * `{ error }` body. A bad request never reaches a doc.
 */
import type { Request, Response, Router } from 'express'
import type { WeftContext } from '../context.js'
import { checkDocName } from '../doc-name.js'
import { clientIp, LimitError } from '../limits/connections.js'
import type { Grant } from '../auth/grant.js'
import { statusOf, WeftError } from '../errors.js'
import { sessionIdOf } from '../transports/http-session.js'

export interface DocRequest {
  doc: string
  grant: Grant
  /** The HTTP editor session the request names (`X-Weft-Session` or `?session=`), or null. */
  sessionId: string | null
}

/**
 * CORS per `corsOrigins`: a listed origin is echoed with credentials (so cookie tokens work);
 * `*` lets any page read without credentials (a cookie never travels then).
 */
export function corsHeaders (ctx: WeftContext, req: Request): Record<string, string> {
  const allowed = ctx.options.corsOrigins
  const origin = req.headers.origin
  if (allowed.length === 0 || origin === undefined) return {}
  if (allowed.includes(origin)) return { 'Access-Control-Allow-Origin': origin, 'Access-Control-Allow-Credentials': 'true', Vary: 'Origin' }
  if (allowed.includes('*')) return { 'Access-Control-Allow-Origin': '*' }
  return {}
}

/** Answers CORS preflights for the editor routes (POST bodies, DELETE). */
export function preflight (router: Router, ctx: WeftContext, path: string, methods: string): void {
  router.options(path, (req, res) => {
    res.set(corsHeaders(ctx, req))
    res.set({ 'Access-Control-Allow-Methods': methods, 'Access-Control-Allow-Headers': 'Content-Type, Authorization, X-Weft-Session', 'Access-Control-Max-Age': '600' }).status(204).end()
  })
}

/** Doc name and grant of an observer route (SSE, snapshot, viewer): a read grant is enough. */
export async function readRequest (ctx: WeftContext, req: Request): Promise<{ doc: string, grant: Grant }> {
  if (ctx.closing) throw new WeftError('shuttingDown', 'server is shutting down')
  const doc = checkDocName(String(req.params.doc ?? ''), ctx.options.maxDocNameLength)
  const grant = await ctx.authorize(req, doc)
  if (req.res !== undefined) req.res.locals.weftUser = grant.user
  return { doc, grant }
}

/**
 * Doc name, grant and session of an editor route. CORS headers are set first, on every answer
 * errors included, so a page on another origin can read the status.
 */
export async function docRequest (ctx: WeftContext, req: Request, res: Response): Promise<DocRequest> {
  res.set(corsHeaders(ctx, req))
  if (ctx.closing) throw new WeftError('shuttingDown', 'server is shutting down')
  const doc = checkDocName(String(req.params.doc ?? ''), ctx.options.maxDocNameLength)
  const sessionId = sessionIdOf(req)
  const grant = await ctx.authorize(req, doc)
  // For the refusal log line of this request (sendProblem), should a later check refuse it.
  res.locals.weftUser = grant.user
  return { doc, grant, sessionId }
}

export function requireWrite (grant: Grant): void {
  if (grant.access !== 'write') throw new WeftError('forbidden', 'read-only access: updates are not accepted')
}

/** One query parameter as a string (the first when repeated), or undefined. */
export function queryParam (req: Request, name: string): string | undefined {
  const v = (req.query as Record<string, unknown>)[name]
  const first = Array.isArray(v) ? v[0] : v
  return typeof first === 'string' ? first : undefined
}

/** Which transport a route serves, for logs: editors' POSTs are `http`, streams `sse`, polls `poll`. */
const transportOf: Record<string, string> = { events: 'sse', poll: 'poll', updates: 'http', awareness: 'http', session: 'http', snapshot: 'http', delete: 'http', viewer: 'http', rate: 'http' }

/**
 * Answers an error of a doc route with its status, counted per route and status, and logged as
 * one line with the doc, transport, address, user and status (500s at error, the rest at info:
 * refusals are the server working as designed, but an operator asking why a client cannot get
 * in needs them).
 */
export function sendProblem (ctx: WeftContext, res: Response, err: unknown, route: string): void {
  const status = statusOf(err)
  const req = res.req
  const fields = { doc: typeof req.params?.doc === 'string' ? req.params.doc : undefined, transport: transportOf[route] ?? 'http', route, ip: clientIp(req), user: res.locals.weftUser as string | undefined, status }
  if (status >= 500) ctx.options.logger.error({ ...fields, err }, 'request failed')
  else ctx.options.logger.info({ ...fields, err: (err as Error | null)?.message }, 'request refused')
  ctx.metrics.inc(`http_errors_total{route="${route}",status="${status}"}`)
  if (res.headersSent) { res.end(); return }
  if (status === 503) res.setHeader('Retry-After', '1')
  // Every refusal by a limit says when to come back (a rate limit: when its bucket has a token).
  if (status === 429) res.setHeader('Retry-After', String(err instanceof LimitError ? err.retryAfterS : 1))
  res.status(status).json({ error: (err as Error | null)?.message ?? 'error' })
}
