/**
 * ProseMirror / Tiptap JSON from an XML fragment, as y-prosemirror stores a document: one
 * Y.XmlElement per node (its `nodeName` the node type, its attributes the node's attrs), one
 * Y.XmlText per run of adjacent text nodes, with marks as formatting attributes (`{ bold: {} }`,
 * `{ link: { href } }`; a mark type that may overlap itself is keyed `name--<hash>`).
 *
 * The output is what y-prosemirror's `yXmlFragmentToProsemirrorJSON` gives (test/docs/
 * prosemirror-view.test.ts proves it on real Tiptap documents), normalised as ProseMirror's own
 * `toJSON()` writes: a mark without attributes has no `attrs` (y-prosemirror writes `attrs: {}`),
 * a node without children no `content`. We render it ourselves instead of calling y-prosemirror
 * because the server holds a root as a bare `AbstractType` (docs/json-view.ts: typing it would
 * change it for every later reader), and y-prosemirror would bring prosemirror-view and
 * prosemirror-state into the server. Below the root the types are real (Y.XmlElement,
 * Y.XmlText), and only their pure readers are used (`toDelta()`, `getAttributes()`).
 *
 * Without the app's schema, attributes whose value is `null` are absent (y-prosemirror does not
 * store them), so `Node.fromJSON(schema, json)` restores them; and content that is no XML (a text
 * root read as XML, embeds) is left out.
 */
import * as Y from 'yjs'
import { WeftError } from '../errors.js'
import { jsonView, type JsonView, type RootKind } from './json-view.js'

export type Json = null | boolean | number | string | Json[] | { [key: string]: Json }

export interface PmMark { type: string, attrs?: Record<string, Json> }
export interface PmNode {
  type: string
  attrs?: Record<string, Json>
  content?: PmNode[]
  marks?: PmMark[]
  text?: string
}

type AnyType = Y.AbstractType<any>

/** `{ type: 'doc', content }` for an XML root (a bare or typed fragment), or for none (empty). */
export function prosemirrorJson (root: AnyType | null): PmNode {
  const content: PmNode[] = []
  if (root !== null) for (const child of xmlChildren(root)) appendNode(content, child)
  return content.length > 0 ? { type: 'doc', content } : { type: 'doc' }
}

/** The live XML children of a type, read from its items (works on an untyped root). */
export function xmlChildren (type: AnyType): Array<Y.XmlElement | Y.XmlText> {
  const out: Array<Y.XmlElement | Y.XmlText> = []
  for (let item = type._start; item !== null; item = item.right) {
    if (item.deleted) continue
    const c = item.content
    if (c instanceof Y.ContentType && (c.type instanceof Y.XmlElement || c.type instanceof Y.XmlText)) out.push(c.type)
  }
  return out
}

function appendNode (out: PmNode[], child: Y.XmlElement | Y.XmlText): void {
  if (child instanceof Y.XmlText) {
    for (const t of textNodes(child)) out.push(t)
    return
  }
  const node: PmNode = { type: child.nodeName }
  const attrs = child.getAttributes() as Record<string, Json>
  if (Object.keys(attrs).length > 0) node.attrs = attrs
  const content: PmNode[] = []
  for (const c of xmlChildren(child)) appendNode(content, c)
  if (content.length > 0) node.content = content
  out.push(node)
}

/** An XmlText's runs as text nodes with marks, in Yjs' delta order (as y-prosemirror does). */
export function textNodes (text: Y.XmlText): PmNode[] {
  const out: PmNode[] = []
  for (const op of text.toDelta() as Array<{ insert: unknown, attributes?: Record<string, unknown> }>) {
    if (typeof op.insert !== 'string' || op.insert === '') continue
    // Keys in the order ProseMirror's toJSON() writes them, so the text is identical too.
    const node: PmNode = { type: 'text' }
    if (op.attributes !== undefined) {
      const marks = Object.entries(op.attributes).map(([key, value]) => markOf(key, value))
      if (marks.length > 0) node.marks = marks
    }
    node.text = op.insert
    out.push(node)
  }
  return out
}

/** y-prosemirror's key for an overlapping mark: `name--` and 8 base64 characters of its hash. */
const HASHED_MARK = /(.*)(--[a-zA-Z0-9+/=]{8})$/

export function markName (attributeKey: string): string {
  return HASHED_MARK.exec(attributeKey)?.[1] ?? attributeKey
}

export function isHashedMarkKey (attributeKey: string): boolean {
  return HASHED_MARK.test(attributeKey)
}

function markOf (key: string, value: unknown): PmMark {
  const mark: PmMark = { type: markName(key) }
  if (value !== null && typeof value === 'object' && !Array.isArray(value) && Object.keys(value).length > 0) mark.attrs = value as Record<string, Json>
  return mark
}

/** Which JSON view a reader asked for (`?view=`): XML roots as XML strings, or as ProseMirror JSON. */
export type ViewKind = 'json' | 'prosemirror'

/** `?view=` read strictly: absent or empty is `json`; anything else unknown is a 400. */
export function parseView (value: string | undefined): ViewKind {
  if (value === undefined || value === '' || value === 'json') return 'json'
  if (value === 'prosemirror') return 'prosemirror'
  throw new WeftError('malformed', 'view must be "json" or "prosemirror"')
}

/** The JSON view (docs/json-view.ts) with XML roots rendered as `view` asks. */
export function renderView (doc: Y.Doc, pinned: ReadonlyMap<string, RootKind>, view: ViewKind): JsonView {
  return view === 'prosemirror' ? jsonView(doc, pinned, prosemirrorJson) : jsonView(doc, pinned)
}
