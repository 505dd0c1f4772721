/**
 * What a deleted doc leaves behind: its state vector, so its content can never come back.
 *
 * Deleting a doc removes every stored byte, but every editor that had it open still holds a copy,
 * and a Yjs client that reconnects sends the server whatever the server lacks — all of it, for a
 * doc that starts over empty. Without a record of the past life, one stale tab (or a provider
 * that ignores the close code, like y-websocket 1.x) would bring the deleted content back.
 *
 * So the delete stores the doc's state vector as a tombstone (the meta store, `tombstones`
 * namespace), and the write gate refuses any update carrying a struct or a deletion below it
 * (`docDeleted`: HTTP 410, WebSocket 4410). New content is never caught: a new session picks a
 * fresh random client id (a 1 in 2^32 chance per client of meeting an old one), and whatever an
 * old session writes after the delete depends on its old content, so it is refused with it.
 * A name deleted twice keeps the union of both tombstones. The tombstone is small (about 10
 * bytes per client that ever wrote) and is kept: a tab may come back after a long time.
 */
import * as Y from 'yjs'
import { WeftError } from '../errors.js'
import type { Storage } from '../storage/types.js'
import type { DecodedUpdate } from './validate.js'

const NS = 'tombstones'

/** Clock below which each client's structs belong to a deleted past life of the doc. */
export type Tombstone = Map<number, number>

export class DocDeletedError extends WeftError {
  override name = 'DocDeletedError'
  constructor (doc: string) { super('docDeleted', `doc "${doc}" was deleted: this content belongs to its deleted past; discard the local copy`) }
}

/** The tombstone of `doc`, or null if it was never deleted. */
export async function readTombstone (storage: Storage, doc: string): Promise<Tombstone | null> {
  const bytes = await storage.meta.get(NS, doc)
  return bytes === undefined ? null : Y.decodeStateVector(bytes)
}

/** Adds `sv` (the deleted doc's state vector) to the tombstone of `doc`. */
export async function writeTombstone (storage: Storage, doc: string, sv: Tombstone): Promise<void> {
  const merged = (await readTombstone(storage, doc)) ?? new Map<number, number>()
  for (const [client, clock] of sv) merged.set(client, Math.max(merged.get(client) ?? 0, clock))
  if (merged.size === 0) return
  await storage.meta.put(NS, doc, Y.encodeStateVector(merged))
}

/** Throws `DocDeletedError` when the update carries a struct or a deletion from the doc's deleted past. */
export function refuseBuried (doc: string, decoded: DecodedUpdate, tombstone: Tombstone): void {
  if (isBuried(decoded, tombstone)) throw new DocDeletedError(doc)
}

/** True when the update carries a struct or a deletion from the doc's deleted past. */
export function isBuried (decoded: DecodedUpdate, tombstone: Tombstone): boolean {
  for (const s of decoded.structs) {
    if (s instanceof Y.Skip) continue
    const below = tombstone.get(s.id.client)
    if (below !== undefined && s.id.clock < below) return true
  }
  for (const [client, ranges] of decoded.ds.clients) {
    const below = tombstone.get(client)
    if (below !== undefined && ranges.some(r => r.clock < below)) return true
  }
  return false
}
