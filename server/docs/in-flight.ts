/**
 * Updates accepted for a doc but not applied yet: they sit in its write pipeline (stored before
 * applied, docs/shared-doc.ts) for as long as a storage write takes.
 *
 * The write checks (docs/write-gate.ts) judge an update against the doc's state, and the doc's
 * state lags the pipeline: a peer typing fast sends update n+1 while update n is still being
 * stored, and n+1 builds on n. So, per doc, what is in the pipeline counts too, but only until it
 * is applied: from then on the doc's state is the truth. (Remembering a session's writes for the
 * whole session, as before, let a session chain pending updates past the pending bound: its
 * earlier writes counted as known although they had become pending, not integrated.)
 *
 * Only updates that integrate when applied (`dependent: false`) extend what is known; the bytes
 * of the others count against the pending bound as if they were pending already, so a burst of
 * dependent updates sent in one tick cannot slip past it either.
 */
import * as Y from 'yjs'
import type { DecodedUpdate } from './validate.js'

export interface InFlightWrite {
  readonly decoded: DecodedUpdate
  readonly bytes: number
  /** True when it will not integrate on apply (it depends on structs nobody sent). */
  readonly dependent: boolean
}

export class InFlight {
  private readonly writes = new Set<InFlightWrite>()
  /** Per client: clock end of the integrating writes in flight, and how many of them there are. */
  private readonly ends = new Map<number, { end: number, writes: number }>()
  /** Bytes of dependent writes in flight. */
  dependentBytes = 0

  /** Clock end of what the pipeline will add for `client` (0 when nothing). */
  end (client: number): number { return this.ends.get(client)?.end ?? 0 }

  /** The writes in flight (for the client id check, which compares struct contents). */
  [Symbol.iterator] (): IterableIterator<InFlightWrite> { return this.writes.values() }

  add (w: InFlightWrite): void {
    this.writes.add(w)
    if (w.dependent) { this.dependentBytes += w.bytes; return }
    for (const client of clientsOf(w.decoded)) {
      let e = this.ends.get(client.id)
      if (e === undefined) this.ends.set(client.id, e = { end: 0, writes: 0 })
      e.end = Math.max(e.end, client.end)
      e.writes++
    }
  }

  /** The write was applied (or failed): the doc's state speaks for it from now on. */
  delete (w: InFlightWrite): void {
    if (!this.writes.delete(w)) return
    if (w.dependent) { this.dependentBytes -= w.bytes; return }
    // The end of a client is only forgotten once no write for it is in flight. Until then it is
    // past the doc's state only if this write failed to store (its whole batch fails with it, so
    // rarely for long) or to apply (a crafted update; logged in shared-doc.ts).
    for (const client of clientsOf(w.decoded)) {
      const e = this.ends.get(client.id)
      if (e !== undefined && --e.writes === 0) this.ends.delete(client.id)
    }
  }
}

/** Clock end per client of an update's structs. */
function clientsOf (decoded: DecodedUpdate): Array<{ id: number, end: number }> {
  const ends = new Map<number, number>()
  for (const s of decoded.structs) {
    if (s instanceof Y.Skip) continue
    const end = s.id.clock + s.length
    if (end > (ends.get(s.id.client) ?? 0)) ends.set(s.id.client, end)
  }
  return [...ends].map(([id, end]) => ({ id, end }))
}
