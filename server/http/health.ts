/** Liveness, readiness and metrics. */
import type { Router } from 'express'
import type { WeftContext } from '../context.js'
import { readinessProblems } from '../readiness.js'

export function healthRoutes (router: Router, ctx: WeftContext): void {
  router.get('/healthz', (_req, res) => {
    res.type('text/plain').send('ok\n')
  })

  router.get('/readyz', (_req, res) => {
    const problems = readinessProblems(ctx)
    res.status(problems.length === 0 ? 200 : 503).type('text/plain').send(problems.length === 0 ? 'ready\n' : `not ready: ${problems.join('; ')}\n`)
  })

  router.get('/metrics', (_req, res, next) => {
    ctx.metrics.render().then(text => { res.type(ctx.metrics.contentType).send(text) }, next)
  })
}
