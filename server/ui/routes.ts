/**
 * The newcomer pages: `GET /` (home), `GET /edit/:doc` (live editor) and its bundle
 * (`GET /ui/assets/:file`). Off with `ui: false` / `--no-ui`: then none of these routes exist
 * (404). `/view/:doc` is not governed by this switch: it is an observer feature (like SSE),
 * guarded by auth, and useful in production.
 */
import type { Request, Router } from 'express'
import type { WeftContext } from '../context.js'
import { checkDocName, DocNameError } from '../doc-name.js'
import { version } from '../version.js'
import { editCsp, renderEdit } from './edit-page.js'
import { escapeHtml, page } from './html.js'
import { defaultDoc, homeCsp, renderHome } from './home-page.js'
import { readManifest, serveAsset } from './assets.js'
import { encodeSegment } from './snippets.js'
import { readinessProblems } from '../readiness.js'
import { adminRequired } from '../auth/admin.js'
import { authConfigured } from '../auth/authorize.js'

/** The absolute URLs this request reached the server by (Host header, proxy-aware protocol). */
export function requestUrls (req: Request): { http: string, ws: string } {
  const host = req.get('host') ?? 'localhost'
  const secure = req.protocol === 'https'
  return { http: `${secure ? 'https' : 'http'}://${host}${req.baseUrl}`, ws: `${secure ? 'wss' : 'ws'}://${host}` }
}

function sendHtml (res: import('express').Response, status: number, html: string, csp = "default-src 'none'; style-src 'unsafe-inline'"): void {
  // Rendered per request (live status): never cached; and never framed by another site.
  res.status(status)
    .set('Cache-Control', 'no-store')
    .set('Content-Security-Policy', csp)
    .set('X-Content-Type-Options', 'nosniff')
    .set('X-Frame-Options', 'SAMEORIGIN')
    .type('html')
    .send(html)
}

export function uiRoutes (router: Router, ctx: WeftContext): void {
  if (!ctx.options.ui) return
  const auth = (): boolean => authConfigured(ctx.options)

  router.get('/', (req, res) => {
    const problems = readinessProblems(ctx)
    const docs = ctx.registry.docs()
    sendHtml(res, 200, renderHome({
      version,
      basePath: req.baseUrl,
      urls: requestUrls(req),
      ready: problems.length === 0,
      problems,
      storage: ctx.options.storage.kind,
      docsLoaded: docs.length,
      peers: docs.reduce((n, d) => n + d.peers.size, 0),
      auth: auth(),
      docsLocked: adminRequired(ctx)
    }), homeCsp)
  })

  // The home page form without JavaScript: /edit?doc=name → /edit/name
  router.get('/edit', (req, res) => {
    const doc = typeof req.query.doc === 'string' && req.query.doc.trim() !== '' ? req.query.doc.trim() : defaultDoc
    res.redirect(302, `${req.baseUrl}/edit/${encodeSegment(doc)}`)
  })

  router.get('/edit/:doc', async (req, res) => {
    const doc = String(req.params.doc)
    try {
      checkDocName(doc, ctx.options.maxDocNameLength)
    } catch (err) {
      if (!(err instanceof DocNameError)) throw err
      sendHtml(res, 400, page({ title: 'Bad document name — Weft', body: `<p style="padding:24px">Bad document name: ${escapeHtml(err.message)}. <a href="${escapeHtml(req.baseUrl)}/">Back home</a></p>` }))
      return
    }
    const manifest = await readManifest()
    const urls = requestUrls(req)
    sendHtml(res, 200, renderEdit({
      doc,
      version,
      basePath: req.baseUrl,
      httpBase: urls.http,
      script: manifest?.editor ?? null,
      auth: auth()
    }), editCsp(new URL(urls.ws).origin))
  })

  router.get('/ui/assets/:file', serveAsset)
}
