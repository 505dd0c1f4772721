/**
 * All HTTP routes as one Express 5 router, so an embedder can mount them anywhere
 * (`app.use('/collab', weft.router)`). Each file in this folder adds one group of routes.
 */
import express from 'express'
import type { WeftContext } from '../context.js'
import type { Transports } from '../transports/index.js'
import { healthRoutes } from './health.js'
import { docListRoutes } from './doc-list.js'
import { uiRoutes } from '../ui/routes.js'
import { eventRoutes } from './events.js'
import { snapshotRoutes } from './snapshot.js'
import { viewerRoutes } from './viewer.js'
import { updateRoutes } from './updates.js'
import { pollRoutes } from './poll.js'
import { limitRoutes } from './limit.js'
import { deleteRoutes } from './delete.js'
import { versionRoutes } from './versions.js'
import { contentRoutes } from './content.js'

/** The routes of `ctx`, served by the transports built once for it (transports/index.ts). */
export function createRouter (ctx: WeftContext, transports: Transports): express.Router {
  const router = express.Router()
  healthRoutes(router, ctx)
  docListRoutes(router, ctx)
  uiRoutes(router, ctx)
  // Before every doc route: request budgets per address and per session.
  limitRoutes(router, ctx, transports.sessions, transports.requestsPerIp)
  eventRoutes(router, ctx, transports.sse, transports.sessions)
  snapshotRoutes(router, ctx)
  deleteRoutes(router, ctx)
  versionRoutes(router, ctx)
  viewerRoutes(router, ctx)
  updateRoutes(router, ctx, transports.sessions)
  contentRoutes(router, ctx)
  pollRoutes(router, ctx, transports.sessions, transports.polls)
  return router
}
