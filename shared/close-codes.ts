/**
 * WebSocket close codes used by Weft, server and client alike. Never write a bare number:
 * import the name. The table is the contract in DESIGN.md ("Close codes").
 */
export const CloseCode = {
  /** Normal closure: the client should stop. */
  normal: 1000,
  /** Server going away (shutdown): reconnect with backoff. */
  goingAway: 1001,
  /** A frame larger than the server's `maxPayload` (ws closes with this itself). */
  messageTooBig: 1009,
  /** Server restarting (graceful shutdown): reconnect with backoff. */
  serviceRestart: 1012,
  /** Malformed message or protocol violation: stop and surface the error. */
  malformed: 4400,
  /** Token missing, invalid or expired: refresh the token, then reconnect. */
  unauthorized: 4401,
  /** Token valid but not for this doc: stop. */
  forbidden: 4403,
  /** Connection or rate limit hit: reconnect with a longer backoff. */
  tooManyRequests: 4429,
  /** The server failed to load or store this doc: reconnect with backoff. */
  storageFailed: 4500,
  /** The client could not keep up (outgoing buffer bound hit): reconnect and resync. */
  tooSlow: 4508
} as const

export type CloseCodeName = keyof typeof CloseCode
export type CloseCodeValue = (typeof CloseCode)[CloseCodeName]

/** What a client should do after a close with this code. */
export type CloseAdvice = 'stop' | 'reconnect' | 'refresh-token' | 'reconnect-slowly'

export function closeAdvice (code: number): CloseAdvice {
  switch (code) {
    case CloseCode.normal:
    case CloseCode.messageTooBig:
    case CloseCode.malformed:
    case CloseCode.forbidden:
      return 'stop'
    case CloseCode.unauthorized:
      return 'refresh-token'
    case CloseCode.tooManyRequests:
      return 'reconnect-slowly'
    default:
      // 1001, 1006 (abnormal), 1012, 4500, 4508 and anything unknown: the network or the
      // server hiccuped; the client resyncs by state vector, so reconnecting is always safe.
      return 'reconnect'
  }
}

/** Human-readable reasons sent with the close frame (kept short: a close reason is ≤ 123 bytes). */
export const CloseReason: Record<number, string> = {
  [CloseCode.goingAway]: 'server going away',
  [CloseCode.serviceRestart]: 'server restarting',
  [CloseCode.messageTooBig]: 'message too big',
  [CloseCode.malformed]: 'malformed message',
  [CloseCode.unauthorized]: 'unauthorized',
  [CloseCode.forbidden]: 'forbidden',
  [CloseCode.tooManyRequests]: 'too many requests',
  [CloseCode.storageFailed]: 'storage failed',
  [CloseCode.tooSlow]: 'too slow'
}
