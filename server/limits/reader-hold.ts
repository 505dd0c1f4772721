/**
 * How a reader that stays (an SSE stream, a held long poll) holds its doc. Any name is a valid
 * doc, so a reader may name one nobody wrote yet: a dashboard opened before the first editor
 * (legitimate) or a client walking made-up names (which filled `maxDocs`: 10,000 of them in
 * 24 s refused every other user's new docs). Such a doc is held like any other, but counts
 * against its reader's address in `maxEmptyDocsPerIp` (limits/connections.ts), far below
 * `maxDocs`, and is unloaded as soon as its last holder leaves (docs/registry.ts).
 *
 * The check comes before the load when the doc is not in memory (one storage read tells a
 * made-up name), so a refused reader loads nothing; a doc already in memory is checked as it is.
 * The slot is the reader's until it leaves, even if an editor writes meanwhile: counting it
 * again on every write would cost more than the slot.
 */
import type { WeftContext } from '../context.js'
import { isBlank } from '../docs/blank.js'
import type { SharedDoc } from '../docs/shared-doc.js'
import type { DocLease } from '../docs/registry.js'
import type { Release } from './connections.js'

export interface ReaderHold {
  doc: SharedDoc
  /** Releases the doc and the reader's empty-doc slot, if it took one. Idempotent. */
  release: Release
}

export async function holdForReader (ctx: WeftContext, name: string, ip: string): Promise<ReaderHold> {
  const { registry, limits } = ctx
  let slot: Release | null = null
  if (!(await registry.exists(name))) slot = limits.admitEmptyDoc(ip, name)
  let lease: DocLease | null = null
  try {
    lease = await registry.lease(name)
    if (slot === null && isBlank(lease.doc)) slot = limits.admitEmptyDoc(ip, name)
  } catch (err) {
    lease?.release()
    slot?.()
    throw err
  }
  const held = lease
  // Both are idempotent (a lease, and a limit's release), so this is too.
  return { doc: held.doc, release: () => { held.release(); slot?.() } }
}
