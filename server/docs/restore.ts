/**
 * The update that brings a doc back to a version's content, computed without touching the doc.
 *
 * A restore must be one ordinary update, so every editor, observer and poller receives it like
 * any other edit, nobody reloads, and concurrent edits converge. "Replace the doc by the old
 * state" is not an update at all (Yjs only ever adds structs and deletions); what is, is the
 * inverse of everything that happened since the version: delete what was inserted since, and
 * insert again (as new items) what was deleted since. Yjs' UndoManager computes exactly that:
 *
 * 1. A scratch Y.Doc (gc off, so deleted items keep their content) is built from the version's
 *    state, its roots materialised with their kind (a bare root would skip Y.Text's formatting
 *    cleanup), and an UndoManager tracks all of them for a private origin.
 * 2. What the doc gained since the version (`encodeStateAsUpdate(current, sv(version))`: the
 *    structs after the version's state vector, plus every deletion) is applied with that origin,
 *    as one tracked change.
 * 3. `undo()` reverts that change; the update it emits, applied to the current doc, turns its
 *    content into the version's. The history after the version stays: the items deleted by the
 *    restore are still in the doc, so restoring a later version brings them back.
 *
 * Content deleted since the version may be garbage-collected in the current doc (its items
 * keep their ids, their content is gone); the undo re-inserts it from the scratch doc's copy,
 * which still holds it. The scratch doc writes under a client id the current doc never used,
 * so the update cannot collide with anyone's structs.
 */
import * as Y from 'yjs'
import { inferKind, type RootKind } from './json-view.js'

const restoring = Symbol('weft:restore')

/** Empty Y types of each kind, for materialising a root. */
const classOf: Record<RootKind, new () => Y.AbstractType<any>> = { text: Y.Text, map: Y.Map, array: Y.Array, xml: Y.XmlFragment }

/**
 * The update that turns `current`'s content into the content of the doc whose state is
 * `versionState`, or null when they already have the same content. `current` is only read.
 */
export function restoreUpdate (current: Y.Doc, versionState: Uint8Array): Uint8Array | null {
  const scratch = new Y.Doc({ gc: false })
  try {
    scratch.clientID = unusedClientId(current, versionState)
    Y.applyUpdate(scratch, versionState)
    // Kinds: as the version holds the root, unless it says nothing there (a root born later, or
    // one the version holds empty); then as the current doc holds it.
    const kinds = new Map<string, RootKind>()
    for (const [name, type] of current.share) kinds.set(name, inferKind(type))
    for (const [name, type] of scratch.share) if (type._start !== null || type._map.size > 0) kinds.set(name, inferKind(type))
    const roots = [...kinds].map(([name, kind]) => scratch.get(name, classOf[kind]))
    if (roots.length === 0) return null // neither has any content
    const undo = new Y.UndoManager(roots, { trackedOrigins: new Set([restoring]), captureTimeout: 0, ignoreRemoteMapChanges: true })
    Y.applyUpdate(scratch, Y.encodeStateAsUpdate(current, Y.encodeStateVector(scratch)), restoring)
    let out: Uint8Array | null = null
    const capture = (update: Uint8Array): void => { out = out === null ? update : Y.mergeUpdates([out, update]) }
    scratch.on('update', capture)
    undo.undo()
    scratch.off('update', capture)
    undo.destroy()
    return out
  } finally {
    scratch.destroy()
  }
}

/** A random 32-bit client id that neither doc has structs under. */
function unusedClientId (current: Y.Doc, versionState: Uint8Array): number {
  const used = new Set<number>(current.store.clients.keys())
  for (const client of Y.decodeStateVector(Y.encodeStateVectorFromUpdate(versionState)).keys()) used.add(client)
  for (let i = 0; i < 1000; i++) {
    const id = Math.floor(Math.random() * 0x100000000) >>> 0
    if (!used.has(id)) return id
  }
  throw new Error('no unused client id found')
}
