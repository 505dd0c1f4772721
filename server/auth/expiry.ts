/**
 * Token expiry, one rule for every transport: whatever a grant opened (a WebSocket session, an
 * SSE stream, a held poll) ends when the grant's `expiresAt` passes, and the next request or
 * upgrade with the same token is refused 401 / 4401 by `authorize`. A WebSocket is closed with
 * 4401 ("refresh the token, then reconnect"), a stream is ended (EventSource comes back and gets
 * its 401), a held poll is answered as if it timed out.
 */
import type { Grant } from './grant.js'

/** setTimeout's largest delay (about 24.8 days); a later expiry is clamped to it. */
const MAX_DELAY_MS = 2 ** 31 - 1

/** Milliseconds until the grant expires (0 when it has), or null for a grant that never does. */
export function msUntilExpiry (grant: Grant, now = Date.now()): number | null {
  if (grant.expiresAt === undefined) return null
  return Math.max(0, Math.floor(grant.expiresAt * 1000 - now))
}

/** Calls `end` when the grant expires; returns what cancels it (idempotent). */
export function onExpiry (grant: Grant, end: () => void): () => void {
  const ms = msUntilExpiry(grant)
  if (ms === null) return () => {}
  const timer = setTimeout(end, Math.min(ms, MAX_DELAY_MS))
  timer.unref?.()
  return () => clearTimeout(timer)
}
