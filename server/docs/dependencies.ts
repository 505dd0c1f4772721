/**
 * Updates that depend on structs the server does not have.
 *
 * Yjs keeps such structs "pending" inside the doc and, on every later update, merges the new
 * leftovers into the pending update and retries it; every sync step2 merges it in again. So
 * pending bytes cost work on every update (quadratic over a stream of them) and never go away
 * if the missing structs never come. The fuzz test found this: a writer sending updates with
 * made-up clocks and origins slowed the server to a crawl. Legitimate clients create pending
 * structs only briefly (e.g. an update relayed between browser tabs before its author's own
 * connection delivered it), so a small bound is enough: past `MAX_PENDING_BYTES`, an update
 * that would add more pending structs is refused as a protocol violation (4400 / HTTP 400).
 */
import * as Y from 'yjs'
import type { InFlight } from './in-flight.js'
import type { DecodedUpdate } from './validate.js'
import type { UpdateShape } from './update-bounds.js'

/** Pending bytes (structs + deletions) a doc may hold before dependent updates are refused. */
export const MAX_PENDING_BYTES = 16 * 1024

/**
 * The doc's integrated state that a peer with `stateVector` lacks, without the pending structs.
 * Yjs merges pending structs into every state encoding, which made each sync step1 answer ~15×
 * slower (9 ms instead of 0.6 ms with 17 KB pending, measured): a cheap lever for anyone who
 * can send a step1. Pending structs are not part of the doc anyone sees; a peer that has what
 * they depend on has them already or will send them; storage keeps them either way. Snapshots
 * use it too (without `stateVector`: the whole state), so they never serve pending bytes.
 */
export function encodeDiff (ydoc: Y.Doc, stateVector?: Uint8Array): Uint8Array {
  const store = ydoc.store as unknown as { pendingStructs: unknown, pendingDs: unknown }
  const { pendingStructs, pendingDs } = store
  if (pendingStructs == null && pendingDs == null) return Y.encodeStateAsUpdate(ydoc, stateVector)
  store.pendingStructs = null
  store.pendingDs = null
  try {
    return Y.encodeStateAsUpdate(ydoc, stateVector)
  } finally {
    store.pendingStructs = pendingStructs
    store.pendingDs = pendingDs
  }
}



/** Bytes of structs and deletions the doc holds back until what they depend on arrives. */
export function pendingBytes (ydoc: Y.Doc): number {
  const store = ydoc.store as unknown as { pendingStructs: { update: Uint8Array } | null, pendingDs: Uint8Array | null }
  return (store.pendingStructs?.update.byteLength ?? 0) + (store.pendingDs?.byteLength ?? 0)
}

/** A client's clock end once the doc has applied what its write pipeline holds (docs/in-flight.ts). */
function knownState (ydoc: Y.Doc, inFlight?: InFlight): (client: number) => number {
  return client => Math.max(Y.getState(ydoc.store, client), inFlight?.end(client) ?? 0)
}

/**
 * True when `decoded` would not fully integrate into the doc: some struct starts after the doc's
 * state for its client (a gap), refers (origin, right origin, parent) to a struct neither the doc
 * nor the update has, or some delete range reaches past what the doc and the update hold (Yjs
 * keeps that part of a delete set pending too, and retries it on every later update: a
 * delete-only update for made-up ids is as much a pending pile-up as made-up structs).
 * `inFlight` is what the write pipeline will add before this update is applied (docs/in-flight.ts).
 */
export function dependsOnMissing (decoded: DecodedUpdate, ydoc: Y.Doc, inFlight?: InFlight): boolean {
  const state = knownState(ydoc, inFlight)
  // The clock range the update itself covers, per client.
  const covers = new Map<number, { from: number, to: number }>()
  for (const s of decoded.structs) {
    const c = covers.get(s.id.client)
    if (c === undefined) covers.set(s.id.client, { from: s.id.clock, to: s.id.clock + s.length })
    else { c.from = Math.min(c.from, s.id.clock); c.to = Math.max(c.to, s.id.clock + s.length) }
  }
  for (const [client, range] of covers) {
    if (range.from > state(client)) return true
  }
  const known = (id: Y.ID | null): boolean => {
    if (id == null) return true
    if (id.clock < state(id.client)) return true
    const c = covers.get(id.client)
    return c !== undefined && id.clock >= c.from && id.clock < c.to
  }
  for (const s of decoded.structs) {
    if (!(s instanceof Y.Item)) continue
    if (!known(s.origin) || !known(s.rightOrigin)) return true
    if (s.parent instanceof Y.ID && !known(s.parent)) return true
  }
  for (const [client, ranges] of decoded.ds.clients) {
    // A crafted delete set need not be sorted or merged: check every range.
    const upTo = Math.max(state(client), covers.get(client)?.to ?? 0)
    for (const r of ranges) {
      if (r.clock + r.len > upTo) return true
    }
  }
  return false
}

/**
 * The part of `dependsOnMissing` the bounds walk can answer before Yjs decodes the update: a
 * block that starts past the known state (a gap), or a delete range past what the doc and the
 * update hold. Never stricter than `dependsOnMissing` (the walk's string lengths are upper bounds).
 */
export function shapeDependsOnMissing (shape: UpdateShape, ydoc: Y.Doc, inFlight?: InFlight): boolean {
  const state = knownState(ydoc, inFlight)
  for (const [client, range] of shape.clients) {
    if (range.from > state(client)) return true
  }
  for (const [client, end] of shape.deleteEnds) {
    if (end > Math.max(state(client), shape.clients.get(client)?.to ?? 0)) return true
  }
  return false
}
