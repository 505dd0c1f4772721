/**
 * Content written without Yjs (`PUT`/`PATCH /docs/:doc/content/:root`, http/content.ts) becomes
 * one ordinary Yjs update: the change is made on a private copy of the doc's state and what the
 * copy emits is the update, which then goes through the write pipeline like any editor's (hooks,
 * validation, storage, broadcast). The shared Y.Doc is never edited directly: its change would be
 * seen before it is stored (docs/handle.ts has the same rule).
 *
 * Each function answers `null` when the root already holds that content: no update at all.
 */
import * as Y from 'yjs'
import { WeftError } from '../errors.js'
import { diffText } from './text-diff.js'
import type { RootKind } from './json-view.js'
import { writeProsemirror } from './prosemirror-write.js'
import type { InElement } from './prosemirror-input.js'

/** A root's name: 1 to 256 characters, no control characters or lone surrogates. */
const ROOT_NAME = /^[^\p{Cc}\p{Cs}]{1,256}$/u

export function checkRootName (name: string): string {
  if (!ROOT_NAME.test(name)) throw new WeftError('malformed', 'a root name has 1 to 256 characters and no control characters')
  return name
}

/** What a root holds now: a kind, `empty` (no live content: any kind may take it), or `none`. */
export function liveKind (ydoc: Y.Doc, name: string): RootKind | 'empty' | 'none' {
  const type = ydoc.share.get(name)
  if (type === undefined) return 'none'
  for (let item = type._start; item !== null; item = item.right) {
    if (item.deleted) continue
    const c = item.content
    if (c instanceof Y.ContentString || c instanceof Y.ContentFormat || c instanceof Y.ContentEmbed) return 'text'
    if (c instanceof Y.ContentType) return c.type instanceof Y.XmlElement || c.type instanceof Y.XmlText || c.type instanceof Y.XmlHook ? 'xml' : 'array'
    return 'array'
  }
  for (const item of type._map.values()) if (!item.deleted) return 'map'
  return 'empty'
}

function requireKind (ydoc: Y.Doc, name: string, want: 'text' | 'xml'): void {
  const kind = liveKind(ydoc, name)
  if (kind === want || kind === 'empty' || kind === 'none') return
  const as = want === 'xml' ? 'an XML fragment (ProseMirror JSON)' : 'a text (text/plain or text operations)'
  throw new WeftError('kindConflict', `root "${name}" holds ${kind === 'xml' ? 'an XML fragment' : `a ${kind}`}; it cannot be written as ${as}`)
}

/** Runs `edit` in one transaction on a copy of `shared`'s state; the update it made, or null. */
function onCopy (shared: Y.Doc, edit: (copy: Y.Doc) => void): Uint8Array | null {
  const copy = new Y.Doc({ gc: true })
  try {
    Y.applyUpdate(copy, Y.encodeStateAsUpdate(shared))
    let update: Uint8Array | null = null
    copy.on('update', (u: Uint8Array) => { update = u })
    copy.transact(() => edit(copy))
    return update
  } finally {
    copy.destroy()
  }
}

/** A text as one string, an embed as U+FFFC: its indices are the Y.Text's. */
function textOf (text: Y.Text): string {
  let s = ''
  for (const op of text.toDelta() as Array<{ insert: unknown }>) s += typeof op.insert === 'string' ? op.insert : '\uFFFC'
  return s
}

/** The update making text root `name` read `content`, changing only what differs. */
export function textUpdate (shared: Y.Doc, name: string, content: string): Uint8Array | null {
  requireKind(shared, name, 'text')
  return onCopy(shared, copy => {
    const text = copy.getText(name)
    let index = 0
    for (const piece of diffText(textOf(text), content)) {
      if ('keep' in piece) { index += piece.keep; continue }
      if (piece.remove > 0) text.delete(index, piece.remove)
      if (piece.insert !== '') text.insert(index, piece.insert)
      index += piece.insert.length
    }
  })
}

/** One text operation, Quill-delta style; offsets in UTF-16 code units, as in Yjs. */
export type TextOp = { retain: number } | { insert: string } | { delete: number }

/** The update applying `ops` to text root `name`; 400 when they reach past its end or cut a character in two. */
export function textOpsUpdate (shared: Y.Doc, name: string, ops: readonly TextOp[]): Uint8Array | null {
  requireKind(shared, name, 'text')
  return onCopy(shared, copy => {
    const text = copy.getText(name)
    const current = textOf(text)
    let index = 0 // in the text as it becomes
    let at = 0 // in the text as it was
    const cut = (pos: number): void => {
      if (pos > current.length) throw new WeftError('malformed', `operations reach past the end of the text (${current.length})`)
      const c = current.charCodeAt(pos)
      if (pos > 0 && pos < current.length && c >= 0xdc00 && c <= 0xdfff) throw new WeftError('malformed', `offset ${pos} falls inside a surrogate pair`)
    }
    for (const op of ops) {
      if ('retain' in op) { cut(at + op.retain); at += op.retain; index += op.retain } else if ('delete' in op) {
        cut(at + op.delete)
        text.delete(index, op.delete)
        at += op.delete
      } else {
        text.insert(index, op.insert)
        index += op.insert.length
      }
    }
  })
}

/** The update making XML root `name` hold the ProseMirror document `doc`, as the smallest change. */
export function prosemirrorUpdate (shared: Y.Doc, name: string, doc: InElement): Uint8Array | null {
  requireKind(shared, name, 'xml')
  // XML children only: a fragment that also holds strings or values was not written by an editor.
  const root = shared.share.get(name)
  for (let item = root?._start ?? null; item !== null; item = item.right) {
    if (!item.deleted && !(item.content instanceof Y.ContentType)) throw new WeftError('kindConflict', `root "${name}" holds content that is not XML nodes; it cannot be written as ProseMirror JSON`)
  }
  return onCopy(shared, copy => writeProsemirror(copy.getXmlFragment(name), doc))
}
