/**
 * Every update and state vector from the network is checked here before it touches a doc. A
 * failure is a `ProtocolError`: the transport answers 4400 / HTTP 400 and the doc stays exactly
 * as it was.
 */
import * as Y from 'yjs'
import * as decoding from 'lib0/decoding'
import { ProtocolError } from '../../shared/protocol.js'
import { checkUpdateBounds, UpdateBoundsError, type UpdateShape } from './update-bounds.js'

export interface UpdateLimits {
  /** Largest accepted update in bytes. */
  maxUpdateBytes: number
  /** Most structs in one update (each costs an object when Yjs decodes it). @default 1,000,000 */
  maxStructs?: number
  /** Time budget for the bounds check, ms. @default 500 */
  maxCheckMillis?: number
  /**
   * Called with what the bounds check learned, before Yjs decodes the update; may throw to
   * refuse it. Decoding costs ~10× the check (a 1 MB delete set: ~200 ms against ~20 ms,
   * measured), so refusals that need no decoded structs happen here (docs/write-gate.ts).
   */
  beforeDecode?: (shape: UpdateShape) => void
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
/** An update as Yjs decodes it: its structs and its delete set. */
export type DecodedUpdate = ReturnType<typeof Y.decodeUpdate>

export function validateUpdate (update: Uint8Array, limits: UpdateLimits): DecodedUpdate {
  if (update.byteLength > limits.maxUpdateBytes) {
    throw new ProtocolError(`update of ${update.byteLength} bytes exceeds the limit of ${limits.maxUpdateBytes}`)
  }
  if (update.byteLength < 2) throw new ProtocolError('update too short')
  // Counts and lengths against the bytes that remain, before Yjs allocates anything (yjs#687).
  let shape: UpdateShape
  try {
    shape = checkUpdateBounds(update, { maxStructs: limits.maxStructs ?? DEFAULT_MAX_STRUCTS, maxMillis: limits.maxCheckMillis ?? DEFAULT_CHECK_MILLIS })
  } catch (err) {
    if (err instanceof UpdateBoundsError) throw new ProtocolError(`invalid Yjs update: ${err.message}`)
    throw err
  }
  limits.beforeDecode?.(shape)
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

/**
 * State vector entries a peer may send beyond the doc's own client count. A peer's state vector
 * has one entry per client id its doc has seen: the doc's (one per session that ever wrote to it,
 * however old the doc) plus the ones the server has not seen yet — its own, other tabs' relayed
 * over BroadcastChannel, a few page loads of offline edits. 10,000 is far past that, and costs
 * Yjs ~10 ms to decode (~1 µs per entry, measured), where a 7 MiB state vector (~1M entries)
 * stalled the event loop for 0.6–1.2 s per message.
 */
export const STATE_VECTOR_SLACK = 10_000

/** Bytes of one entry at most: two varuints (client id, clock) of ≤ 2^53, 8 bytes each. */
const MAX_ENTRY_BYTES = 16

/**
 * Checks a state vector (sync step1, `?sv=`) before Yjs decodes it into a Map: at most the doc's
 * client count plus `STATE_VECTOR_SLACK` entries, well-formed, nothing after them.
 */
export function validateStateVector (sv: Uint8Array, ydoc: Y.Doc): void {
  const maxEntries = ydoc.store.clients.size + STATE_VECTOR_SLACK
  // The byte bound first: it refuses a huge one without reading it.
  if (sv.byteLength > 8 + maxEntries * MAX_ENTRY_BYTES) throw new ProtocolError(`state vector of ${sv.byteLength} bytes exceeds the limit for this doc`)
  try {
    const d = decoding.createDecoder(sv)
    const n = decoding.readVarUint(d)
    if (n > maxEntries) throw new ProtocolError(`state vector of ${n} entries exceeds the limit of ${maxEntries} for this doc`)
    for (let i = 0; i < 2 * n; i++) decoding.readVarUint(d)
    if (decoding.hasContent(d)) throw new Error('trailing bytes')
  } catch (err) {
    if (err instanceof ProtocolError) throw err
    throw new ProtocolError(`invalid state vector: ${(err as Error).message}`)
  }
}
