/**
 * `GET /view/:doc`: the live read-only viewer page (viewer-page.ts). Behind `ctx.authorize`
 * like the stream it reads, so a visitor without read access gets 401/403, not an empty page.
 * Served even with `ui: false`: it is an observer feature, not a newcomer page.
 */
import { randomBytes } from 'node:crypto'
import type { Router } from 'express'
import type { WeftContext } from '../context.js'
import { readRequest, sendProblem } from './request.js'
import { viewerCsp, viewerPage } from '../ui/viewer-page.js'

export function viewerRoutes (router: Router, ctx: WeftContext): void {
  router.get('/view/:doc', async (req, res) => {
    try {
      await readRequest(ctx, req)
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
