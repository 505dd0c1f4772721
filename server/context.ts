/**
 * What every transport and route shares: options, the registry, access decisions, counters.
 * One object, built by createWeft, passed down explicitly.
 */
import type { IncomingMessage } from 'node:http'
import { DocRegistry } from './docs/registry.js'
import type { Grant, ResolvedOptions } from './options.js'
import { Metrics } from './metrics.js'
import { createAuthorizer } from './auth/authorize.js'
import { ConnectionLimits } from './limits/connections.js'

export interface WeftContext {
  options: ResolvedOptions
  registry: DocRegistry
  metrics: Metrics
  /** Access for a request on a doc; throws AuthError (401/403). */
  authorize (req: IncomingMessage, doc: string): Promise<Grant>
  /** Connection / observer limits (server/limits): admit before opening, release on close. */
  limits: ConnectionLimits
  /** True once close() began: transports refuse new peers. */
  closing: boolean
  /** Things to end on shutdown, before docs are flushed (transports register their own). */
  onClose: Array<() => void | Promise<void>>
  /** Extra readiness checks (e.g. Redis connected): each returns a problem or null. */
  readiness: Array<() => string | null>
}

export function createContext (options: ResolvedOptions, metrics: Metrics, registry: DocRegistry): WeftContext {
  return {
    options,
    registry,
    metrics,
    authorize: createAuthorizer(options, options.logger),
    limits: new ConnectionLimits(options, metrics),
    closing: false,
    onClose: [],
    readiness: []
  }
}
