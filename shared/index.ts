/** What server and client share: wire codecs, close codes, cursors. */
export * from './close-codes.js'
export * from './protocol.js'
export * from './awareness.js'
export * from './cursor.js'
export * from './base64.js'
export type { PollBody } from './poll.js'
export * from './errors.js'
