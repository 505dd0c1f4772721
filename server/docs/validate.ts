/**
 * Every update from the network is decoded here before it touches a doc. A failure is a
 * `ProtocolError`: the transport answers 4400 / HTTP 400 and the doc stays exactly as it was.
 */
import * as Y from 'yjs'
import { ProtocolError } from '../../shared/protocol.js'
import { checkUpdateBounds, UpdateBoundsError } from './update-bounds.js'

export interface UpdateLimits {
  /** Largest accepted update in bytes. */
  maxUpdateBytes: number
  /** Most structs in one update (each costs an object when Yjs decodes it). @default 1,000,000 */
  maxStructs?: number
  /** Time budget for the bounds check, ms. @default 500 */
  maxCheckMillis?: number
}

export const DEFAULT_MAX_STRUCTS = 1_000_000
export const DEFAULT_CHECK_MILLIS = 500

/** `[0, 0]`: no structs, no deletions. Clients send it as a step2 when they have nothing new. */
export const isEmptyUpdate = (update: Uint8Array): boolean =>
  update.byteLength === 2 && update[0] === 0 && update[1] === 0

/**
 * Decodes the whole update (structs and delete set) without applying it. Yjs' decoder reads
 * every declared length against the buffer, so a crafted length ends in an exception, not an
 * allocation; we add the size cap and reject anything that does not decode to the end.
 * Returns the decoded structs (callers check dependencies with them, docs/dependencies.ts).
 */
export function validateUpdate (update: Uint8Array, limits: UpdateLimits): ReturnType<typeof Y.decodeUpdate> {
  if (update.byteLength > limits.maxUpdateBytes) {
    throw new ProtocolError(`update of ${update.byteLength} bytes exceeds the limit of ${limits.maxUpdateBytes}`)
  }
  if (update.byteLength < 2) throw new ProtocolError('update too short')
  // Counts and lengths against the bytes that remain, before Yjs allocates anything (yjs#687).
  try {
    checkUpdateBounds(update, { maxStructs: limits.maxStructs ?? DEFAULT_MAX_STRUCTS, maxMillis: limits.maxCheckMillis ?? DEFAULT_CHECK_MILLIS })
  } catch (err) {
    if (err instanceof UpdateBoundsError) throw new ProtocolError(`invalid Yjs update: ${err.message}`)
    throw err
  }
  try {
    const decoded = Y.decodeUpdate(update)
    for (const struct of decoded.structs) {
      if (!Number.isSafeInteger(struct.id.clock) || struct.length < 0) throw new Error('bad struct')
    }
    return decoded
  } catch (err) {
    throw new ProtocolError(`invalid Yjs update: ${(err as Error).message}`)
  }
}
