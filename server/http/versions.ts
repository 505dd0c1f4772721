/**
 * A doc's versions over HTTP (docs/versions.ts):
 * - `GET /docs/:doc/versions` (read access): `{ doc, versions }`, newest first. Does not load the doc.
 * - `POST /docs/:doc/versions` (write access): takes a version now; optional JSON body
 *   `{ "name": "…" }` (1–200 characters, no control characters; any other field, type or body is
 *   400, a non-JSON body 415, over 4 KiB 413). 201 with the version's info.
 * - `POST /docs/:doc/versions/:id/restore` (write access): brings the doc back to that version's
 *   content as one update every peer receives; body empty or `{}`. 200 with `{ cursor, seq,
 *   version, before }` (`before`: a version holding the content it replaced, to undo with); 404
 *   for an unknown version.
 * Access is the doc's, as on every doc route; an admin credential (the admin token, or a JWT
 * with `"admin": true`, server/auth/admin.ts) may also do all three: an operator putting a doc
 * back after an accident. `GET /docs/:doc?version=ID` (snapshot.ts) and `/view/:doc?version=ID`
 * show a version, with the doc's read access.
 */
import type { Request, Response, Router } from 'express'
import { z } from 'zod'
import type { WeftContext } from '../context.js'
import { adminCheck } from '../auth/admin.js'
import { AuthError, type Grant } from '../auth/grant.js'
import { extractToken } from '../auth/token.js'
import { MAX_VERSION_NAME, VersionNotFound } from '../docs/versions.js'
import { WeftError } from '../errors.js'
import { readBody } from './body.js'
import { docRequest, preflight, requireWrite, sendProblem } from './request.js'

/** Bodies here are a name at most: 4 KiB leaves room for escapes and nothing else. */
const MAX_BODY_BYTES = 4096

// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u001f\u007f]/
const createBody = z.object({
  name: z.string().min(1).max(MAX_VERSION_NAME).refine(s => !CONTROL.test(s) && s.trim() !== '', 'a name without control characters, not blank')
}).partial().strict()
const restoreBody = z.object({}).strict()

export function versionRoutes (router: Router, ctx: WeftContext): void {
  const checkAdmin = adminCheck(ctx)

  /** The doc's grant; else, when the request carries an admin credential, write access. */
  async function access (req: Request, res: Response): Promise<{ doc: string, grant: Grant }> {
    try {
      return await docRequest(ctx, req, res)
    } catch (err) {
      if (!(err instanceof AuthError) || extractToken(req) === null) throw err
      const admin = await checkAdmin(req).catch(() => { throw err })
      const doc = String(req.params.doc)
      res.locals.weftUser = admin.user
      return { doc, grant: { access: 'write', ...(admin.user !== undefined ? { user: admin.user } : {}) } }
    }
  }

  /** A JSON body checked against `schema`; an empty body is `{}`. Throws 400 / 413 / 415. */
  async function body<T> (req: Request, res: Response, schema: z.ZodType<T>): Promise<T> {
    const bytes = await readBody(req, res, MAX_BODY_BYTES)
    if (bytes.byteLength === 0) return schema.parse({})
    if (!(req.headers['content-type'] ?? '').toLowerCase().startsWith('application/json')) throw new WeftError('unsupportedType', 'send application/json')
    let parsed: unknown
    try {
      parsed = JSON.parse(bytes.toString('utf8'))
    } catch {
      throw new WeftError('malformed', 'body is not JSON')
    }
    const r = schema.safeParse(parsed)
    if (!r.success) throw new WeftError('malformed', `bad body: ${r.error.issues.map(i => `${i.path.join('.') || 'body'}: ${i.message}`).join('; ').slice(0, 300)}`)
    return r.data
  }

  preflight(router, ctx, '/docs/:doc/versions', 'GET, POST')
  preflight(router, ctx, '/docs/:doc/versions/:id/restore', 'POST')

  router.get('/docs/:doc/versions', async (req, res) => {
    try {
      const { doc } = await access(req, res)
      res.set('Cache-Control', 'no-store').json({ doc, versions: await ctx.versions.list(doc) })
    } catch (err) {
      sendProblem(ctx, res, err, 'versions')
    }
  })

  router.post('/docs/:doc/versions', async (req, res) => {
    let release = (): void => {}
    try {
      const { doc, grant } = await access(req, res)
      requireWrite(grant)
      const { name } = await body(req, res, createBody)
      const lease = await ctx.registry.lease(doc)
      release = lease.release
      const info = await ctx.versions.take(lease.doc, { ...(name !== undefined ? { name } : {}), ...(grant.user !== undefined ? { by: grant.user } : {}) })
      res.status(201).set('Cache-Control', 'no-store').json(info)
    } catch (err) {
      sendProblem(ctx, res, err, 'versions')
    } finally {
      release()
    }
  })

  router.post('/docs/:doc/versions/:id/restore', async (req, res) => {
    let release = (): void => {}
    try {
      const { doc, grant } = await access(req, res)
      requireWrite(grant)
      await body(req, res, restoreBody)
      const id = String(req.params.id)
      // An unknown version is answered without loading the doc.
      if (await ctx.versions.info(doc, id) === undefined) throw new VersionNotFound(id)
      const lease = await ctx.registry.lease(doc)
      release = lease.release
      res.set('Cache-Control', 'no-store').json(await ctx.versions.restore(lease.doc, id, grant.user))
    } catch (err) {
      sendProblem(ctx, res, err, 'restore')
    } finally {
      release()
    }
  })
}
