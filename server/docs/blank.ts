/**
 * Docs nobody wrote yet ("blank"). Every name is a valid doc, so readers may ask about one
 * that does not exist; they are answered without loading it (http/snapshot.ts, http/poll.ts)
 * with the blank cursor: sequence 0, which no stored record ever has (a new doc's sequence
 * starts at its creation time, shared/cursor.ts). A reader that later follows that cursor while
 * the doc is still blank is up to date, so it waits for the first write like any other reader;
 * once something was written, it gets every record since the doc began while the doc's window
 * still holds them all (docs/history.ts), else a `reset` with everything (it had nothing). A
 * doc nothing was stored for has this cursor too (SharedDoc.seq), on every node alike.
 */
import { BLANK_SEQ, formatCursor, parseCursor } from '../../shared/cursor.js'
import type { SharedDoc } from './shared-doc.js'

export { BLANK_SEQ }

/** A doc with no content: nothing written (or nothing it received could be integrated yet). */
export function isBlank (doc: SharedDoc): boolean {
  const store = doc.ydoc.store
  return store.clients.size === 0 && store.pendingStructs === null && store.pendingDs === null
}

export function blankCursor (name: string): string {
  return formatCursor(name, BLANK_SEQ)
}

/** The cursor to serve a reader with: the blank cursor on a doc still blank means "up to date". */
export function followCursor (doc: SharedDoc, cursor: string | null | undefined): string | null | undefined {
  if (parseCursor(doc.name, cursor) === BLANK_SEQ && isBlank(doc)) return formatCursor(doc.name, doc.seq)
  return cursor
}
