/**
 * The JSON bodies webhooks POST, one type per event. Every body names its `event`, its `id`
 * (also the `Weft-Delivery` header: the same on every attempt, so a receiver dedupes by it) and
 * `at` (when the event was made, ISO 8601). Deliveries may arrive out of order (a retry, two
 * URLs): order a doc's `changed` events by `toSeq`.
 */
import type { RootKind } from '../docs/json-view.js'

interface Base { id: string, at: string, doc: string }

export interface ChangedEvent extends Base {
  event: 'changed'
  /** Cursor (shared/cursor.ts) and sequence number of the first and last record stored in the window. */
  fromCursor: string
  toCursor: string
  fromSeq: number
  toSeq: number
  /** Records stored in the window. */
  updates: number
  /** Who wrote them: the `sub` of their tokens (server-side edits and anonymous writers are left out). */
  users: string[]
  /** With `content: true`: the doc's JSON view when the window closed (root → value). */
  content?: Record<string, unknown>
  /** … and how each root was read (text, map, array, xml). */
  types?: Record<string, RootKind>
  /**
   * The window was still open when the server stopped without closing it (a crash); it was told
   * after the restart, up to the doc's newest record then. `updates` and `users` only know of the
   * window's first record.
   */
  recovered?: true
}

export interface CreatedEvent extends Base { event: 'created' }
export interface DeletedEvent extends Base { event: 'deleted', user?: string }
export interface RestoredEvent extends Base {
  event: 'restored'
  /** The version restored, and its name if it has one. */
  version: string
  name?: string
  /** The record that restored it. */
  seq: number
  cursor: string
  user?: string
}

export type WebhookEvent = ChangedEvent | CreatedEvent | DeletedEvent | RestoredEvent
