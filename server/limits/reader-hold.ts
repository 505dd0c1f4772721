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
import type { DocRegistry } from '../docs/registry.js'
import type { Slot } from './connections.js'

/** A reader's hold: `release()` gives back the doc and the reader's slots. Idempotent. */
export interface ReaderHold extends Slot {
  readonly doc: SharedDoc
}

/**
 * Holds doc `name` for a reader from `ip`. `observer`, the reader's observer slot if it has
 * one, is given back with the hold (so is it when this throws).
 */
export async function holdForReader (ctx: WeftContext, name: string, ip: string, observer: Slot | null = null): Promise<ReaderHold> {
  const { registry, limits } = ctx
  const held = new Held(registry, name, observer)
  try {
    if (!(await registry.exists(name))) held.emptySlot = limits.admitEmptyDoc(ip, name)
    held.doc = await registry.acquire(name, held)
    if (held.emptySlot === null && isBlank(held.doc)) held.emptySlot = limits.admitEmptyDoc(ip, name)
  } catch (err) {
    held.release()
    throw err
  }
  return held
}

/**
 * One object per reader, itself the registry's holder (as a WebSocket connection is): no
 * lease object and closure beside it. An SSE stream keeps its hold for hours (bench "idle").
 */
class Held implements ReaderHold {
  doc!: SharedDoc
  /** The reader's `maxEmptyDocsPerIp` slot, if the doc had no content. */
  emptySlot: Slot | null = null
  constructor (private readonly registry: DocRegistry, private readonly name: string, private readonly observer: Slot | null) {}

  // Each part is idempotent (the registry counts holders by identity; limits' slots), so this is too.
  release (): void {
    this.registry.release(this.name, this)
    this.emptySlot?.release()
    this.observer?.release()
  }
}
