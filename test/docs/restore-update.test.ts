/**
 * The restore update (docs/restore.ts), without a server: on a garbage-collecting doc it gives
 * exactly a version's content on every kind of root (text with formatting, maps, nested maps,
 * arrays, XML), a later state back, and nothing when the content is already the version's.
 */
import { describe, expect, it } from 'vitest'
import * as Y from 'yjs'
import { contentOf, paragraph } from '../helpers/versions-clients.js'
import { restoreUpdate } from '../../server/docs/restore.js'

describe('the restore update', () => {
  it('gives exactly the version\'s content on text (with formatting), maps, nested maps, arrays and XML, and a later state back', () => {
    const editorDoc = new Y.Doc()
    const text = editorDoc.getText('text')
    text.insert(0, 'hello world')
    text.format(0, 5, { bold: true })
    const meta = editorDoc.getMap('meta')
    meta.set('title', 'v1')
    meta.set('n', 1)
    const nested = new Y.Map<string>()
    meta.set('nested', nested)
    nested.set('k', 'v')
    editorDoc.getArray('list').push([1, 2, { x: 1 }])
    const prose = editorDoc.getXmlFragment('prose')
    prose.insert(0, [paragraph('para one', { align: 'left' })])
    const rich = new Y.XmlText()
    prose.insert(1, [rich])
    rich.insert(0, 'marked', { italic: true })

    // The server's doc collects garbage: content deleted later is gone from it.
    const server = new Y.Doc({ gc: true })
    Y.applyUpdate(server, Y.encodeStateAsUpdate(editorDoc))
    const version = Y.encodeStateAsUpdate(server)
    const want = contentOf(server)
    const wantDelta = JSON.stringify(server.getText('text').toDelta())

    text.delete(0, 6)
    text.insert(0, 'bye ')
    text.format(0, 3, { italic: true })
    meta.set('title', 'v2')
    meta.delete('n')
    meta.set('added', true)
    nested.set('k', 'w')
    editorDoc.getArray('list').delete(0, 2)
    editorDoc.getArray('list').push(['new'])
    prose.delete(0, 1)
    prose.insert(0, [paragraph('heading now', { level: '2' })])
    rich.format(0, 3, { bold: true })
    editorDoc.getText('later').insert(0, 'a root born after the version')
    Y.applyUpdate(server, Y.encodeStateAsUpdate(editorDoc, Y.encodeStateVector(server)))
    const later = Y.encodeStateAsUpdate(server)
    const laterContent = contentOf(server)
    expect(laterContent).not.toBe(want)

    const update = restoreUpdate(server, version)
    expect(update).not.toBeNull()
    Y.applyUpdate(server, update!)
    Y.applyUpdate(editorDoc, update!)
    const roots = ['text', 'meta', 'list', 'prose']
    expect(contentOf(server, roots)).toBe(want)
    expect(contentOf(editorDoc, roots)).toBe(want)
    expect(JSON.stringify(server.getText('text').toDelta())).toBe(wantDelta)
    expect(JSON.stringify(editorDoc.getText('text').toDelta())).toBe(wantDelta)
    // A root cannot be removed from a Y.Doc: one born later is left empty.
    expect(server.getText('later').toString()).toBe('')

    // Restoring the later state brings every edit back; restoring what is there changes nothing.
    Y.applyUpdate(server, restoreUpdate(server, later)!)
    expect(contentOf(server)).toBe(laterContent)
    expect(restoreUpdate(server, Y.encodeStateAsUpdate(server))).toBeNull()
  })
})
