/**
 * What every HTTP editor route does first: check the doc name, authorize, and find the
 * caller's HTTP session. Failures become `HttpProblem`s with a defined status, answered as
 * `{ error }` JSON, so a bad request never reaches a doc.
 */
import type { Request, Response, Router } from 'express'
import type { WeftContext } from '../context.js'
import { checkDocName, DocNameError } from '../doc-name.js'
import { TooManyDocsError } from '../docs/registry.js'
import { AuthError, type Grant } from '../options.js'
import { SessionIdError, sessionIdOf, TooManySessionsError } from '../transports/http-session.js'

export class HttpProblem extends Error {
  override name = 'HttpProblem'
  constructor (readonly status: number, message: string) { super(message) }
}

export interface DocRequest {
  doc: string
  grant: Grant
  /** The session id the request names (header or `?session=`), or null. */
  sessionId: string | null
}

/**
 * CORS for the editor routes, by `corsOrigins` (as the read routes): a listed origin (or `*`)
 * may call them from a page on another origin. Set on every answer, errors included, so the
 * page can read the status; preflights (POST bodies, DELETE) are answered by `preflight`.
 */
export function setCors (ctx: WeftContext, req: Request, res: Response): void {
  const allowed = ctx.options.corsOrigins
  const origin = req.headers.origin
  if (allowed.length === 0 || origin === undefined) return
  if (allowed.includes(origin)) res.set({ 'Access-Control-Allow-Origin': origin, 'Access-Control-Allow-Credentials': 'true', Vary: 'Origin' })
  else if (allowed.includes('*')) res.set('Access-Control-Allow-Origin', '*')
}

export function preflight (router: Router, ctx: WeftContext, path: string, methods: string): void {
  router.options(path, (req, res) => {
    setCors(ctx, req, res)
    res.set({ 'Access-Control-Allow-Methods': methods, 'Access-Control-Allow-Headers': 'Content-Type, Authorization, X-Weft-Session', 'Access-Control-Max-Age': '600' }).status(204).end()
  })
}

export async function docRequest (ctx: WeftContext, req: Request, res?: Response): Promise<DocRequest> {
  if (res !== undefined) setCors(ctx, req, res)
  if (ctx.closing) throw new HttpProblem(503, 'server is shutting down')
  const doc = checkDocName(String(req.params.doc ?? ''), ctx.options.maxDocNameLength)
  const sessionId = sessionIdOf(req)
  const grant = await ctx.authorize(req, doc)
  return { doc, grant, sessionId }
}

export function requireWrite (grant: Grant): void {
  if (grant.access !== 'write') throw new HttpProblem(403, 'read-only access: updates are not accepted')
}

/** Maps any error of a route to its status and answers it. */
export function sendProblem (ctx: WeftContext, res: Response, err: unknown, route: string): void {
  const status = statusOf(err)
  if (status >= 500) ctx.options.logger.warn({ route, err }, 'HTTP editor request failed')
  ctx.metrics.inc(`http_editor_errors_total{route="${route}",status="${status}"}`)
  if (res.headersSent) { res.end(); return }
  if (status === 503) res.setHeader('Retry-After', '1')
  res.status(status).json({ error: (err as Error)?.message ?? 'error' })
}

function statusOf (err: unknown): number {
  if (err instanceof HttpProblem) return err.status
  if (err instanceof DocNameError || err instanceof SessionIdError) return 400
  if (err instanceof AuthError) return err.status
  if (err instanceof TooManySessionsError) return 429
  if (err instanceof TooManyDocsError) return 503
  const status = (err as { status?: unknown })?.status // body-parser errors carry one (413, 400, 415)
  if (typeof status === 'number' && status >= 400 && status < 600) return status
  if ((err as Error)?.name === 'ProtocolError') return 400
  if ((err as Error)?.name === 'StorageError') return 503
  return 500
}
