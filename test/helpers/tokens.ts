/** Signing test tokens: HS256 with a secret, RS256/ES256 with generated key pairs (JWKS out). */
import { exportJWK, generateKeyPair, SignJWT, type JSONWebKeySet, type JWTPayload } from 'jose'

export const SECRET = 'a-test-secret-that-is-long-enough-for-hs256!'

export interface Claims extends JWTPayload {
  docs?: string | string[]
  access?: 'read' | 'write' | string
}

/** An HS256 token; `expiresIn` seconds from now (negative: already expired), none if null. */
export async function hsToken (claims: Claims, expiresIn: number | null = 3600, secret = SECRET): Promise<string> {
  const jwt = new SignJWT(claims).setProtectedHeader({ alg: 'HS256' }).setIssuedAt()
  if (expiresIn !== null) jwt.setExpirationTime(Math.floor(Date.now() / 1000) + expiresIn)
  return await jwt.sign(new TextEncoder().encode(secret))
}

export interface KeyPairSigner {
  jwks: JSONWebKeySet
  sign (claims: Claims, expiresIn?: number): Promise<string>
}

/** A fresh key pair for `alg` and a signer; `jwks` holds only the public key. */
export async function keySigner (alg: 'RS256' | 'ES256', kid: string): Promise<KeyPairSigner> {
  const { publicKey, privateKey } = await generateKeyPair(alg)
  const jwk = { ...(await exportJWK(publicKey)), kid, alg, use: 'sig' }
  return {
    jwks: { keys: [jwk] },
    async sign (claims, expiresIn = 3600) {
      return await new SignJWT(claims).setProtectedHeader({ alg, kid })
        .setIssuedAt().setExpirationTime(Math.floor(Date.now() / 1000) + expiresIn).sign(privateKey)
    }
  }
}

/**
 * An access matrix: every route (or transport) tried with every kind of token, as
 * "route × kind: status" lines beside the expected ones, so one `toEqual` shows every mismatch.
 */
export async function accessMatrix (
  routes: Record<string, (token: string | null) => Promise<number>>,
  tokens: Record<string, string | null>,
  expected: (route: string, kind: string) => number
): Promise<{ got: string[], want: string[] }> {
  const got: string[] = []
  const want: string[] = []
  for (const [route, run] of Object.entries(routes)) {
    for (const [kind, token] of Object.entries(tokens)) {
      got.push(`${route} × ${kind}: ${await run(token)}`)
      want.push(`${route} × ${kind}: ${expected(route, kind)}`)
    }
  }
  return { got, want }
}
