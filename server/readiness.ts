/**
 * Whether this server can take work: what /readyz answers and the home page shows. Its own
 * module because both the HTTP routes and the pages ask it.
 */
import type { WeftContext } from './context.js'

/** Why the server is not ready, or [] when it is: what /readyz and the home page report. */
export function readinessProblems (ctx: WeftContext): string[] {
  const problems: string[] = []
  if (ctx.closing) problems.push('shutting down')
  const storage = ctx.options.storage
  if (storage.ready !== undefined && !storage.ready()) problems.push(`storage (${storage.kind}) not ready`)
  const failed = ctx.registry.failedDocs
  if (failed > 0) problems.push(`${failed} doc(s) failing to store`)
  return problems
}
