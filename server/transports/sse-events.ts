/**
 * The bytes of the SSE stream (DESIGN.md "SSE stream"). Every event is one `data:` line of
 * JSON (JSON.stringify never emits a raw newline, so no event needs splitting), preceded by
 * its `id:` cursor when it has one. Functions here only build bytes; who gets them, and how
 * often they are built, is the transport's business.
 */
import * as Y from 'yjs'
import type { Awareness } from 'y-protocols/awareness'
import { bytesToBase64 } from '../../shared/base64.js'
import type { AwarenessChanges } from '../docs/broadcast.js'
import { encodeDiff } from '../docs/dependencies.js'
import type { JsonView } from '../docs/json-view.js'

export type SseEventName = 'snapshot' | 'update' | 'awareness' | 'reset' | 'deleted'

/** A comment line: keeps proxies from timing the stream out, invisible to EventSource. */
export const KEEPALIVE = Buffer.from(': keepalive\n\n')

/** The first bytes of every stream: how long EventSource waits before reconnecting. */
export const retryField = (ms: number): Buffer => Buffer.from(`retry: ${Math.round(ms)}\n\n`)

/** One event. `dataJson` is already JSON text (callers cache it across observers). */
export function sseEvent (event: SseEventName, id: string | null, dataJson: string): Buffer {
  return Buffer.from(`${id === null ? '' : `id: ${id}\n`}event: ${event}\ndata: ${dataJson}\n\n`)
}

/** An update that changes nothing: carries fresh `content` at the end of a throttled burst. */
export const EMPTY_UPDATE = new Uint8Array([0, 0])

function withView (data: Record<string, unknown>, view: JsonView | null): string {
  if (view !== null) {
    data.content = view.content
    data.types = view.types
  }
  return JSON.stringify(data)
}

/** `snapshot` / `reset` data: the whole doc as one update, its state vector, the view. */
export function snapshotData (ydoc: Y.Doc, view: JsonView | null): string {
  return withView({
    update: bytesToBase64(encodeDiff(ydoc)),
    stateVector: bytesToBase64(Y.encodeStateVector(ydoc))
  }, view)
}

/** `update` data: one incremental update, with the view when one is due. */
export function updateData (update: Uint8Array, view: JsonView | null): string {
  return withView({ update: bytesToBase64(update) }, view)
}

/**
 * `awareness` data: which client ids changed, the current states of the added and updated
 * ones (keyed by client id), and the raw awareness update for clients that keep a y-protocols
 * `Awareness` (it carries the clocks that make re-application safe).
 */
export function awarenessData (awareness: Awareness, changes: AwarenessChanges, update: Uint8Array): string {
  const states: Record<string, unknown> = Object.create(null)
  const all = awareness.getStates()
  for (const id of [...changes.added, ...changes.updated]) {
    const state = all.get(id)
    if (state !== undefined) states[id] = state
  }
  return JSON.stringify({ added: changes.added, updated: changes.updated, removed: changes.removed, states, update: bytesToBase64(update) })
}
