/**
 * Server-side edits: `weft.openDoc(name)` gives a Y.Doc of your own, kept in sync with the
 * shared doc. Your edits go through the same pipeline as a client's (validated, stored, then
 * broadcast); everyone else's edits arrive in it. The shared Y.Doc itself is never handed out,
 * because a direct edit to it would be seen before it is stored.
 */
import * as Y from 'yjs'
import type { AwarenessBroadcast, DocPeer, UpdateBroadcast } from './broadcast.js'
import type { SharedDoc } from './shared-doc.js'

const fromServer = Symbol('weft:from-shared-doc')

export class DocHandle implements DocPeer {
  readonly access = 'write' as const
  readonly hearsPresence = false
  readonly doc = new Y.Doc()
  private writes: Promise<void> = Promise.resolve()
  private released = false

  constructor (private readonly shared: SharedDoc, private readonly onRelease: (h: DocHandle) => void) {
    Y.applyUpdate(this.doc, Y.encodeStateAsUpdate(shared.ydoc), fromServer)
    shared.addPeer(this)
    this.doc.on('update', this.onLocalUpdate)
  }

  get name (): string { return this.shared.name }

  private readonly onLocalUpdate = (update: Uint8Array, origin: unknown): void => {
    if (origin === fromServer) return
    const stored = this.shared.submit(update, this)
    this.writes = this.writes.then(() => stored)
  }

  /** Resolves once every local edit so far is stored and broadcast; rejects if storing failed. */
  stored (): Promise<void> { return this.writes }

  deliverUpdate (b: UpdateBroadcast): void { Y.applyUpdate(this.doc, b.update, fromServer) }
  deliverAwareness (_b: AwarenessBroadcast): void {}
  close (): void {}

  /** Stops syncing and lets the doc unload. Idempotent. */
  async release (): Promise<void> {
    if (this.released) return
    this.released = true
    await this.writes.catch(() => {})
    this.doc.off('update', this.onLocalUpdate)
    this.shared.removePeer(this)
    this.onRelease(this)
    this.doc.destroy()
  }
}
