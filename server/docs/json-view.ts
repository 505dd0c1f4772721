/**
 * The JSON view of a Y.Doc, rendered without knowing the app's schema.
 *
 * A doc loaded from updates does not know what its root types are: until the app calls
 * `doc.getText(name)` (the server never does), each root in `doc.share` is a bare `AbstractType`
 * holding a linked list of items (`_start`) and/or a key map (`_map`). The kind is inferred from
 * what the items hold: strings and formatting marks → text; XML elements or XML text → an XML
 * fragment (what y-prosemirror, Tiptap and y-quill's XML mode write); any other values → array;
 * only keys → map. Callers can pin kinds (`?types=body:text,meta:map`) where inference guesses
 * wrong (e.g. a text whose content was all deleted renders as "").
 *
 * The shared doc is only read, never converted: calling `doc.getText(name)` on it would swap the
 * root's class in place for every later reader, and throw for the next caller pinning another
 * kind. So everything here walks the items directly.
 *
 * XML is serialised by us, not by Yjs' `toString()`, because Yjs does not escape text or
 * attribute values: a paragraph containing `<script>` would come out as a script element.
 */
import * as Y from 'yjs'
import { bytesToBase64 } from '../../shared/base64.js'
import { WeftError } from '../errors.js'

export type RootKind = 'text' | 'map' | 'array' | 'xml'

export interface JsonView {
  /** Root name → value: text → string, map → object, array → array, xml → XML string. */
  content: Record<string, unknown>
  /** Root name → the kind it was rendered as (so a viewer can tell XML from plain text). */
  types: Record<string, RootKind>
}

export class TypesSpecError extends WeftError {
  override name = 'TypesSpecError'
  constructor (message: string) { super('malformed', message) }
}

const KINDS: Record<string, RootKind> = { text: 'text', map: 'map', array: 'array', xml: 'xml', xmlfragment: 'xml' }
const MAX_PINNED = 256

/** Parses `name:kind,name:kind` (kinds: text, map, array, xml). Throws `TypesSpecError`. */
export function parseTypes (spec: string | undefined): Map<string, RootKind> {
  const out = new Map<string, RootKind>()
  if (spec === undefined || spec === '') return out
  const parts = spec.split(',')
  if (parts.length > MAX_PINNED) throw new TypesSpecError(`at most ${MAX_PINNED} pinned types`)
  for (const part of parts) {
    const at = part.lastIndexOf(':')
    const kind = KINDS[part.slice(at + 1).toLowerCase()]
    if (at <= 0 || kind === undefined) throw new TypesSpecError(`bad type pin "${part}" (want name:text|map|array|xml)`)
    out.set(part.slice(0, at), kind)
  }
  return out
}

/**
 * How XML roots are rendered: an escaped XML string by default; `?view=prosemirror` passes
 * docs/prosemirror.ts' renderer (null: a pinned root that does not exist yet).
 */
export type XmlRenderer = (root: Y.AbstractType<any> | null) => unknown

/** The JSON view of every root of `doc`, plus pinned roots that do not exist yet (empty). */
export function jsonView (doc: Y.Doc, pinned: ReadonlyMap<string, RootKind> = new Map(), renderXml?: XmlRenderer): JsonView {
  const content: Record<string, unknown> = Object.create(null)
  const types: Record<string, RootKind> = Object.create(null)
  for (const [name, type] of doc.share) {
    const kind = pinned.get(name) ?? inferKind(type)
    types[name] = kind
    content[name] = kind === 'xml' && renderXml !== undefined ? renderXml(type) : render(kind, type)
  }
  for (const [name, kind] of pinned) {
    if (name in types) continue
    types[name] = kind
    content[name] = kind === 'xml' && renderXml !== undefined ? renderXml(null) : kind === 'map' ? {} : kind === 'array' ? [] : ''
  }
  return { content, types }
}

type AnyType = Y.AbstractType<any>

export function inferKind (type: AnyType): RootKind {
  // A root the server itself typed (or a nested type) knows its class.
  if (type instanceof Y.XmlFragment) return 'xml'
  if (type instanceof Y.Text) return 'text'
  if (type instanceof Y.Map) return 'map'
  if (type instanceof Y.Array) return 'array'
  for (let item = type._start; item !== null; item = item.right) {
    const c = item.content
    if (c instanceof Y.ContentString || c instanceof Y.ContentFormat || c instanceof Y.ContentEmbed) return 'text'
    if (c instanceof Y.ContentType) return isXmlNode(c.type) ? 'xml' : 'array'
    if (c instanceof Y.ContentDeleted) continue // garbage-collected: says nothing about the kind
    return 'array'
  }
  // Only deleted items: a sequence emptied by edits, most often a text.
  if (type._start !== null) return 'text'
  return 'map'
}

function isXmlNode (t: unknown): boolean {
  return t instanceof Y.XmlElement || t instanceof Y.XmlText || t instanceof Y.XmlHook
}

function render (kind: RootKind, type: AnyType): unknown {
  switch (kind) {
    case 'text': return renderText(type)
    case 'map': return renderMap(type)
    case 'array': return renderArray(type)
    case 'xml': return xmlChildren(type)
  }
}

function renderText (type: AnyType): string {
  let s = ''
  for (let item = type._start; item !== null; item = item.right) {
    if (!item.deleted && item.content instanceof Y.ContentString) s += item.content.str
  }
  return s
}

function renderArray (type: AnyType): unknown[] {
  const out: unknown[] = []
  for (let item = type._start; item !== null; item = item.right) {
    if (item.deleted || !item.countable) continue
    for (const v of item.content.getContent()) out.push(renderValue(v))
  }
  return out
}

function renderMap (type: AnyType): Record<string, unknown> {
  // Null prototype: a key named "__proto__" is data, not a prototype swap.
  const out: Record<string, unknown> = Object.create(null)
  for (const [key, item] of type._map) {
    if (item.deleted) continue
    const values = item.content.getContent()
    out[key] = renderValue(values[values.length - 1])
  }
  return out
}

/** Values inside maps and arrays: nested Yjs types know their class, JSON passes through. */
function renderValue (v: unknown): unknown {
  if (v instanceof Y.AbstractType) {
    if (v instanceof Y.XmlElement) return xmlElement(v)
    if (v instanceof Y.XmlFragment) return xmlChildren(v)
    if (v instanceof Y.XmlText) return xmlText(v)
    if (v instanceof Y.Text) return renderText(v)
    if (v instanceof Y.Map) return renderMap(v)
    if (v instanceof Y.Array) return renderArray(v)
    return render(inferKind(v), v)
  }
  if (v instanceof Y.Doc) return { subdoc: v.guid }
  if (v instanceof Uint8Array) return bytesToBase64(v)
  return v === undefined ? null : v
}

// ---- XML --------------------------------------------------------------------------------

function xmlChildren (type: AnyType): string {
  let s = ''
  for (let item = type._start; item !== null; item = item.right) {
    if (item.deleted) continue
    const c = item.content
    if (c instanceof Y.ContentType) {
      if (c.type instanceof Y.XmlElement) s += xmlElement(c.type)
      else if (c.type instanceof Y.XmlText) s += xmlText(c.type)
    } else if (c instanceof Y.ContentString) {
      s += escapeText(c.str) // a text root pinned as xml
    }
  }
  return s
}

function xmlElement (el: Y.XmlElement): string {
  const name = xmlName(el.nodeName)
  return `<${name}${xmlAttributes(el.getAttributes() as Record<string, unknown>)}>${xmlChildren(el)}</${name}>`
}

/**
 * Formatted text (y-prosemirror stores marks as format attributes, e.g. `{ bold: true }` or
 * `{ link: { href } }`) becomes nested elements, like Yjs' own `XmlText.toString()`, with runs
 * of equal formatting merged.
 */
function xmlText (type: AnyType): string {
  const attrs = new Map<string, unknown>()
  let out = ''
  let run = ''
  let runKey = ''
  let runAttrs: Array<[string, unknown]> = []
  const flush = (): void => {
    if (run === '') return
    let s = escapeText(run)
    for (let i = runAttrs.length - 1; i >= 0; i--) {
      const [key, value] = runAttrs[i]!
      const name = xmlName(key)
      const inner = value !== null && typeof value === 'object' ? xmlAttributes(value as Record<string, unknown>) : ''
      s = `<${name}${inner}>${s}</${name}>`
    }
    out += s
    run = ''
  }
  for (let item = type._start; item !== null; item = item.right) {
    if (item.deleted) continue
    const c = item.content
    if (c instanceof Y.ContentFormat) {
      if (c.value === null) attrs.delete(c.key)
      else attrs.set(c.key, c.value)
    } else if (c instanceof Y.ContentString) {
      const sorted = [...attrs].sort((a, b) => a[0] < b[0] ? -1 : 1)
      const key = JSON.stringify(sorted)
      if (key !== runKey) { flush(); runKey = key; runAttrs = sorted }
      run += c.str
    }
  }
  flush()
  return out
}

function xmlAttributes (attrs: Record<string, unknown>): string {
  let s = ''
  for (const key of Object.keys(attrs).sort()) {
    const v = attrs[key]
    if (v === null || v === undefined) continue
    s += ` ${xmlName(key)}="${escapeAttr(typeof v === 'string' ? v : JSON.stringify(v))}"`
  }
  return s
}

/** Element and attribute names come from the doc: anything that is not a plain XML name is made one. */
export function xmlName (name: string): string {
  const cleaned = name.replace(/[^A-Za-z0-9_.-]/g, '_')
  return /^[A-Za-z_]/.test(cleaned) ? cleaned : `_${cleaned}`
}

const escapeText = (s: string): string => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;')
const escapeAttr = (s: string): string => escapeText(s).replace(/"/g, '&quot;')
