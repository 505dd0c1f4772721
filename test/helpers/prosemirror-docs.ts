/**
 * Real ProseMirror / Tiptap documents for the content tests: Tiptap's StarterKit schema (as a
 * Tiptap editor has it, built by @tiptap/core without a DOM) and prosemirror-schema-basic with
 * lists, a rich fixed document, random documents, and y-prosemirror writing them into a
 * Y.XmlFragment the way an editor's binding does (`updateYFragment`, via
 * `prosemirrorToYXmlFragment`: called again with an edited document it makes the binding's
 * minimal change).
 */
import { getSchema } from '@tiptap/core'
import StarterKit from '@tiptap/starter-kit'
import { Node, Schema } from 'prosemirror-model'
import { schema as basic } from 'prosemirror-schema-basic'
import { addListNodes } from 'prosemirror-schema-list'
import type * as Y from 'yjs'
import { prosemirrorToYXmlFragment } from 'y-prosemirror'

export const tiptapSchema = getSchema([StarterKit])
export const basicSchema = new Schema({ nodes: addListNodes(basic.spec.nodes, 'paragraph block*', 'block'), marks: basic.spec.marks })

type J = Record<string, any>

const text = (t: string, ...marks: J[]): J => marks.length > 0 ? { type: 'text', text: t, marks } : { type: 'text', text: t }
const p = (...content: J[]): J => content.length > 0 ? { type: 'paragraph', content } : { type: 'paragraph' }

/** A Tiptap document using most of StarterKit: headings, marks (link with attrs), lists, code, quotes. */
export function tiptapJson (): J {
  return {
    type: 'doc',
    content: [
      { type: 'heading', attrs: { level: 1 }, content: [text('Release notes')] },
      p(text('Weft now speaks '), text('ProseMirror', { type: 'bold' }), text(' and '), text('Tiptap', { type: 'italic' }, { type: 'bold' }), text('.')),
      p(text('See '), text('the docs', { type: 'link', attrs: { href: 'https://example.com/?a=1&b="2"', target: '_blank' } }), text(' for <details> & more')),
      { type: 'bulletList', content: [
        { type: 'listItem', content: [p(text('first'))] },
        { type: 'listItem', content: [p(text('second, '), text('struck', { type: 'strike' })), { type: 'orderedList', attrs: { start: 3 }, content: [{ type: 'listItem', content: [p(text('nested'))] }] }] }
      ] },
      { type: 'blockquote', content: [p(text('A quote with a'), { type: 'hardBreak' }, text('line break and '), text('code()', { type: 'code' }))] },
      { type: 'codeBlock', attrs: { language: 'ts' }, content: [text('const x = 1 < 2\nconsole.log(x)')] },
      { type: 'horizontalRule' },
      p(text('Emoji 😀 and accents: déjà vu')),
      p()
    ]
  }
}

/** The same kind of document in prosemirror-schema-basic (no attribute defaults to null in it). */
export function basicJson (): J {
  return {
    type: 'doc',
    content: [
      { type: 'heading', attrs: { level: 2 }, content: [text('Basic')] },
      p(text('plain '), text('strong', { type: 'strong' }), text(' '), text('em+strong', { type: 'em' }, { type: 'strong' })),
      { type: 'bullet_list', content: [{ type: 'list_item', content: [p(text('item'))] }] },
      { type: 'ordered_list', attrs: { order: 4 }, content: [{ type: 'list_item', content: [p(text('four'))] }] },
      { type: 'blockquote', content: [p(text('quoted'))] },
      { type: 'code_block', content: [text('x && y')] },
      { type: 'horizontal_rule' },
      p()
    ]
  }
}

/** A random valid Tiptap document (seeded `int`). */
export function randomTiptapJson (int: (n: number) => number): J {
  const words = ['alpha', 'beta', 'gamma', ' ', 'δέλτα', '😀', '<b>', '&', 'x']
  const markSets: J[][] = [[], [], [{ type: 'bold' }], [{ type: 'italic' }], [{ type: 'bold' }, { type: 'italic' }], [{ type: 'link', attrs: { href: `https://e.x/${int(9)}` } }], [{ type: 'code' }]]
  const inline = (): J[] => {
    const out: J[] = []
    for (let i = int(5); i > 0; i--) {
      let t = ''
      for (let k = 1 + int(4); k > 0; k--) t += words[int(words.length)]
      out.push(text(t, ...markSets[int(markSets.length)]!))
    }
    return out
  }
  const block = (depth: number): J => {
    switch (depth > 2 ? int(2) : int(6)) {
      case 0: return p(...inline())
      case 1: return { type: 'heading', attrs: { level: 1 + int(3) }, content: inline().map(t => ({ type: 'text', text: t.text })) }
      case 2: return { type: 'bulletList', content: [{ type: 'listItem', content: [p(...inline()), ...(int(2) === 0 ? [block(depth + 1)] : [])] }] }
      case 3: return { type: 'blockquote', content: [block(depth + 1)] }
      case 4: return { type: 'codeBlock', attrs: { language: int(2) === 0 ? 'js' : 'py' }, content: [text('code ' + int(99))] }
      default: return p(...inline())
    }
  }
  const content: J[] = []
  for (let i = 1 + int(6); i > 0; i--) content.push(block(0))
  // Through the schema: adjacent text nodes with equal marks are joined, as an editor holds them.
  return Node.fromJSON(tiptapSchema, { type: 'doc', content }).toJSON()
}

/** Writes `json` into `fragment` as an editor's y-prosemirror binding does. */
export function editorWrite (fragment: Y.XmlFragment, schema: Schema, json: J): Node {
  const node = Node.fromJSON(schema, json)
  prosemirrorToYXmlFragment(node, fragment)
  return node
}

/**
 * y-prosemirror's `yXmlFragmentToProsemirrorJSON` output with ProseMirror's `toJSON()`
 * conventions: no `attrs: {}` on marks, no empty `content`.
 */
export function likeToJson (json: J): J {
  const out: J = { type: json.type }
  if (json.attrs !== undefined && Object.keys(json.attrs).length > 0) out.attrs = json.attrs
  const content = (json.content ?? []).flat()
  if (content.length > 0) out.content = content.map(likeToJson)
  if (json.marks !== undefined && json.marks.length > 0) out.marks = json.marks.map((m: J) => m.attrs !== undefined && Object.keys(m.attrs).length > 0 ? { type: m.type, attrs: m.attrs } : { type: m.type })
  if (json.text !== undefined) out.text = json.text
  return out
}
