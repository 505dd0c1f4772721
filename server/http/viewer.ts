/**
 * `GET /view/:doc`: the live read-only viewer page (viewer-page.ts). Behind `ctx.authorize`
 * like the stream it reads, so a visitor without read access gets 401/403, not an empty page.
 * Served even with `ui: false`: it is an observer feature, not a newcomer page.
 * `?version=ID` shows that version instead of the live doc (404 for an unknown one).
 */
import { randomBytes } from 'node:crypto'
import type { Router } from 'express'
import type { WeftContext } from '../context.js'
import { queryParam, readRequest, sendProblem } from './request.js'
import { VersionNotFound } from '../docs/versions.js'
import { viewerCsp, viewerPage } from '../ui/viewer-page.js'

export function viewerRoutes (router: Router, ctx: WeftContext): void {
  router.get('/view/:doc', async (req, res) => {
    try {
      const { doc } = await readRequest(ctx, req)
      // `?version=ID` shows a stored version (the page fetches it): an unknown one is a 404 here.
      const version = queryParam(req, 'version')
      if (version !== undefined && await ctx.versions.info(doc, version) === undefined) throw new VersionNotFound(version)
      const nonce = randomBytes(16).toString('base64')
      res.status(200).set({
        'Content-Security-Policy': viewerCsp(nonce),
        'Cache-Control': 'no-store',
        'X-Content-Type-Options': 'nosniff',
        // The page URL may carry ?token=: never leak it to linked sites.
        'Referrer-Policy': 'no-referrer'
      }).type('html').send(viewerPage(nonce))
    } catch (err) {
      sendProblem(ctx, res, err, 'viewer')
    }
  })
}
