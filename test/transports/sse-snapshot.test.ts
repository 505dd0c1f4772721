import { describe, expect, it } from 'vitest'
import * as Y from 'yjs'
import { cleanupAfterEach, startServer, type TestServer } from '../helpers/server.js'
import { sseMirror } from '../helpers/sse.js'
import { sleep, waitFor } from '../helpers/wait.js'
import { memoryStorage } from '../../server/storage/memory.js'
import { AuthError, type WeftOptions } from '../../server/options.js'

describe('GET /docs/:doc snapshot', () => {
  const cleanups = cleanupAfterEach()
  async function server (opts: WeftOptions = {}): Promise<TestServer> {
    const s = await startServer({ storage: memoryStorage(), ...opts })
    cleanups.push(() => s.close())
    return s
  }
  async function seed (s: TestServer, name: string): Promise<Y.Doc> {
    const h = await s.weft.openDoc(name)
    const frag = h.doc.getXmlFragment('prosemirror')
    const p = new Y.XmlElement('paragraph')
    frag.insert(0, [p])
    const t = new Y.XmlText()
    p.insert(0, [t])
    t.insert(0, 'Hello <world>')
    h.doc.getText('code').insert(0, 'let x = 1')
    h.doc.getMap('meta').set('title', 'T')
    await h.stored()
    const copy = new Y.Doc()
    Y.applyUpdate(copy, Y.encodeStateAsUpdate(h.doc))
    await h.release()
    return copy
  }

  it('answers JSON by default: name, cursor, content (inferred kinds), types, state vector', async () => {
    const s = await server()
    const src = await seed(s, 'team/notes')
    const res = await fetch(`${s.url}/docs/team%2Fnotes`)
    expect(res.status).toBe(200)
    expect(res.headers.get('cache-control')).toBe('no-store')
    const body = await res.json() as any
    expect(body.name).toBe('team/notes')
    expect(body.content).toEqual({ prosemirror: '<paragraph>Hello &lt;world&gt;</paragraph>', code: 'let x = 1', meta: { title: 'T' } })
    expect(body.types).toEqual({ prosemirror: 'xml', code: 'text', meta: 'map' })
    expect(Y.decodeStateVector(Buffer.from(body.stateVector, 'base64'))).toEqual(Y.decodeStateVector(Y.encodeStateVector(src)))
    expect(res.headers.get('x-weft-cursor')).toBe(body.cursor)
    const pinned = await (await fetch(`${s.url}/docs/team%2Fnotes?types=code:array,extra:map`)).json() as any
    expect(pinned.types).toMatchObject({ code: 'array', extra: 'map' })
    expect(pinned.content.extra).toEqual({})
  })

  it('answers the full state as one update for application/octet-stream, and only the missing part for ?sv=', async () => {
    const s = await server()
    const src = await seed(s, 'bin')
    const full = await fetch(`${s.url}/docs/bin`, { headers: { Accept: 'application/octet-stream' } })
    expect(full.headers.get('content-type')).toMatch(/^application\/octet-stream/)
    const fullBytes = new Uint8Array(await full.arrayBuffer())
    const doc = new Y.Doc()
    Y.applyUpdate(doc, fullBytes)
    expect(doc.getText('code').toString()).toBe('let x = 1')
    expect(doc.getXmlFragment('prosemirror').toString()).toBe(src.getXmlFragment('prosemirror').toString())

    // A client that has everything but a later edit asks for just the difference.
    const partial = new Y.Doc()
    Y.applyUpdate(partial, fullBytes)
    const h = await s.weft.openDoc('bin')
    h.doc.getText('code').insert(9, '; let y = 2')
    await h.stored()
    await h.release()
    const sv = Buffer.from(Y.encodeStateVector(partial)).toString('base64')
    const diff = new Uint8Array(await (await fetch(`${s.url}/docs/bin?sv=${encodeURIComponent(sv)}`, { headers: { Accept: 'application/octet-stream' } })).arrayBuffer())
    expect(diff.byteLength).toBeLessThan(fullBytes.byteLength)
    Y.applyUpdate(partial, diff)
    expect(partial.getText('code').toString()).toBe('let x = 1; let y = 2')
    // A raw '+' in the query (unencoded) still works, and JSON carries the diff as `update`.
    const json = await (await fetch(`${s.url}/docs/bin?sv=${sv}`)).json() as any
    expect(typeof json.update).toBe('string')
    // An empty state vector means "I have nothing": the full state.
    const all = new Uint8Array(await (await fetch(`${s.url}/docs/bin?sv=AA==`, { headers: { Accept: 'application/octet-stream' } })).arrayBuffer())
    const fresh = new Y.Doc()
    Y.applyUpdate(fresh, all)
    expect(fresh.getText('code').toString()).toBe('let x = 1; let y = 2')
  })

  it('answers 400 for a bad state vector, a bad name or bad type pins, and auth errors with their status', async () => {
    const s = await server({
      authenticate: (req, doc) => {
        if (doc === 'private') throw new AuthError(403, 'no')
        if (req.headers.authorization !== 'Bearer r') throw new AuthError(401, 'who')
        return { access: 'read' }
      }
    })
    const get = async (path: string, auth = true): Promise<number> =>
      (await fetch(`${s.url}${path}`, { headers: auth ? { Authorization: 'Bearer r' } : {} })).status
    for (const bad of ['!!!', 'AQ', Buffer.from([5, 1]).toString('base64'), Buffer.from([1, 1, 1, 9]).toString('base64'), Buffer.from([0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f]).toString('base64')]) {
      expect(await get(`/docs/d?sv=${encodeURIComponent(bad)}`), bad).toBe(400)
    }
    expect(await get(`/docs/${'n'.repeat(700)}`)).toBe(400)
    expect(await get('/docs/d?types=a:b')).toBe(400)
    expect(await get('/docs/d', false)).toBe(401)
    expect(await get('/docs/private')).toBe(403)
    expect(await get('/view/private')).toBe(403)
    expect(await get('/view/d', false)).toBe(401)
    expect(s.weft.context.registry.size).toBe(0)
    expect(await get('/docs/d')).toBe(200)
  })

  it('a snapshot\'s cursor continues on the SSE stream without a gap or a second snapshot', async () => {
    const s = await server()
    await seed(s, 'follow')
    const res = await fetch(`${s.url}/docs/follow`, { headers: { Accept: 'application/octet-stream' } })
    const cursor = res.headers.get('x-weft-cursor')!
    const doc = new Y.Doc()
    Y.applyUpdate(doc, new Uint8Array(await res.arrayBuffer()))
    const h = await s.weft.openDoc('follow')
    h.doc.getText('code').insert(0, '// later\n')
    await h.stored()
    const m = await sseMirror(`${s.url}/docs/follow/events?awareness=0&cursor=${encodeURIComponent(cursor)}`, { doc }, 'code')
    cleanups.push(() => m.close(), () => h.release())
    await waitFor(() => m.text() === '// later\nlet x = 1', 'stream to continue from the snapshot')
    await sleep(50)
    expect(m.client.events.map(e => e.event)).toEqual(['update'])
  })
})
