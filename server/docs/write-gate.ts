/**
 * The checks every update from the network passes before it enters a doc's write pipeline,
 * whichever transport brought it (WebSocket session, HTTP session, one-shot POST): the same rules
 * for all.
 *
 * 0. Well-formed and bounded (docs/validate.ts).
 * 1. Client ids (docs/client-ids.ts): an update that rewrites structs the server holds, or has in
 *    its pipeline, with other content comes from a second doc with the same client id: refused
 *    whole (`ClientIdConflictError`), nothing stored.
 * 2. Pending structs (docs/dependencies.ts): an update that would not integrate is refused
 *    (`ProtocolError`) once the doc's pending bytes plus the dependent bytes already in the
 *    pipeline would pass `MAX_PENDING_BYTES`. Gaps and deletions of unknown structs are seen
 *    before Yjs decodes the update, so refusing a big delete-only update costs the bounds walk,
 *    not the decode (~10× more).
 *
 * 3. Deleted content (docs/tombstone.ts): structs or deletions from a deleted past life of the
 *    doc are refused (`docDeleted`), so a stale editor cannot bring it back.
 *
 * 1 and 2 judge against the doc's state plus the writes still in its pipeline (docs/in-flight.ts),
 * which `submitChecked` keeps exactly: a write leaves it when it is applied or fails.
 */
import * as Y from 'yjs'
import { ProtocolError } from '../../shared/protocol.js'
import { checkClientIds } from './client-ids.js'
import { dependsOnMissing, MAX_PENDING_BYTES, pendingBytes, shapeDependsOnMissing } from './dependencies.js'
import { validateUpdate, type DecodedUpdate, type UpdateLimits } from './validate.js'
import type { DocPeer } from './broadcast.js'
import type { SharedDoc } from './shared-doc.js'
import { refuseBuried } from './tombstone.js'

/**
 * Validates `update`, checks it against `doc` and submits it. Throws synchronously when refused
 * (nothing is submitted); the promise is `doc.submit`'s.
 */
export function submitChecked (doc: SharedDoc, update: Uint8Array, origin: DocPeer | null, limits: UpdateLimits): Promise<void> {
  const pipeline = doc.log.inFlight
  const overBudget = (): boolean => pendingBytes(doc.ydoc) + pipeline.dependentBytes + update.byteLength > MAX_PENDING_BYTES
  const refuse = (): never => { throw new ProtocolError('update depends on structs the server does not have, and too many such updates are pending') }
  const decoded = validateUpdate(update, {
    ...limits,
    beforeDecode: shape => { if (overBudget() && shapeDependsOnMissing(shape, doc.ydoc, pipeline)) refuse() }
  })
  if (doc.tombstone !== null) refuseBuried(doc.name, decoded, doc.tombstone)
  checkClientIds(decoded, doc.ydoc, pipeline)
  const dependent = dependsOnMissing(decoded, doc.ydoc, pipeline)
  if (dependent && overBudget()) refuse()
  if (addsNothing(decoded, doc.ydoc)) return Promise.resolve()
  const write = { decoded, bytes: update.byteLength, dependent }
  pipeline.add(write)
  const done = (): void => pipeline.delete(write)
  const submitted = doc.submit(update, origin)
  submitted.then(done, done)
  return submitted
}

/**
 * True when the doc (applied state, not the pipeline) already has every struct and deletion of
 * the update: storing it would only grow the log. A writer's step2 answers a state vector one
 * clock short per client (docs/client-ids.ts `probeStateVector`), so it repeats one known element
 * per client on every connect, and a stock provider's step2 repeats its whole delete set.
 */
function addsNothing (decoded: DecodedUpdate, ydoc: Y.Doc): boolean {
  for (const s of decoded.structs) {
    if (!(s instanceof Y.Skip) && s.id.clock + s.length > Y.getState(ydoc.store, s.id.client)) return false
  }
  for (const [client, ranges] of decoded.ds.clients) {
    const structs = ydoc.store.clients.get(client)
    for (const r of ranges) {
      if (r.len === 0) continue
      if (structs === undefined || r.clock + r.len > Y.getState(ydoc.store, client)) return false
      for (let i = Y.findIndexSS(structs, r.clock); i < structs.length && structs[i]!.id.clock < r.clock + r.len; i++) {
        if (!structs[i]!.deleted) return false
      }
    }
  }
  return true
}
