/** The server's health as the home page shows it: the same checks as `/readyz`. */
import type { WeftContext } from '../context.js'

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
