/**
 * What every transport and route shares: options, the registry, access decisions, counters.
 * One object, built by createWeft, passed down explicitly.
 */
import type { IncomingMessage } from 'node:http'
import { DocRegistry } from './docs/registry.js'
import type { ResolvedOptions } from './options.js'
import type { Grant } from './auth/grant.js'
import { Metrics, type BoundCounter } from './metrics.js'
import { createAuthorizer } from './auth/authorize.js'
import { buildVerifier, type Verify } from './auth/jwt.js'
import { ConnectionLimits } from './limits/connections.js'
import type { SessionContext } from './session.js'
import type { Hooks } from './hooks.js'
import type { DocWipe } from './docs/delete.js'
import { Versions } from './docs/versions.js'

export interface WeftContext {
  options: ResolvedOptions
  registry: DocRegistry
  metrics: Metrics
  /** Bytes in and out per transport, bound once (`weft_bytes_received_total{transport}` …). */
  traffic: Record<TrafficTransport, { received: BoundCounter, sent: BoundCounter }>
  /** The JWT verifier of `auth` (null without): the doc routes' and the admin check's. Throws WeftOptionsError on a bad config. */
  verifyJwt: Verify | null
  /** What every editor session shares (server/session.ts): limits, logger, metrics. */
  session: SessionContext
  /** Access for a request on a doc; throws AuthError (401/403). */
  authorize (req: IncomingMessage, doc: string): Promise<Grant>
  /** Connection / observer limits (server/limits): admit before opening, release on close. */
  limits: ConnectionLimits
  /** True once close() began: transports refuse new peers. */
  closing: boolean
  /** What else goes when a doc is deleted (its versions …): each removes what it keeps for the doc. */
  docWipes: DocWipe[]
  /** A doc's versions: listing, taking, restoring, automatic checkpoints (docs/versions.ts). */
  versions: Versions
}

/** `http` is the editor's POSTs; `sse` and `poll` what observers and HTTP editors receive. */
export type TrafficTransport = 'websocket' | 'sse' | 'poll' | 'http'

export function createContext (options: ResolvedOptions, metrics: Metrics, registry: DocRegistry, hooks?: Hooks): WeftContext {
  const traffic = Object.fromEntries((['websocket', 'sse', 'poll', 'http'] as const).map(transport => [transport, {
    received: metrics.counter('bytes_received_total', { transport }),
    sent: metrics.counter('bytes_sent_total', { transport })
  }])) as WeftContext['traffic']
  const verifyJwt = options.auth !== undefined ? buildVerifier(options.auth) : null
  const versions = new Versions(options.storage.meta, registry, options, metrics, hooks)
  return {
    options,
    verifyJwt,
    session: { limits: { maxUpdateBytes: options.maxMessageBytes, maxAwarenessStateBytes: options.maxAwarenessStateBytes }, logger: options.logger, metrics, hooks },
    registry,
    metrics,
    traffic,
    authorize: createAuthorizer(options, options.logger, metrics, verifyJwt),
    limits: new ConnectionLimits(options, metrics),
    closing: false,
    docWipes: [doc => versions.remove(doc)],
    versions
  }
}
