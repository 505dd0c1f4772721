/**
 * Latency markers. Every edit a load client types is the text `#~` + 8 hex digits: the edit's
 * global id (client × stride + n). Yjs keeps inserted strings verbatim in updates, and every
 * server here forwards them as bytes, so a receiver finds send times by scanning for `#~`
 * with Buffer.indexOf — no Yjs decoding on the hot path.
 */
import * as Y from 'yjs'

export const MARK = Buffer.from('#~')
const HEX = 8

export const markerText = (id: number): string => '#~' + id.toString(16).padStart(HEX, '0')

function hexValue (c: number): number {
  if (c >= 48 && c <= 57) return c - 48
  if (c >= 97 && c <= 102) return c - 87
  return -1
}

/** Calls `found(id)` for every marker in `buf`. */
export function scanMarkers (buf: Buffer, found: (id: number) => void): void {
  let i = buf.indexOf(MARK)
  while (i !== -1 && i + 2 + HEX <= buf.length) {
    let id = 0
    let ok = true
    for (let k = i + 2; k < i + 2 + HEX; k++) {
      const v = hexValue(buf[k]!)
      if (v < 0) { ok = false; break }
      id = id * 16 + v
    }
    if (ok) found(id)
    i = buf.indexOf(MARK, i + 2)
  }
}

/**
 * The raw Yjs updates one client types: each appends one marker to its own text, so every
 * update depends only on the client's earlier ones (valid in any room, in order).
 * Client ids are fixed per client index so updates can be cached across runs (fresh servers).
 */
export function typedUpdates (clientIndex: number, count: number, stride: number): Uint8Array[] {
  const doc = new Y.Doc()
  doc.clientID = 1_000_000 + clientIndex
  const text = doc.getText('t')
  const out: Uint8Array[] = []
  doc.on('update', (u: Uint8Array) => { out.push(u) })
  for (let n = 0; n < count; n++) text.insert(text.length, markerText(clientIndex * stride + n))
  doc.destroy()
  return out
}
