/**
 * All HTTP routes as one Express 5 router, so an embedder can mount them anywhere
 * (`app.use('/collab', weft.router)`). Each file in this folder adds one group of routes.
 */
import express from 'express'
import type { WeftContext } from '../context.js'
import { healthRoutes } from './health.js'

export function createRouter (ctx: WeftContext): express.Router {
  const router = express.Router()
  healthRoutes(router, ctx)
  return router
}
