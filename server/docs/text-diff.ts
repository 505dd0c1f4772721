/**
 * A minimal diff between two strings, for writing new text into a Y.Text as the smallest change
 * (http/content.ts): what stays is kept as the same Yjs items, so an editor's cursor (a relative
 * position) and concurrent typing elsewhere survive.
 *
 * diff-match-patch (Myers' O(ND) bisection) finds it. Its cost is bounded three ways, because a
 * PUT body may be `maxMessageBytes` (16 MiB) and the diff runs on the event loop:
 * - the common prefix and suffix are trimmed first (linear), so a typical edit diffs a few chars;
 * - a middle larger than `CHAR_DIFF_MAX` is diffed by lines first and only replaced blocks up to
 *   that size are diffed again by characters (the bisection allocates two arrays of the middle's
 *   length: 16 MiB of fully changed text would take 256 MiB and minutes); one larger than
 *   `LINE_DIFF_MAX` is replaced whole (splitting 16 MiB into lines and back alone took 0.6 s);
 * - one deadline bounds all the diffing of a request (a ProseMirror document diffs each changed
 *   paragraph, so callers pass one absolute deadline to every call); past it, what is left is
 *   answered as "delete all, insert all" (after the common prefix and suffix) — still correct,
 *   just less minimal.
 *
 * Offsets are UTF-16 code units, as in Yjs. A cut is never placed inside a surrogate pair: Yjs
 * would store each half as U+FFFD.
 */
import DiffMatchPatch from 'diff-match-patch'

/** Kept text (`keep` units of the old string), or a replacement at that point. */
export type TextPiece = { keep: number } | { remove: number, insert: string }

/** Middles up to this many UTF-16 units (old + new) are diffed by characters directly. */
export const CHAR_DIFF_MAX = 1 << 18
/** Middles up to this many are diffed by lines, then by characters; larger ones are replaced. */
export const LINE_DIFF_MAX = 1 << 21

/** Time the diffing of one request may take before the rest is answered coarsely. */
export const DIFF_BUDGET_MS = 100

/** The deadline for a request's diffing that starts now. */
export const diffDeadline = (budgetMs = DIFF_BUDGET_MS): number => Date.now() + budgetMs

const dmp = new DiffMatchPatch()
dmp.Diff_Timeout = DIFF_BUDGET_MS / 1000

interface Change { remove: string, insert: string }
type Run = string | Change

export function diffText (a: string, b: string, deadline = diffDeadline()): TextPiece[] {
  if (a === b) return a.length === 0 ? [] : [{ keep: a.length }]
  const prefix = dmp.diff_commonPrefix(a, b)
  const suffix = dmp.diff_commonSuffix(a.slice(prefix), b.slice(prefix))
  const midA = a.slice(prefix, a.length - suffix)
  const midB = b.slice(prefix, b.length - suffix)
  const runs: Run[] = []
  if (prefix > 0) runs.push(a.slice(0, prefix))
  for (const r of diffMiddle(midA, midB, deadline)) push(runs, r)
  if (suffix > 0) push(runs, a.slice(a.length - suffix))
  return toPieces(fixSurrogates(runs))
}

function diffMiddle (a: string, b: string, deadline: number): Run[] {
  if (a === '' || b === '' || a.length + b.length > LINE_DIFF_MAX || Date.now() >= deadline) return [{ remove: a, insert: b }]
  if (a.length + b.length <= CHAR_DIFF_MAX) return toRuns(dmp.diff_main(a, b, false, deadline))
  // By lines first (each distinct line becomes one char), then replaced blocks by characters.
  const { chars1, chars2, lineArray } = dmp.diff_linesToChars_(a, b)
  const lines = dmp.diff_main(chars1, chars2, false, deadline)
  dmp.diff_charsToLines_(lines, lineArray)
  const out: Run[] = []
  for (const r of toRuns(lines)) {
    if (typeof r === 'string' || r.remove === '' || r.insert === '' || r.remove.length + r.insert.length > CHAR_DIFF_MAX || Date.now() >= deadline) push(out, r)
    else for (const inner of toRuns(dmp.diff_main(r.remove, r.insert, false, deadline))) push(out, inner)
  }
  return out
}

/** diff-match-patch's tuples as kept strings and changes (a change's delete and insert together). */
function toRuns (diffs: DiffMatchPatch.Diff[]): Run[] {
  const out: Run[] = []
  for (const [op, text] of diffs) {
    if (text === '') continue
    if (op === DiffMatchPatch.DIFF_EQUAL) push(out, text)
    else push(out, op === DiffMatchPatch.DIFF_DELETE ? { remove: text, insert: '' } : { remove: '', insert: text })
  }
  return out
}

/** Appends, merging neighbours of the same kind. */
function push (out: Run[], r: Run): void {
  const last = out[out.length - 1]
  if (typeof r === 'string') {
    if (r === '') return
    if (typeof last === 'string') out[out.length - 1] = last + r
    else out.push(r)
  } else {
    if (r.remove === '' && r.insert === '') return
    if (last !== undefined && typeof last !== 'string') out[out.length - 1] = { remove: last.remove + r.remove, insert: last.insert + r.insert }
    else out.push(r)
  }
}

const isHigh = (c: number): boolean => c >= 0xd800 && c <= 0xdbff
const isLow = (c: number): boolean => c >= 0xdc00 && c <= 0xdfff

/**
 * Moves half surrogate pairs at the edges of kept runs into the neighbouring changes, so every
 * cut falls between code points in both strings (the strings being well-formed).
 */
function fixSurrogates (runs: Run[]): Run[] {
  const out: Run[] = []
  for (let i = 0; i < runs.length; i++) {
    let r = runs[i]!
    if (typeof r !== 'string') { push(out, r); continue }
    const prev = out[out.length - 1]
    if (r.length > 0 && isLow(r.charCodeAt(0)) && prev !== undefined && typeof prev !== 'string') {
      out[out.length - 1] = { remove: prev.remove + r[0], insert: prev.insert + r[0] }
      r = r.slice(1)
    }
    const next = runs[i + 1]
    if (r.length > 0 && isHigh(r.charCodeAt(r.length - 1)) && next !== undefined && typeof next !== 'string') {
      const h = r[r.length - 1]!
      runs[i + 1] = { remove: h + next.remove, insert: h + next.insert }
      r = r.slice(0, -1)
    }
    push(out, r)
  }
  return out
}

function toPieces (runs: Run[]): TextPiece[] {
  return runs.map(r => typeof r === 'string' ? { keep: r.length } : { remove: r.remove.length, insert: r.insert })
}

/** Kept items, or `remove` old items replaced by `insert` new ones. */
export type ListPiece = { keep: number } | { remove: number, insert: number }

/** First char code of the alphabet items are mapped to; surrogates are skipped. */
const FIRST_CODE = 0x20
const MAX_DISTINCT = 0xffff - FIRST_CODE - 0x800

/**
 * A minimal diff of two lists of keys (equal keys = equal items), by the same algorithm: each
 * distinct key becomes one character. Lists with more distinct keys than characters get only
 * their common prefix and suffix kept.
 */
export function diffKeys (a: readonly string[], b: readonly string[], deadline = diffDeadline()): ListPiece[] {
  let prefix = 0
  while (prefix < a.length && prefix < b.length && a[prefix] === b[prefix]) prefix++
  let suffix = 0
  while (suffix < a.length - prefix && suffix < b.length - prefix && a[a.length - 1 - suffix] === b[b.length - 1 - suffix]) suffix++
  const out: ListPiece[] = []
  if (prefix > 0) out.push({ keep: prefix })
  const midA = a.slice(prefix, a.length - suffix)
  const midB = b.slice(prefix, b.length - suffix)
  if (midA.length > 0 || midB.length > 0) {
    const codes = new Map<string, string>()
    const encode = (keys: readonly string[]): string => {
      let s = ''
      for (const k of keys) {
        let c = codes.get(k)
        if (c === undefined) {
          let code = FIRST_CODE + codes.size
          if (code >= 0xd800) code += 0x800
          codes.set(k, c = String.fromCharCode(code))
        }
        s += c
      }
      return s
    }
    const sa = encode(midA)
    const sb = encode(midB)
    if (codes.size > MAX_DISTINCT || midA.length === 0 || midB.length === 0 || Date.now() >= deadline) {
      out.push({ remove: midA.length, insert: midB.length })
    } else {
      for (const r of toRuns(dmp.diff_main(sa, sb, false, deadline))) {
        out.push(typeof r === 'string' ? { keep: r.length } : { remove: r.remove.length, insert: r.insert.length })
      }
    }
  }
  if (suffix > 0) out.push({ keep: suffix })
  return out
}
