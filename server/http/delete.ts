/**
 * `DELETE /docs/:doc`: a doc and everything stored for it go, for good (docs/delete.ts). Needs
 * the admin credential, like `GET /docs` and `/admin/disconnect` (server/auth/admin.ts): a write
 * grant can change every byte of a doc, but every change it makes is kept (history, versions)
 * and can be undone; a delete cannot, and it takes the versions with it. An embedder whose users
 * may delete their own docs calls `weft.deleteDoc()` from a route of its own, after its checks.
 *
 * Answers: 200 `{ doc, deleted: true }`; 404 for a doc neither stored nor loaded (nothing is
 * written); 401/403 without the admin credential. What the doc's peers get: WebSocket editors a
 * 4410 close, SSE streams an `event: deleted` and their end, held polls a 410.
 */
import type { Router } from 'express'
import type { WeftContext } from '../context.js'
import { adminCheck, challengeAdmin } from '../auth/admin.js'
import { checkDocName } from '../doc-name.js'
import { deleteDoc } from '../docs/delete.js'
import { WeftError } from '../errors.js'
import { corsHeaders, preflight, sendProblem } from './request.js'

/** Deletes `doc` on this node and in storage, then tells the hooks; false when there was nothing to delete. */
export async function deleteDocument (ctx: WeftContext, doc: string, user?: string): Promise<boolean> {
  const existed = await deleteDoc(ctx.registry, ctx.options.storage, doc, ctx.docWipes)
  if (existed) {
    ctx.metrics.inc('docs_deleted_total')
    ctx.options.logger.info({ doc, user }, 'doc deleted')
    ctx.session.hooks?.deleted({ doc, user })
  }
  return existed
}

export function deleteRoutes (router: Router, ctx: WeftContext): void {
  const checkAdmin = adminCheck(ctx)
  preflight(router, ctx, '/docs/:doc', 'GET, DELETE')
  router.delete('/docs/:doc', async (req, res) => {
    res.set({ ...corsHeaders(ctx, req), 'Cache-Control': 'no-store' })
    try {
      if (ctx.closing) throw new WeftError('shuttingDown', 'server is shutting down')
      const doc = checkDocName(String(req.params.doc ?? ''), ctx.options.maxDocNameLength)
      const admin = await checkAdmin(req)
      res.locals.weftUser = admin.user
      if (!(await deleteDocument(ctx, doc, admin.user))) {
        res.status(404).json({ error: `no doc named "${doc}"` })
        return
      }
      res.json({ doc, deleted: true })
    } catch (err) {
      challengeAdmin(res, err)
      sendProblem(ctx, res, err, 'delete')
    }
  })
}
