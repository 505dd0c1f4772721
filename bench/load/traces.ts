/** Reading the real editing traces in `test/fixtures/editing-traces/` (see its README). */
import { readFileSync } from 'node:fs'
import { gunzipSync } from 'node:zlib'
import * as Y from 'yjs'

export type Patch = [pos: number, del: number, ins: string]
export interface SequentialTrace { startContent: string, endContent: string, txns: Array<{ patches: Patch[] }> }

const cache = new Map<string, SequentialTrace>()

export function loadTrace (path: string): SequentialTrace {
  let t = cache.get(path)
  if (t === undefined) cache.set(path, t = JSON.parse(gunzipSync(readFileSync(path)).toString('utf8')) as SequentialTrace)
  return t
}

/** The text after the first `count` txns, applied to a plain string (the expected result). */
export function textAfter (trace: SequentialTrace, count: number): string {
  let s = trace.startContent
  for (let i = 0; i < count && i < trace.txns.length; i++) {
    for (const [pos, del, ins] of trace.txns[i]!.patches) s = s.slice(0, pos) + ins + s.slice(pos + del)
  }
  return s
}

export function applyPatches (text: Y.Text, patches: Patch[]): void {
  for (const [pos, del, ins] of patches) {
    if (del > 0) text.delete(pos, del)
    if (ins.length > 0) text.insert(pos, ins)
  }
}
