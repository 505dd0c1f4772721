/**
 * Resume cursors for SSE and long poll.
 *
 * A cursor is `<seq>.<tag>`: `seq` is the per-doc sequence number of the last stored update the
 * client has (base 36), `tag` a short hash of the doc name so a cursor from another doc is
 * recognised as foreign. Sequence numbers are assigned when an update is stored and are
 * persisted with it, so a cursor stays valid across a server restart.
 *
 * Why a sequence and not a state vector: a state vector grows with every client that ever
 * edited the doc (hundreds of bytes in a Last-Event-ID header on every event), while a sequence
 * is a few bytes, and "exactly the missed updates" is then a range lookup in the retained log.
 * A new doc starts its sequence at the creation time in microseconds, so a doc that was deleted
 * and re-created (or a memory-backed server that restarted) never reuses a number an old
 * cursor could hold: such cursors fall outside the window and get a `reset`.
 */

export interface Cursor { seq: number, tag: string }

/** FNV-1a, 32 bit, base 36: a tag, not a security measure. */
export function docTag (docName: string): string {
  let h = 0x811c9dc5
  for (let i = 0; i < docName.length; i++) {
    h ^= docName.charCodeAt(i)
    h = Math.imul(h, 0x01000193)
  }
  return (h >>> 0).toString(36)
}

export function formatCursor (docName: string, seq: number): string {
  return `${seq.toString(36)}.${docTag(docName)}`
}

/** Parses a cursor for `docName`; `null` for garbage or another doc's cursor. Never throws. */
export function parseCursor (docName: string, text: unknown): number | null {
  if (typeof text !== 'string' || text.length > 40) return null
  const m = /^([0-9a-z]{1,12})\.([0-9a-z]{1,8})$/.exec(text)
  if (m == null || m[2] !== docTag(docName)) return null
  const seq = parseInt(m[1]!, 36)
  return Number.isSafeInteger(seq) ? seq : null
}

/** The first sequence number of a brand-new doc (see above). */
/** The cursor of a doc nothing was stored for: no record ever has it (server/docs/blank.ts). */
export const BLANK_SEQ = 0

export const initialSeq = (): number => Date.now() * 1000
