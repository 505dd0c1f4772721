/**
 * Encoded snapshot answers (`GET /docs/:doc`) per loaded doc, kept while the doc's sequence
 * number is unchanged: the state, its cursor and its JSON view are all functions of the stored
 * records, so a doc at the same `seq` gives the same bytes. Eight readers spamming the snapshot
 * of a large doc re-encoded it on every request and pushed `/healthz` to 0.2–1.2 s; now it is
 * encoded once per change however many ask.
 *
 * Only answers without `?sv=` are kept (those depend on the caller's state vector). Variants
 * (binary, or JSON with a given `?types=`) are bounded per doc, since `types` is the caller's
 * text; more variants are answered uncached. Entries live as long as their doc object
 * (a WeakMap): an unloaded doc takes its cache with it.
 */
import type { SharedDoc } from '../docs/shared-doc.js'

export interface SnapshotAnswer {
  cursor: string
  contentType: string
  body: Buffer
}

/** Variants kept per doc: binary plus a few JSON type pinnings. */
const MAX_VARIANTS = 4

export class SnapshotCache {
  private readonly perDoc = new WeakMap<SharedDoc, { seq: number, variants: Map<string, SnapshotAnswer> }>()

  get (doc: SharedDoc, variant: string): SnapshotAnswer | undefined {
    const entry = this.perDoc.get(doc)
    return entry?.seq === doc.seq ? entry.variants.get(variant) : undefined
  }

  set (doc: SharedDoc, variant: string, answer: SnapshotAnswer): void {
    let entry = this.perDoc.get(doc)
    if (entry === undefined || entry.seq !== doc.seq) this.perDoc.set(doc, entry = { seq: doc.seq, variants: new Map() })
    if (entry.variants.size < MAX_VARIANTS) entry.variants.set(variant, answer)
  }
}
