/**
 * `?view=prosemirror`: XML roots rendered as ProseMirror / Tiptap JSON. The renderer is ours
 * (server/docs/prosemirror.ts), so it is held against y-prosemirror's own
 * `yXmlFragmentToProsemirrorJSON` on real Tiptap and ProseMirror documents written the way an
 * editor writes them, then served by a real server on the snapshot and the SSE stream.
 */
import { afterEach, describe, expect, it } from 'vitest'
import * as Y from 'yjs'
import { Node } from 'prosemirror-model'
import { yXmlFragmentToProsemirrorJSON } from 'y-prosemirror'
import { prosemirrorJson } from '../../server/docs/prosemirror.js'
import { memoryStorage } from '../../server/storage/memory.js'
import { basicJson, basicSchema, editorWrite, likeToJson, randomTiptapJson, tiptapJson, tiptapSchema } from '../helpers/prosemirror-docs.js'
import { rng } from '../helpers/random.js'
import { startServer, type TestServer } from '../helpers/server.js'
import { stockClient, synced, type StockClient } from '../helpers/providers.js'
import { openSse, type SseClient } from '../helpers/sse.js'
import { waitFor } from '../helpers/wait.js'

/** What the server holds: the doc rebuilt from updates, its roots untyped. */
function asServerSees (src: Y.Doc): Y.Doc {
  const doc = new Y.Doc()
  Y.applyUpdate(doc, Y.encodeStateAsUpdate(src))
  return doc
}

function viewOf (src: Y.Doc, root: string): unknown {
  return prosemirrorJson(asServerSees(src).share.get(root) ?? null)
}

describe('ProseMirror JSON renderer (unit, against y-prosemirror)', () => {
  it('renders a Tiptap StarterKit document as y-prosemirror does, and as toJSON() after the schema', () => {
    const src = new Y.Doc()
    const node = editorWrite(src.getXmlFragment('default'), tiptapSchema, tiptapJson())
    const view = viewOf(src, 'default')
    expect(view).toEqual(likeToJson(yXmlFragmentToProsemirrorJSON(src.getXmlFragment('default'))))
    // Schema-less, attributes that default to null are absent; the schema brings them back.
    expect(Node.fromJSON(tiptapSchema, view).toJSON()).toEqual(node.toJSON())
    expect(JSON.stringify(Node.fromJSON(tiptapSchema, view).toJSON())).toBe(JSON.stringify(node.toJSON()))
  })

  it('is identical to toJSON() for a prosemirror-schema-basic document (no null attributes)', () => {
    const src = new Y.Doc()
    const node = editorWrite(src.getXmlFragment('prosemirror'), basicSchema, basicJson())
    expect(JSON.stringify(viewOf(src, 'prosemirror'))).toBe(JSON.stringify(node.toJSON()))
  })

  it('matches y-prosemirror on 120 random documents, each edited by an editor binding 3 times', () => {
    const r = rng(0x51a7e)
    for (let i = 0; i < 120; i++) {
      const src = new Y.Doc()
      const frag = src.getXmlFragment('default')
      for (let edit = 0; edit < 3; edit++) {
        // The binding's updateYFragment: later versions reuse and re-format the earlier items.
        const node = editorWrite(frag, tiptapSchema, randomTiptapJson(r.int))
        const view = viewOf(src, 'default')
        expect(view, `seed ${r.seed}, doc ${i}, edit ${edit}`).toEqual(likeToJson(yXmlFragmentToProsemirrorJSON(frag)))
        expect(Node.fromJSON(tiptapSchema, view).toJSON(), `seed ${r.seed}, doc ${i}, edit ${edit}`).toEqual(node.toJSON())
      }
    }
  })

  it('renders overlapping marks (hashed keys), plain `true` formats and an empty root', () => {
    const src = new Y.Doc()
    const frag = src.getXmlFragment('f')
    const para = new Y.XmlElement('paragraph')
    frag.insert(0, [para])
    const t = new Y.XmlText()
    para.insert(0, [t])
    t.insert(0, 'two comments', { 'comment--AbCdEf12': { id: 1 }, 'comment--XyZ+/=09': { id: 2 }, strong: true })
    expect(viewOf(src, 'f')).toEqual({ type: 'doc', content: [{ type: 'paragraph', content: [{ type: 'text', marks: [{ type: 'comment', attrs: { id: 1 } }, { type: 'comment', attrs: { id: 2 } }, { type: 'strong' }], text: 'two comments' }] }] })
    expect(prosemirrorJson(null)).toEqual({ type: 'doc' })
  })
})

describe('?view=prosemirror over HTTP and SSE', () => {
  let server: TestServer
  const clients: StockClient[] = []
  const streams: SseClient[] = []
  afterEach(async () => {
    for (const s of streams.splice(0)) s.close()
    for (const c of clients.splice(0)) c.destroy()
    await server?.close()
  })

  async function editorWithTiptapDoc (doc: string): Promise<{ client: StockClient, node: Node }> {
    const client = stockClient(server.wsUrl, doc)
    clients.push(client)
    await synced(client)
    const node = editorWrite(client.doc.getXmlFragment('default'), tiptapSchema, tiptapJson())
    client.doc.getText('title').insert(0, 'A title')
    return { client, node }
  }

  async function snapshot (doc: string, query: string): Promise<any> {
    const res = await fetch(`${server.url}/docs/${doc}${query}`)
    expect(res.status).toBe(200)
    return await res.json()
  }

  it('the snapshot renders XML roots as ProseMirror JSON, other roots as the JSON view does', async () => {
    server = await startServer({ storage: memoryStorage() })
    const { node } = await editorWithTiptapDoc('pm-snap')
    let body: any
    await waitFor(async () => {
      body = await snapshot('pm-snap', '?view=prosemirror')
      return body.content.title === 'A title' && body.content.default?.content?.length === node.content.childCount
    }, 'the editor\'s document on the server')
    expect(body.types).toEqual({ default: 'xml', title: 'text' })
    expect(Node.fromJSON(tiptapSchema, body.content.default).toJSON()).toEqual(node.toJSON())
    expect(body.content.default).toEqual(likeToJson(yXmlFragmentToProsemirrorJSON(clients[0]!.doc.getXmlFragment('default'))))
    // Cached per view: the JSON view of the same state still gives XML text.
    const json = await snapshot('pm-snap', '')
    expect(typeof json.content.default).toBe('string')
    expect(json.content.default).toContain('<heading level="1">Release notes</heading>')
    expect((await snapshot('pm-snap', '?view=prosemirror')).content.default).toEqual(body.content.default)
    // A pinned root that does not exist is an empty document; an unknown view is refused.
    expect((await snapshot('pm-snap', '?view=prosemirror&types=missing:xml')).content.missing).toEqual({ type: 'doc' })
    expect((await fetch(`${server.url}/docs/pm-snap?view=markdown`)).status).toBe(400)
    expect((await fetch(`${server.url}/docs/pm-snap/events?view=markdown`)).status).toBe(400)
  })

  it('SSE ?view=prosemirror carries the document on the snapshot and after each edit, beside a json feed', async () => {
    server = await startServer({ storage: memoryStorage(), jsonIntervalMs: 20 })
    const { client, node } = await editorWithTiptapDoc('pm-sse')
    await waitFor(async () => (await snapshot('pm-sse', '')).content.title === 'A title', 'stored')
    const pm = await openSse(`${server.url}/docs/pm-sse/events?view=prosemirror&awareness=0`)
    const json = await openSse(`${server.url}/docs/pm-sse/events?view=json&awareness=0`)
    streams.push(pm, json)
    const first = JSON.parse((await pm.next(e => e.event === 'snapshot', 'snapshot')).data)
    expect(Node.fromJSON(tiptapSchema, first.content.default).toJSON()).toEqual(node.toJSON())
    expect(first.types.default).toBe('xml')
    expect(typeof JSON.parse((await json.next(e => e.event === 'snapshot', 'json snapshot')).data).content.default).toBe('string')

    // An edit as the editor makes it: the last paragraph gets text.
    const edited = tiptapJson()
    edited.content[edited.content.length - 1] = { type: 'paragraph', content: [{ type: 'text', text: 'typed later' }] }
    const after = editorWrite(client.doc.getXmlFragment('default'), tiptapSchema, edited)
    const withContent = (e: { event: string, data: string }): boolean => {
      if (e.event !== 'update') return false
      const c = JSON.parse(e.data).content?.default
      return c !== undefined && JSON.stringify(c).includes('typed later')
    }
    const ev = JSON.parse((await pm.next(withContent, 'an update with the new content')).data)
    expect(Node.fromJSON(tiptapSchema, ev.content.default).toJSON()).toEqual(after.toJSON())
    const jsonEv = await json.next(e => e.event === 'update' && (JSON.parse(e.data).content?.default ?? '').includes('typed later'), 'json update')
    expect(typeof JSON.parse(jsonEv.data).content.default).toBe('string')
  })
})
