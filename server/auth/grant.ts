/**
 * What access control decides for a request, and how it says no. `authenticate` callbacks, the
 * JWT verifier, the admin check and every transport speak these two types.
 */
import { WeftError } from '../../shared/errors.js'
import type { Access } from '../docs/broadcast.js'

/** What `authenticate` decides for a request: the access it gets and who it is (for logs). */
export interface Grant {
  access: Access
  user?: string
  /** Seconds since the epoch after which the session must end (4401). */
  expiresAt?: number
}

/** Why access was refused, for `weft_auth_failures_total{reason}`. */
export type AuthFailure = 'missing' | 'invalid' | 'expired' | 'forbidden' | 'origin'

/** Thrown by `authenticate` to answer 401 (no or bad credentials) or 403 (not for this doc). */
export class AuthError extends WeftError {
  override name = 'AuthError'
  readonly reason: AuthFailure
  constructor (status: 401 | 403, message: string, reason?: AuthFailure) {
    super(status === 403 ? 'forbidden' : 'unauthorized', message)
    this.reason = reason ?? (status === 403 ? 'forbidden' : 'invalid')
  }

  override get status (): 401 | 403 { return super.status as 401 | 403 }
}
