/**
 * ProseMirror / Tiptap JSON from the network, checked and bounded before anything touches a doc
 * (`PUT /docs/:doc/content/:root`, http/content.ts). The shape is ProseMirror's `toJSON()`:
 * `{ type: 'doc', content: [node…] }`, a node `{ type, attrs?, content? }`, a text node
 * `{ type: 'text', text, marks? }`, a mark `{ type, attrs? }`. Anything else — unknown keys,
 * empty text, marks on non-text nodes (y-prosemirror does not store them), wrong types — is a
 * 400, so nothing the editor could not have written gets stored.
 *
 * The result is shaped the way y-prosemirror stores it (docs/prosemirror.ts): adjacent text nodes
 * form one text run list (one Y.XmlText), attributes whose value is `null` are left out.
 *
 * Bounds: nesting is measured on the raw text before `JSON.parse` (a 16 MiB body of `[[[[…`
 * would otherwise be built and walked), and the node count is capped, so the work of one request
 * is bounded whatever its size.
 */
import { WeftError } from '../errors.js'
import type { Json, PmMark } from './prosemirror.js'
import { exceedsJsonDepth } from '../../shared/json-depth.js'

/** How deep JSON may nest: a Tiptap document of lists in tables in lists stays under 30. */
export const MAX_JSON_DEPTH = 100
/**
 * Nodes (elements and text nodes) in one document. Each costs about 60 µs of Yjs and diff work on
 * the event loop (bench/content-put.ts: 20,000 stalled it 1.1–1.3 s, 50,000 0.7–5 s on a loaded
 * machine), so 5,000 — a document of some 2,500 paragraphs — keeps one write near the cost of the
 * largest POSTed update. Bigger documents go in as Yjs updates.
 */
export const MAX_NODES = 5_000
const MAX_MARKS = 64
const MAX_ATTRS = 256
const MAX_KEY_LENGTH = 256
/** A node or mark type: an identifier, as ProseMirror and Tiptap name them. */
const TYPE_NAME = /^[A-Za-z_][\w.:-]{0,127}$/

export interface PmRun { text: string, marks: PmMark[] }
export interface InText { kind: 'text', runs: PmRun[] }
export interface InElement { kind: 'element', name: string, attrs: Record<string, Json>, children: InChild[] }
export type InChild = InElement | InText

export class ContentShapeError extends WeftError {
  override name = 'ContentShapeError'
  constructor (message: string) { super('malformed', message) }
}

/** Throws when `text` (JSON) nests deeper than `max` (shared/json-depth.ts: linear, no recursion). */
export function checkJsonDepth (text: string, max = MAX_JSON_DEPTH): void {
  if (exceedsJsonDepth(text, max)) throw new ContentShapeError(`JSON nests deeper than ${max}`)
}

/** The document's root, checked: a `doc` node, whose children become the XML fragment's. */
export function parseProsemirror (value: unknown): InElement {
  const counter = { nodes: 0 }
  const node = object(value, 'the body')
  if (node.type !== 'doc') throw new ContentShapeError('the body must be a ProseMirror document: { "type": "doc", "content": [...] }')
  onlyKeys(node, ['type', 'content', 'attrs'], 'the doc node')
  if (node.attrs !== undefined && Object.keys(object(node.attrs, 'doc.attrs')).length > 0) throw new ContentShapeError('the doc node cannot have attrs (an XML fragment has none)')
  return { kind: 'element', name: 'doc', attrs: {}, children: children(node.content, 1, counter, 'doc') }
}

function children (content: unknown, depth: number, counter: { nodes: number }, where: string): InChild[] {
  if (content === undefined) return []
  if (!Array.isArray(content)) throw new ContentShapeError(`${where}.content must be an array`)
  if (depth > MAX_JSON_DEPTH) throw new ContentShapeError(`nodes nest deeper than ${MAX_JSON_DEPTH}`)
  const out: InChild[] = []
  for (let i = 0; i < content.length; i++) {
    if (++counter.nodes > MAX_NODES) throw new ContentShapeError(`more than ${MAX_NODES} nodes`)
    const at = `${where}.content[${i}]`
    const node = object(content[i], at)
    const type = typeName(node.type, at)
    if (type === 'text') {
      onlyKeys(node, ['type', 'text', 'marks'], at)
      if (typeof node.text !== 'string' || node.text === '') throw new ContentShapeError(`${at}.text must be a non-empty string`)
      const run: PmRun = { text: node.text, marks: marks(node.marks, at) }
      const last = out[out.length - 1]
      if (last?.kind === 'text') last.runs.push(run)
      else out.push({ kind: 'text', runs: [run] })
    } else {
      if (node.marks !== undefined) throw new ContentShapeError(`${at}: marks on a non-text node are not stored (y-prosemirror keeps marks on text only)`)
      onlyKeys(node, ['type', 'attrs', 'content'], at)
      out.push({ kind: 'element', name: type, attrs: attrs(node.attrs, at), children: children(node.content, depth + 1, counter, at) })
    }
  }
  return out
}

function marks (value: unknown, at: string): PmMark[] {
  if (value === undefined) return []
  if (!Array.isArray(value)) throw new ContentShapeError(`${at}.marks must be an array`)
  if (value.length > MAX_MARKS) throw new ContentShapeError(`${at}: more than ${MAX_MARKS} marks`)
  return value.map((m, i) => {
    const where = `${at}.marks[${i}]`
    const mark = object(m, where)
    onlyKeys(mark, ['type', 'attrs'], where)
    // A mark's attrs are stored whole, nulls included, as y-prosemirror stores them.
    const a = attrs(mark.attrs, where, true)
    return Object.keys(a).length > 0 ? { type: typeName(mark.type, where), attrs: a } : { type: typeName(mark.type, where) }
  })
}

/** A node's attrs without the `null` ones (y-prosemirror stores none of those); a mark's with them. */
function attrs (value: unknown, at: string, keepNull = false): Record<string, Json> {
  if (value === undefined || value === null) return {}
  const a = object(value, `${at}.attrs`)
  const keys = Object.keys(a)
  if (keys.length > MAX_ATTRS) throw new ContentShapeError(`${at}: more than ${MAX_ATTRS} attrs`)
  const out: Record<string, Json> = {}
  for (const key of keys) {
    if (key.length === 0 || key.length > MAX_KEY_LENGTH) throw new ContentShapeError(`${at}: an attr name must have 1 to ${MAX_KEY_LENGTH} characters`)
    if (keepNull || a[key] !== null) out[key] = a[key] as Json
  }
  return out
}

function object (value: unknown, at: string): Record<string, unknown> {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) throw new ContentShapeError(`${at} must be an object`)
  return value as Record<string, unknown>
}

function typeName (value: unknown, at: string): string {
  if (typeof value !== 'string' || !TYPE_NAME.test(value)) throw new ContentShapeError(`${at}.type must be a node or mark name (letters, digits, _ . : -; at most 128)`)
  return value
}

function onlyKeys (node: Record<string, unknown>, allowed: readonly string[], at: string): void {
  for (const key of Object.keys(node)) {
    if (!allowed.includes(key)) throw new ContentShapeError(`${at}: unknown key "${key}" (allowed: ${allowed.join(', ')})`)
  }
}
