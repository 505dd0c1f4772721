/**
 * Makes an XML fragment hold a ProseMirror document as the smallest change, the way
 * y-prosemirror's `updateYFragment` does for an editor, but without the app's schema:
 *
 * - Children are matched by content (a hash of the whole subtree): a sequence diff over the
 *   children keeps every unchanged node as the very same Yjs item, wherever it moved relative to
 *   the edits, so an editor's cursor in an untouched paragraph stays where it was.
 * - Between kept children, a changed node is updated in place when the new one has the same type
 *   (attributes set or removed one by one, children diffed again); otherwise it is replaced.
 * - Inside a text run, the characters are diffed (docs/text-diff.ts) and marks changed with
 *   `format()` only where they differ, so concurrent typing in the same paragraph survives.
 *
 * Marks are stored as y-prosemirror stores them (`{ [type]: attrs }`; `type--<hash>` for a mark
 * type that appears twice on one text node or that the doc already stores hashed), so the
 * editors' y-prosemirror reads what it would have written itself.
 */
import { createHash } from 'node:crypto'
import * as Y from 'yjs'
import * as sha256 from 'lib0/hash/sha256'
import * as buf from 'lib0/buffer'
import { diffDeadline, diffKeys, diffText } from './text-diff.js'
import { isHashedMarkKey, markName, type Json, type PmMark } from './prosemirror.js'
import type { InChild, InElement, InText, PmRun } from './prosemirror-input.js'

/** How far ahead a changed node looks for an old node of its type to update in place. */
const PAIR_LOOKAHEAD = 32

type YChild = Y.XmlElement | Y.XmlText | unknown

interface Walk {
  /** Mark types the doc stores under hashed keys (overlapping marks). */
  hashed: Set<string>
  /** Subtree hashes of the doc's nodes and of the target's, each computed once. */
  keys: Map<unknown, string>
  /** One deadline for all the diffing of the document (docs/text-diff.ts). */
  deadline: number
}

/** Changes `fragment` (in a transaction of the caller's) to hold `doc`'s children. */
export function writeProsemirror (fragment: Y.XmlFragment, doc: InElement): void {
  const walk: Walk = { hashed: new Set(), keys: new Map(), deadline: diffDeadline() }
  updateChildren(fragment, doc.children, walk)
}

function updateChildren (parent: Y.XmlFragment | Y.XmlElement, target: InChild[], walk: Walk): void {
  const current = parent.toArray() as YChild[]
  const a = current.map(c => yKey(c, walk))
  const b = target.map(p => inKey(p, walk))
  // Edits go by reference (the node before, the item to delete), never by index: an XML type
  // has no search markers, so each index walks from its start (100,000 paragraphs took a minute).
  let prev: Y.XmlElement | Y.XmlText | null = null
  let ai = 0
  let bi = 0
  let batch: Array<Y.XmlElement | Y.XmlText> = []
  const flush = (): void => {
    if (batch.length === 0) return
    parent.insertAfter(prev, batch)
    prev = batch[batch.length - 1]!
    batch = []
  }
  for (const piece of diffKeys(a, b, walk.deadline)) {
    if ('keep' in piece) {
      flush()
      prev = current[ai + piece.keep - 1] as Y.XmlElement | Y.XmlText
      ai += piece.keep
      bi += piece.keep
      continue
    }
    const olds = current.slice(ai, ai + piece.remove)
    let j = 0
    for (const p of target.slice(bi, bi + piece.insert)) {
      let k = -1
      for (let t = j; t < olds.length && t < j + PAIR_LOOKAHEAD; t++) {
        if (sameType(olds[t], p)) { k = t; break }
      }
      if (k === -1) {
        batch.push(build(p, walk))
        continue
      }
      flush()
      for (; j < k; j++) remove(olds[j])
      const old = olds[k] as Y.XmlElement | Y.XmlText
      if (p.kind === 'text') updateText(old as Y.XmlText, p, walk)
      else updateElement(old as Y.XmlElement, p, walk)
      prev = old
      j = k + 1
    }
    flush()
    for (; j < olds.length; j++) remove(olds[j])
    ai += piece.remove
    bi += piece.insert
  }
  flush()
}

function remove (child: YChild): void {
  const item = (child as Y.AbstractType<any>)._item
  const doc = (child as Y.AbstractType<any>).doc
  if (item !== null && doc !== null) doc.transact(tr => item.delete(tr))
}

function sameType (old: YChild, p: InChild): boolean {
  return p.kind === 'text' ? old instanceof Y.XmlText : old instanceof Y.XmlElement && old.nodeName === p.name
}

/** A new node with its content, not yet in the doc (Yjs integrates it with its parent). */
function build (p: InChild, walk: Walk): Y.XmlElement | Y.XmlText {
  if (p.kind === 'text') {
    const text = new Y.XmlText()
    let at = 0
    for (const run of p.runs) {
      text.insert(at, run.text, attributesFor(run.marks, walk, null))
      at += run.text.length
    }
    return text
  }
  const el = new Y.XmlElement(p.name)
  for (const [key, value] of Object.entries(p.attrs)) el.setAttribute(key, value as any)
  if (p.children.length > 0) el.insert(0, p.children.map(c => build(c, walk)))
  return el
}

function updateElement (el: Y.XmlElement, p: InElement, walk: Walk): void {
  const current = el.getAttributes() as Record<string, Json>
  for (const [key, value] of Object.entries(p.attrs)) {
    if (!(key in current) || stable(current[key]!) !== stable(value)) el.setAttribute(key, value as any)
  }
  for (const key of Object.keys(current)) {
    if (!(key in p.attrs)) el.removeAttribute(key)
  }
  updateChildren(el, p.children, walk)
}

// ---- text -------------------------------------------------------------------------------

interface OldRun { start: number, length: number, attributes: Record<string, unknown>, key: string }

/** Diffs the characters, then fixes marks where the kept text's differ from the target's. */
function updateText (text: Y.XmlText, p: InText, walk: Walk): void {
  const oldRuns: OldRun[] = []
  let oldStr = ''
  for (const op of text.toDelta() as Array<{ insert: unknown, attributes?: Record<string, unknown> }>) {
    const attributes = op.attributes ?? {}
    // An embed counts one position in Yjs; it never matches target text.
    const s = typeof op.insert === 'string' ? op.insert : '\uFFFC'
    oldRuns.push({ start: oldStr.length, length: s.length, attributes, key: typeof op.insert === 'string' ? marksKeyOfAttributes(attributes) : '\u0000embed' })
    oldStr += s
  }
  const newRuns: Array<PmRun & { start: number, key: string }> = []
  let newStr = ''
  for (const run of p.runs) {
    newRuns.push({ ...run, start: newStr.length, key: marksKey(run.marks) })
    newStr += run.text
  }
  const runAt = <R extends { start: number }>(runs: R[], pos: number, from: number): number => {
    let i = from
    while (i + 1 < runs.length && runs[i + 1]!.start <= pos) i++
    return i
  }
  let index = 0
  let oldPos = 0
  let newPos = 0
  let oi = 0
  let ni = 0
  for (const piece of diffText(oldStr, newStr, walk.deadline)) {
    if ('keep' in piece) {
      // Same characters: set marks on the stretches whose marks differ.
      let done = 0
      while (done < piece.keep) {
        oi = runAt(oldRuns, oldPos + done, oi)
        ni = runAt(newRuns, newPos + done, ni)
        const o = oldRuns[oi]!
        const n = newRuns[ni]!
        const len = Math.min(o.start + o.length - (oldPos + done), n.start + n.text.length - (newPos + done), piece.keep - done)
        if (o.key !== n.key) text.format(index + done, len, attributesFor(n.marks, walk, o.attributes))
        done += len
      }
      index += piece.keep
      oldPos += piece.keep
      newPos += piece.keep
      continue
    }
    if (piece.remove > 0) text.delete(index, piece.remove)
    oldPos += piece.remove
    let done = 0
    while (done < piece.insert.length) {
      ni = runAt(newRuns, newPos + done, ni)
      const n = newRuns[ni]!
      const len = Math.min(n.start + n.text.length - (newPos + done), piece.insert.length - done)
      text.insert(index + done, piece.insert.slice(done, done + len), attributesFor(n.marks, walk, null))
      done += len
    }
    index += piece.insert.length
    newPos += piece.insert.length
  }
}

/**
 * The formatting attributes for `marks`: each mark under the key the doc already uses for it
 * (from `old`, the attributes there now, which are also cleared where no mark wants them), else
 * its name, or `name--<hash>` like y-prosemirror for a type that overlaps itself.
 */
function attributesFor (marks: PmMark[], walk: Walk, old: Record<string, unknown> | null): Record<string, unknown> {
  const out: Record<string, unknown> = {}
  const oldByMark = new Map<string, string>()
  if (old !== null) for (const [key, value] of Object.entries(old)) oldByMark.set(markKey(markName(key), value), key)
  const count = new Map<string, number>()
  for (const m of marks) count.set(m.type, (count.get(m.type) ?? 0) + 1)
  for (const m of marks) {
    const reuse = oldByMark.get(markKey(m.type, m.attrs))
    const key = reuse ?? (count.get(m.type)! > 1 || walk.hashed.has(m.type) ? `${m.type}--${hashOfJson(m.attrs === undefined ? { type: m.type } : { type: m.type, attrs: m.attrs })}` : m.type)
    out[key] = m.attrs ?? {}
  }
  if (old !== null) for (const key of Object.keys(old)) if (!(key in out)) out[key] = null
  return out
}

/** y-prosemirror's `hashOfJSON`: sha256 of lib0's encoding, folded to 6 bytes, base64. */
function hashOfJson (json: unknown): string {
  const digest = sha256.digest(buf.encodeAny(json as any))
  for (let i = 6; i < digest.length; i++) digest[i % 6] = digest[i % 6]! ^ digest[i]!
  return buf.toBase64(digest.slice(0, 6))
}

// ---- subtree keys -----------------------------------------------------------------------

/**
 * A mark as compared: type and attrs, where `{}`, `true` and no attrs are the same, and so are an
 * attribute set to null and one left out (a client may send either for a schema default).
 */
function markKey (type: string, attrs: unknown): string {
  const a = attrs !== null && typeof attrs === 'object' && !Array.isArray(attrs) ? stableAttrs(attrs as Record<string, Json>) : '{}'
  return `${type}\u0000${a}`
}

/** A set of marks as compared (order is not significant). */
function marksKey (marks: PmMark[]): string {
  return marks.map(m => markKey(m.type, m.attrs)).sort().join('\u0001')
}

function marksKeyOfAttributes (attributes: Record<string, unknown>): string {
  return Object.entries(attributes).map(([k, v]) => markKey(markName(k), v)).sort().join('\u0001')
}

function digest (s: string): string {
  return createHash('sha1').update(s).digest('base64')
}

function yKey (c: YChild, walk: Walk): string {
  const known = walk.keys.get(c)
  if (known !== undefined) return known
  let key: string
  if (c instanceof Y.XmlText) {
    const runs: Array<[string, string]> = []
    for (const op of c.toDelta() as Array<{ insert: unknown, attributes?: Record<string, unknown> }>) {
      if (typeof op.insert !== 'string') { runs.push(['\uFFFC', `\u0000embed${runs.length}`]); continue }
      const attributes = op.attributes ?? {}
      for (const k of Object.keys(attributes)) if (isHashedMarkKey(k)) walk.hashed.add(markName(k))
      pushRun(runs, op.insert, marksKeyOfAttributes(attributes))
    }
    key = digest('t' + JSON.stringify(runs))
  } else if (c instanceof Y.XmlElement) {
    const attrs = c.getAttributes() as Record<string, Json>
    key = digest('e' + JSON.stringify([c.nodeName, stableAttrs(attrs), (c.toArray() as YChild[]).map(x => yKey(x, walk))]))
  } else {
    key = `other:${walk.keys.size}` // a string or hook in a fragment: never equal to anything
  }
  walk.keys.set(c, key)
  return key
}

function inKey (p: InChild, walk: Walk): string {
  const known = walk.keys.get(p)
  if (known !== undefined) return known
  let key: string
  if (p.kind === 'text') {
    const runs: Array<[string, string]> = []
    for (const r of p.runs) pushRun(runs, r.text, marksKey(r.marks))
    key = digest('t' + JSON.stringify(runs))
  } else {
    key = digest('e' + JSON.stringify([p.name, stableAttrs(p.attrs), p.children.map(c => inKey(c, walk))]))
  }
  walk.keys.set(p, key)
  return key
}

/** Adjacent runs with the same marks are one (Yjs may split a run where a format item sits). */
function pushRun (runs: Array<[string, string]>, text: string, marks: string): void {
  const last = runs[runs.length - 1]
  if (last !== undefined && last[1] === marks) last[0] += text
  else runs.push([text, marks])
}

function stableAttrs (attrs: Record<string, Json>): string {
  return stable(Object.fromEntries(Object.entries(attrs).filter(([, v]) => v !== null)))
}

/** JSON with object keys sorted, so equal values compare equal. */
function stable (v: Json): string {
  if (v === null || typeof v !== 'object') return JSON.stringify(v) ?? 'null'
  if (Array.isArray(v)) return `[${v.map(stable).join(',')}]`
  return `{${Object.keys(v).sort().map(k => `${JSON.stringify(k)}:${stable(v[k]!)}`).join(',')}}`
}
