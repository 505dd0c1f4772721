/**
 * What every observer route (SSE, snapshot, viewer) does first: check the doc name and ask
 * `ctx.authorize` (a read grant is enough). Failures get a defined status and a short
 * `{ error }` body, before any doc is loaded.
 */
import type { Request, Response } from 'express'
import type { WeftContext } from '../context.js'
import { checkDocName, DocNameError } from '../doc-name.js'
import { TypesSpecError } from '../docs/json-view.js'
import { TooManyDocsError } from '../docs/registry.js'
import { AuthError, type Grant } from '../options.js'

export class BadRequest extends Error {
  override name = 'BadRequest'
}

export async function readRequest (ctx: WeftContext, req: Request): Promise<{ doc: string, grant: Grant }> {
  if (ctx.closing) throw Object.assign(new Error('server is shutting down'), { status: 503 })
  const doc = checkDocName(String(req.params.doc ?? ''), ctx.options.maxDocNameLength)
  const grant = await ctx.authorize(req, doc)
  return { doc, grant }
}

/** One query parameter as a string (the first when repeated), or undefined. */
export function queryParam (req: Request, name: string): string | undefined {
  const v = (req.query as Record<string, unknown>)[name]
  const first = Array.isArray(v) ? v[0] : v
  return typeof first === 'string' ? first : undefined
}

/**
 * CORS for the read routes, per `corsOrigins`: a listed origin is echoed (with credentials, so
 * cookie tokens work); `*` lets any page read without credentials (a cookie never travels then).
 */
export function corsHeaders (ctx: WeftContext, req: Request): Record<string, string> {
  const allowed = ctx.options.corsOrigins
  const origin = req.headers.origin
  if (allowed.length === 0 || origin === undefined) return {}
  if (allowed.includes(origin)) return { 'Access-Control-Allow-Origin': origin, 'Access-Control-Allow-Credentials': 'true', Vary: 'Origin' }
  if (allowed.includes('*')) return { 'Access-Control-Allow-Origin': '*' }
  return {}
}

export function statusOf (err: unknown): number {
  if (err instanceof DocNameError || err instanceof TypesSpecError || err instanceof BadRequest) return 400
  if (err instanceof AuthError) return err.status
  if (err instanceof TooManyDocsError) return 503
  const status = (err as { status?: unknown } | null)?.status // LimitError (429), shutting down (503)
  if (typeof status === 'number' && status >= 400 && status < 600) return status
  return 500
}

/** Answers an error of a read route with its status. */
export function sendReadProblem (ctx: WeftContext, res: Response, err: unknown, route: string): void {
  const status = statusOf(err)
  if (status >= 500 && status !== 503) ctx.options.logger.error({ route, err }, 'read route failed')
  ctx.metrics.inc(`http_read_errors_total{route="${route}",status="${status}"}`)
  if (res.headersSent) { res.end(); return }
  if (status === 503) res.setHeader('Retry-After', '1')
  res.status(status).json({ error: (err as Error)?.message ?? 'error' })
}
