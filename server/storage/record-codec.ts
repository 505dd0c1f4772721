/**
 * The stored form of one update record, shared by every backend: a checksum per record, so a
 * flipped byte on disk (or in a database page, or in memory) is caught on load instead of being
 * served. LevelDB does not verify its own block checksums on reads by default, and a flipped
 * byte inside a Yjs update usually still decodes, into different content.
 *
 * Format versions, told apart by the first bytes:
 *   - legacy (before checksums): the bare Yjs v1 update. Still loaded, unverified.
 *   - v1: MAGIC (8 × 0xff) · version (0x01) · CRC-32 of (seq as 8 bytes BE ‖ update), 4 bytes BE
 *     · the update.
 * A Yjs v1 update starts with a varuint count of clients, and eight 0xff bytes make lib0's
 * varuint exceed 2^53, which it refuses: so no legacy record that ever decoded starts with
 * MAGIC, and a record that starts with it is checked (or, with an unknown version, refused).
 * The seq is covered so a record that moved to another key (a flipped byte in a key) is caught.
 * Records are rewritten in the current format when a compaction replaces them.
 */
import { crc32 } from 'node:zlib'

const MAGIC_LENGTH = 8
const VERSION = 1
/** Bytes added in front of every update by the current format. */
export const HEADER_BYTES = MAGIC_LENGTH + 1 + 4

function checksum (seq: number, update: Uint8Array): number {
  const seqBytes = new Uint8Array(8)
  new DataView(seqBytes.buffer).setBigUint64(0, BigInt(seq))
  return crc32(update, crc32(seqBytes))
}

function hasMagic (stored: Uint8Array): boolean {
  if (stored.byteLength < HEADER_BYTES) return false
  for (let i = 0; i < MAGIC_LENGTH; i++) if (stored[i] !== 0xff) return false
  return true
}

/** The bytes a backend stores for record `seq`. */
export function encodeRecord (seq: number, update: Uint8Array): Uint8Array {
  const out = new Uint8Array(HEADER_BYTES + update.byteLength)
  out.fill(0xff, 0, MAGIC_LENGTH)
  out[MAGIC_LENGTH] = VERSION
  new DataView(out.buffer).setUint32(MAGIC_LENGTH + 1, checksum(seq, update))
  out.set(update, HEADER_BYTES)
  return out
}

/**
 * The update stored for record `seq`, and whether it is intact (its checksum matches; legacy
 * records carry none and count as intact — the doc layer still quarantines them if they do
 * not decode).
 */
export function decodeRecord (seq: number, stored: Uint8Array): { update: Uint8Array, intact: boolean } {
  if (!hasMagic(stored)) return { update: stored, intact: true }
  const update = stored.subarray(HEADER_BYTES)
  if (stored[MAGIC_LENGTH] !== VERSION) return { update, intact: false }
  const expected = new DataView(stored.buffer, stored.byteOffset, stored.byteLength).getUint32(MAGIC_LENGTH + 1)
  return { update, intact: expected === checksum(seq, update) }
}

/** Size of the update inside a stored record (what `list()` reports). */
export function storedUpdateLength (stored: Uint8Array): number {
  return hasMagic(stored) ? stored.byteLength - HEADER_BYTES : stored.byteLength
}
