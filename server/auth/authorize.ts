/**
 * The one access decision every transport and route asks for (`ctx.authorize(req, doc)`):
 * the Origin checks first (403: `allowedOrigins`, and a cookie token only from an allowed
 * page, see origins.ts), then the embedder's `authenticate`, or JWT (`auth`), or — with
 * neither configured — write access for everyone (local use; the CLI warns about it).
 */
import type { IncomingMessage } from 'node:http'
import type { Logger } from '../logger.js'
import type { Metrics } from '../metrics.js'
import type { ResolvedOptions } from '../options.js'
import { AuthError, type Grant } from './grant.js'
import { jwtAuthenticator, type Verify } from './jwt.js'
import { OriginPolicy } from './origins.js'
import { extractToken } from './token.js'

export type Authorize = (req: IncomingMessage, doc: string) => Promise<Grant>

/** True when some form of access control is configured (the CLI warns otherwise). */
export const authConfigured = (options: Pick<ResolvedOptions, 'auth' | 'authenticate'>): boolean =>
  options.auth !== undefined || options.authenticate !== undefined

/**
 * `verify`: the server's one JWT verifier (null without `auth`), shared with the admin check
 * (auth/admin.ts) so the keys are loaded, and a remote key set fetched, once.
 */
export function createAuthorizer (options: ResolvedOptions, log: Logger, metrics: Metrics, verify: Verify | null): Authorize {
  const origins = new OriginPolicy(options.allowedOrigins)
  // Without access control a cookie grants nothing a foreign page could not get without it.
  const cookiesMatter = authConfigured(options)
  const decide: (req: IncomingMessage, doc: string) => Grant | null | Promise<Grant | null> =
    options.authenticate ?? (verify !== null ? jwtAuthenticator(verify) : () => ({ access: 'write' }))

  return async (req, doc) => {
    const bad = origins.check(req) ?? (cookiesMatter && extractToken(req)?.source === 'cookie' ? origins.checkCookie(req) : null)
    // Refusals are logged where they are answered (one line with transport, address and
    // status: http/request.ts, transports/websocket.ts), not here.
    try {
      if (bad != null) throw new AuthError(403, bad, 'origin')
      const grant: Grant | null = await decide(req, doc)
      if (grant == null) throw new AuthError(401, 'not authenticated', 'missing')
      return check(grant, doc)
    } catch (err) {
      if (err instanceof AuthError) metrics.inc(`auth_failures_total{reason="${err.reason}"}`)
      throw err
    }
  }

  function check (grant: Grant, doc: string): Grant {
    if (grant.access !== 'read' && grant.access !== 'write') throw new Error(`authenticate() returned access ${String(grant.access)}; expected "read" or "write"`)
    if (grant.expiresAt !== undefined && grant.expiresAt * 1000 <= Date.now()) throw new AuthError(401, 'token expired', 'expired')
    log.debug({ doc, user: grant.user, access: grant.access }, 'authorized')
    return grant
  }
}
