/**
 * Deleting a doc (`DELETE /docs/:doc`, `weft.deleteDoc()`): it leaves memory with every peer
 * ended (docs/registry.ts `delete`, shared-doc.ts `retire`), then storage loses its records,
 * quarantined records, head and versions, and keeps only a tombstone (docs/tombstone.ts) so no
 * stale editor can bring the content back. The name can be used again at once, as a new empty
 * doc whose sequence numbers start past the old ones (a creation-time base, shared/cursor.ts), so
 * a cursor from before the delete gets a reset, never old content.
 *
 * Order: the tombstone is stored before the records are removed. A crash between the two leaves
 * the content with its tombstone (old editors are refused, a repeated DELETE finishes the job);
 * the other order could leave the content gone with nothing to stop a stale tab restoring it.
 */
import * as Y from 'yjs'
import type { Storage } from '../storage/types.js'
import type { DocRegistry } from './registry.js'
import { writeTombstone, type Tombstone } from './tombstone.js'

/** What else lives beside a doc's log and goes with it (versions). */
export type DocWipe = (doc: string) => Promise<void>

/**
 * Deletes `name`; false when nothing was stored for it (a loaded doc nobody wrote is still
 * retired: whoever watched it is told).
 */
export async function deleteDoc (registry: DocRegistry, storage: Storage, name: string, alsoWipe: DocWipe[] = []): Promise<boolean> {
  return await registry.delete(name, async () => {
    // What storage holds is everything the doc ever acknowledged (the retired doc's pipeline has
    // settled): its state vector is the tombstone.
    const records = await storage.load(name)
    if (records.length === 0) return false
    const sv: Tombstone = new Map()
    for (const r of records) {
      if (!r.intact) continue
      for (const [client, clock] of Y.decodeStateVector(Y.encodeStateVectorFromUpdate(r.update))) {
        sv.set(client, Math.max(sv.get(client) ?? 0, clock))
      }
    }
    await writeTombstone(storage, name, sv)
    await storage.delete(name)
    for (const wipe of alsoWipe) await wipe(name)
    return true
  })
}
