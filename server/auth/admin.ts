/**
 * Admin credentials for server-wide routes (`GET /docs`): an `adminToken` (`--admin-token`),
 * sent as `Authorization: Bearer …`, `?token=` or the token cookie; or, with JWT auth on, a
 * token signed with the same keys carrying `"admin": true`. A doc token (`docs`/`access`) is
 * not enough: listing every doc name is more than access to some docs.
 * Without auth and without an admin token the routes are open (local use, like every doc).
 */
import { timingSafeEqual, createHash } from 'node:crypto'
import type { IncomingMessage, ServerResponse } from 'node:http'
import type { JWTPayload } from 'jose'
import type { WeftContext } from '../context.js'
import { AuthError } from './grant.js'
import { authConfigured } from './authorize.js'
import { extractToken, MAX_TOKEN_LENGTH } from './token.js'

/** True when admin routes need a credential. */
export function adminRequired (ctx: WeftContext): boolean {
  return ctx.options.adminToken !== undefined || authConfigured(ctx.options)
}

// Compare digests, so neither the length nor a prefix of the admin token leaks through timing.
const digest = (text: string): Buffer => createHash('sha256').update(text).digest()

/** Who passed the admin check: the JWT's `sub`, when an admin JWT was used. */
export interface Admin { user?: string }

export type AdminCheck = (req: IncomingMessage) => Promise<Admin>

/** A 401 from the admin check says how to authenticate (`WWW-Authenticate`), on every admin route. */
export function challengeAdmin (res: ServerResponse, err: unknown): void {
  if (err instanceof AuthError && err.status === 401) res.setHeader('WWW-Authenticate', 'Bearer realm="weft-admin"')
}

/** Builds the check once per server (the JWT verifier holds the keys). Throws AuthError 401/403. */
export function adminCheck (ctx: WeftContext): AdminCheck {
  const adminToken = ctx.options.adminToken
  const expected = adminToken !== undefined ? digest(adminToken) : null
  const verify = ctx.verifyJwt
  const how = [
    expected !== null ? 'the admin token (Authorization: Bearer … or ?token=)' : null,
    verify !== null ? 'a JWT with "admin": true' : null
  ].filter(Boolean).join(' or ')

  return async req => {
    if (!adminRequired(ctx)) return {}
    const found = extractToken(req)
    if (found === null) throw new AuthError(401, `admin credential required: ${how !== '' ? how : 'start the server with --admin-token'}`)
    if (found.token.length > MAX_TOKEN_LENGTH) throw new AuthError(401, 'token too long')
    if (expected !== null && timingSafeEqual(digest(found.token), expected)) return {}
    if (verify !== null) {
      let claims: JWTPayload
      try {
        claims = await verify(found.token)
      } catch {
        throw new AuthError(401, `invalid admin credential: ${how}`)
      }
      if (claims.admin === true) return typeof claims.sub === 'string' ? { user: claims.sub } : {}
      throw new AuthError(403, 'this token is not an admin token (no "admin": true claim)')
    }
    throw new AuthError(401, expected !== null ? 'wrong admin token' : 'admin routes need --admin-token when auth is done by an authenticate() callback')
  }
}
