/**
 * WebSocket close codes used by Weft, server and client alike. Never write a bare number:
 * import the name. The table is the contract in DESIGN.md ("Close codes"), aligned with the
 * convention the stock y-websocket provider (3.x, `defaultShouldReconnect`) follows:
 *
 * - 4400–4499 mirror HTTP 4xx and are **permanent**: the client must not retry as it is (a bad
 *   message, a forbidden doc, a missing or expired token, a client id someone else uses).
 * - 4500–4599 mirror HTTP 5xx and are **transient**: try again later (a rate or connection
 *   limit, storage down, a slow consumer). A stock provider reconnects with its own backoff.
 *
 * So a limit that a well-behaved client can hit (typing fast, a busy server) is never in the
 * permanent range: a stock provider would stop for good and silently lose its later edits.
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
  /** Token valid but not for this doc, or the request's origin is not allowed: stop. */
  forbidden: 4403,
  /**
   * The session writes structs under a Yjs client id that another session already used for
   * different content (two docs sharing one client id): stop, the client's doc has diverged.
   */
  clientIdConflict: 4409,
  /**
   * The doc was deleted (`DELETE /docs/:doc`): stop, and drop the local copy. Its content is
   * refused if sent again (server/docs/tombstone.ts); the name may be a new, empty doc.
   */
  docDeleted: 4410,
  /** The session claims more awareness client ids or presence bytes than one editor needs: stop. */
  presenceTooLarge: 4413,
  /** The server failed to load or store this doc: reconnect with backoff. */
  storageFailed: 4500,
  /** The client could not keep up (outgoing buffer bound hit): reconnect and resync. */
  tooSlow: 4508,
  /** A connection, doc, presence or rate limit was hit: reconnect with a longer backoff. */
  tooManyRequests: 4529
} as const

export type CloseCodeName = keyof typeof CloseCode
export type CloseCodeValue = (typeof CloseCode)[CloseCodeName]

/** True for codes the stock y-websocket provider treats as permanent (it will not reconnect). */
export function isPermanentCloseCode (code: number): boolean {
  return code >= 4400 && code < 4500
}

/** What a client should do after a close with this code. */
export type CloseAdvice = 'stop' | 'reconnect' | 'refresh-token' | 'reconnect-slowly'

export function closeAdvice (code: number): CloseAdvice {
  switch (code) {
    case CloseCode.normal:
    case CloseCode.messageTooBig:
      return 'stop'
    case CloseCode.unauthorized:
      return 'refresh-token'
    case CloseCode.tooManyRequests:
      return 'reconnect-slowly'
    default:
      // Everything else in 4400–4499 is permanent (see the header); 1001, 1006 (abnormal),
      // 1012, 4500, 4508 and anything unknown: the network or the server hiccuped; the client
      // resyncs by state vector, so reconnecting is always safe.
      return isPermanentCloseCode(code) ? 'stop' : 'reconnect'
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
  [CloseCode.clientIdConflict]: 'client id used by another session',
  [CloseCode.docDeleted]: 'doc deleted',
  [CloseCode.presenceTooLarge]: 'too much presence',
  [CloseCode.storageFailed]: 'storage failed',
  [CloseCode.tooSlow]: 'too slow',
  [CloseCode.tooManyRequests]: 'too many requests'
}
