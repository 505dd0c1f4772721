/** Liveness, readiness and metrics. */
import type { Router } from 'express'
import type { WeftContext } from '../context.js'

/** Why the server is not ready, or [] when it is: what /readyz and the home page report. */
export function readinessProblems (ctx: WeftContext): string[] {
  const problems: string[] = []
  if (ctx.closing) problems.push('shutting down')
  const storage = ctx.options.storage
  if (storage.ready !== undefined && !storage.ready()) problems.push(`storage (${storage.kind}) not ready`)
  const failed = ctx.registry.failedDocs
  if (failed > 0) problems.push(`${failed} doc(s) failing to store`)
  for (const check of ctx.readiness) {
    const problem = check()
    if (problem != null) problems.push(problem)
  }
  return problems
}

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
