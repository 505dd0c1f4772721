/**
 * A committed group as the bus carries it: the node that stored it, the sequence number of its
 * first record, and the records' updates (lib0 encoding: varuint count, then each update as a
 * varuint8array). Only committed groups travel: a node publishes after storage acknowledged.
 */
import * as decoding from 'lib0/decoding'
import * as encoding from 'lib0/encoding'
import type { UpdateRecord } from '../storage/types.js'

export function encodeGroup (updates: readonly Uint8Array[]): Uint8Array {
  const e = encoding.createEncoder()
  encoding.writeVarUint(e, updates.length)
  for (const u of updates) encoding.writeVarUint8Array(e, u)
  return encoding.toUint8Array(e)
}

/** The records of a group whose first record is `first`; throws on bytes that are not a group. */
export function decodeGroup (first: number, bytes: Uint8Array): UpdateRecord[] {
  const d = decoding.createDecoder(bytes)
  const n = decoding.readVarUint(d)
  if (n > bytes.length) throw new Error('not a group')
  const out: UpdateRecord[] = []
  for (let i = 0; i < n; i++) out.push({ seq: first + i, update: decoding.readVarUint8Array(d) })
  if (decoding.hasContent(d)) throw new Error('trailing bytes after a group')
  return out
}
