/**
 * JWT access: HS256 with a shared secret, or RS256/ES256 with public keys from a JWKS
 * (a file, a URL, or the key set itself). Claims:
 *   docs    a doc name, a glob (`team-a/*`, see glob.ts) or a list of them   (required)
 *   access  "read" | "write"                                                 (required)
 *   exp     expiry (seconds since the epoch); a session ends with 4401 then  (optional)
 *   sub     who it is, for logs                                              (optional)
 * No token, a bad signature, a wrong algorithm or a past `exp` → 401; a good token for other
 * docs → 403. Errors say why in the HTTP body, never echo the token.
 */
import { readFileSync } from 'node:fs'
import { createLocalJWKSet, createRemoteJWKSet, errors, jwtVerify, decodeProtectedHeader, type JSONWebKeySet, type JWTPayload } from 'jose'
import type { IncomingMessage } from 'node:http'
import { AuthError, type Grant } from './grant.js'
import { WeftOptionsError } from '../errors.js'
import { docsGrant } from './glob.js'
import { extractToken, MAX_TOKEN_LENGTH } from './token.js'

export interface AuthOptions {
  /** HS256 shared secret (at least 32 characters: a short HMAC secret can be brute-forced offline). */
  secret?: string
  /** Public keys for RS256/ES256: a JWKS object, a path to a JWKS JSON file, or an https URL. */
  jwks?: JSONWebKeySet | string
}

export const MIN_SECRET_LENGTH = 32

export type Verify = (token: string) => Promise<JWTPayload>

/** `authenticate(req, doc)` over the server's one verifier (`buildVerifier`, built once per server). */
export function jwtAuthenticator (verify: Verify): (req: IncomingMessage, doc: string) => Promise<Grant> {
  return async (req, doc) => {
    const found = extractToken(req)
    if (found == null) throw new AuthError(401, 'a token is required (?token=, Authorization: Bearer, weft_token cookie or Sec-WebSocket-Protocol)', 'missing')
    if (found.token.length > MAX_TOKEN_LENGTH) throw new AuthError(401, 'token too long')
    let claims: JWTPayload
    try {
      claims = await verify(found.token)
    } catch (err) {
      throw new AuthError(401, describe(err), err instanceof errors.JWTExpired ? 'expired' : 'invalid')
    }
    return grantFor(claims, doc)
  }
}

/** Checks the claims of a verified token against the doc asked for. */
export function grantFor (claims: JWTPayload, doc: string): Grant {
  const docs = claims.docs
  const patterns = typeof docs === 'string' ? [docs] : Array.isArray(docs) && docs.every(d => typeof d === 'string') ? docs as string[] : null
  if (patterns == null) throw new AuthError(401, 'token has no "docs" claim (a doc name, glob or list)')
  if (claims.access !== 'read' && claims.access !== 'write') throw new AuthError(401, 'token "access" claim must be "read" or "write"')
  if (!docsGrant(patterns, doc)) throw new AuthError(403, 'token does not grant this doc')
  const grant: Grant = { access: claims.access }
  if (typeof claims.sub === 'string') grant.user = claims.sub
  if (typeof claims.exp === 'number') grant.expiresAt = claims.exp
  return grant
}

/** Verifies a token with the configured keys (also used for admin tokens on `GET /docs`). */
export function buildVerifier (auth: AuthOptions): Verify {
  if (auth == null || typeof auth !== 'object') throw new WeftOptionsError('option "auth" must be { secret } and/or { jwks }')
  const verifiers: Array<{ algs: string[], verify: Verify }> = []
  if (auth.secret !== undefined) {
    if (typeof auth.secret !== 'string' || auth.secret.length < MIN_SECRET_LENGTH) {
      throw new WeftOptionsError(`option "auth.secret" must be a string of at least ${MIN_SECRET_LENGTH} characters`)
    }
    const key = new TextEncoder().encode(auth.secret)
    verifiers.push({ algs: ['HS256'], verify: async t => (await jwtVerify(t, key, { algorithms: ['HS256'] })).payload })
  }
  if (auth.jwks !== undefined) {
    const algorithms = ['RS256', 'ES256']
    const keys = loadKeySet(auth.jwks)
    verifiers.push({ algs: algorithms, verify: async t => (await jwtVerify(t, keys, { algorithms })).payload })
  }
  if (verifiers.length === 0) throw new WeftOptionsError('option "auth" needs "secret" (HS256) or "jwks" (RS256/ES256)')
  return async token => {
    // Pick by the header's alg so an HS256 token is never checked against public keys or back:
    // a verifier only ever sees the algorithms it was built for (no alg confusion).
    let alg: string | undefined
    try { alg = decodeProtectedHeader(token).alg } catch { throw new Error('malformed token') }
    const v = verifiers.find(v => alg !== undefined && v.algs.includes(alg))
    if (v === undefined) throw new Error(`token algorithm ${String(alg)} is not accepted`)
    return await v.verify(token)
  }
}

function loadKeySet (jwks: JSONWebKeySet | string): ReturnType<typeof createLocalJWKSet> | ReturnType<typeof createRemoteJWKSet> {
  if (typeof jwks === 'string') {
    if (/^https?:\/\//i.test(jwks)) return createRemoteJWKSet(new URL(jwks))
    let parsed: unknown
    try {
      parsed = JSON.parse(readFileSync(jwks, 'utf8'))
    } catch (err) {
      throw new WeftOptionsError(`option "auth.jwks": cannot read a JWKS from ${jwks}: ${(err as Error).message}`)
    }
    return localSet(parsed, jwks)
  }
  return localSet(jwks, 'the given object')
}

function localSet (value: unknown, where: string): ReturnType<typeof createLocalJWKSet> {
  if (value == null || typeof value !== 'object' || !Array.isArray((value as JSONWebKeySet).keys)) {
    throw new WeftOptionsError(`option "auth.jwks": ${where} is not a JWKS ({ "keys": [...] })`)
  }
  try {
    return createLocalJWKSet(value as JSONWebKeySet)
  } catch (err) {
    throw new WeftOptionsError(`option "auth.jwks": ${(err as Error).message}`)
  }
}

function describe (err: unknown): string {
  if (err instanceof errors.JWTExpired) return 'token expired'
  if (err instanceof errors.JWSSignatureVerificationFailed) return 'token signature is invalid'
  if (err instanceof errors.JWTClaimValidationFailed) return `token claim invalid: ${err.message}`
  if (err instanceof errors.JWKSNoMatchingKey) return 'no key matches the token'
  if (err instanceof errors.JOSEError) return `invalid token: ${err.message}`
  return `invalid token: ${(err as Error).message ?? 'unknown error'}`
}
