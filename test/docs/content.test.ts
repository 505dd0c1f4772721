/**
 * Content in without Yjs: `PUT /docs/:doc/content/:root` (text/plain, ProseMirror JSON) and
 * `PATCH` (text operations) against a real server and stock y-websocket editors. What must hold:
 * the change is minimal (editors' relative positions and concurrent typing survive, untouched
 * nodes keep their Yjs items), a ProseMirror round trip is identical, the auth is POST's, and a
 * refused body changes nothing.
 */
import { afterEach, describe, expect, it } from 'vitest'
import * as Y from 'yjs'
import { Node } from 'prosemirror-model'
import { yXmlFragmentToProsemirrorJSON } from 'y-prosemirror'
import { memoryStorage } from '../../server/storage/memory.js'
import type { WeftOptions } from '../../server/options.js'
import { basicJson, basicSchema, editorWrite, likeToJson, tiptapJson, tiptapSchema } from '../helpers/prosemirror-docs.js'
import { stockClient, synced, type StockClient } from '../helpers/providers.js'
import { startServer, type TestServer } from '../helpers/server.js'
import { hsToken, SECRET } from '../helpers/tokens.js'
import { waitFor } from '../helpers/wait.js'

let server: TestServer
const clients: StockClient[] = []
let stored: Uint8Array[] = []

afterEach(async () => {
  for (const c of clients.splice(0)) c.destroy()
  await server?.close()
})

async function start (options: WeftOptions = {}): Promise<void> {
  server = await startServer({ storage: memoryStorage(), ...options })
  stored = []
  server.weft.on('update', e => { stored.push(e.update) })
}

async function editor (doc: string): Promise<StockClient> {
  const c = stockClient(server.wsUrl, doc)
  clients.push(c)
  await synced(c)
  return c
}

interface Answer { status: number, body: any, cursorHeader: string | null }

async function send (method: 'PUT' | 'PATCH', doc: string, root: string, body: string | Uint8Array, type: string, headers: Record<string, string> = {}): Promise<Answer> {
  const res = await fetch(`${server.url}/docs/${encodeURIComponent(doc)}/content/${encodeURIComponent(root)}`, { method, body: typeof body === 'string' ? body : Buffer.from(body), headers: { 'content-type': type, ...headers } })
  const text = await res.text()
  let parsed: unknown = text
  try { parsed = JSON.parse(text) } catch {}
  return { status: res.status, body: parsed, cursorHeader: res.headers.get('x-weft-cursor') }
}

const putText = async (doc: string, root: string, text: string): Promise<Answer> => await send('PUT', doc, root, text, 'text/plain; charset=utf-8')
const putJson = async (doc: string, root: string, json: unknown): Promise<Answer> => await send('PUT', doc, root, JSON.stringify(json), 'application/json')
const patch = async (doc: string, root: string, ops: unknown): Promise<Answer> => await send('PATCH', doc, root, JSON.stringify({ ops }), 'application/json')

async function snapshot (doc: string, query = ''): Promise<any> {
  const res = await fetch(`${server.url}/docs/${encodeURIComponent(doc)}${query}`)
  expect(res.status).toBe(200)
  return await res.json()
}

/** The client ids of the items holding `text`'s visible characters, one per character. */
function authors (text: Y.Text): number[] {
  const out: number[] = []
  for (let item = text._start; item !== null; item = item.right) {
    if (!item.deleted && item.content instanceof Y.ContentString) for (let i = 0; i < item.length; i++) out.push(item.id.client)
  }
  return out
}

describe('PUT text/plain', () => {
  it('changes only what differs: an offline editor\'s typing and both editors\' positions survive', async () => {
    await start()
    const a = await editor('txt')
    const b = await editor('txt')
    a.text.insert(0, 'The quick brown fox')
    await waitFor(() => b.text.toString() === 'The quick brown fox', 'b to see a\'s text')
    await waitFor(async () => (await snapshot('txt')).content.text === 'The quick brown fox', 'stored')
    const atBrown = Y.createRelativePositionFromTypeIndex(a.text, 10)
    const atFox = Y.createRelativePositionFromTypeIndex(b.text, 16)
    // a goes offline and types at the end: concurrent with the PUT.
    a.provider.disconnect()
    a.text.insert(a.text.length, ' jumps')
    stored = []
    const r = await putText('txt', 'text', 'The slow brown fox')
    expect(r.status).toBe(200)
    expect(r.body).toMatchObject({ changed: true })
    expect(r.cursorHeader).toBe(r.body.cursor)
    expect(typeof r.body.seq).toBe('number')
    // One small update: "quick" → "slow", not the whole text again.
    expect(stored.length).toBe(1)
    expect(stored[0]!.byteLength).toBeLessThan(60)
    await waitFor(() => b.text.toString() === 'The slow brown fox', 'b to get the PUT live')
    const fox = Y.createAbsolutePositionFromRelativePosition(atFox, b.doc)!
    expect(b.text.toString().slice(fox.index, fox.index + 3)).toBe('fox')
    a.provider.connect()
    await waitFor(() => a.text.toString() === 'The slow brown fox jumps' && b.text.toString() === 'The slow brown fox jumps', 'both changes on both editors')
    const brown = Y.createAbsolutePositionFromRelativePosition(atBrown, a.doc)!
    expect(a.text.toString().slice(brown.index, brown.index + 5)).toBe('brown')
    // " brown fox" is still a's own items: kept, not rewritten.
    const ids = authors(b.text)
    expect(ids.slice(8, 18).every(id => id === a.doc.clientID)).toBe(true)
    await waitFor(async () => (await snapshot('txt')).content.text === 'The slow brown fox jumps', 'the server to hold both')
  })

  it('the same content again stores nothing; a new root and a new doc are created', async () => {
    await start()
    const first = await putText('fresh', 'body', 'hello\nworld')
    expect(first.status).toBe(200)
    expect(first.body.changed).toBe(true)
    const before = await snapshot('fresh')
    expect(before.content.body).toBe('hello\nworld')
    stored = []
    const again = await putText('fresh', 'body', 'hello\nworld')
    expect(again.body).toEqual({ cursor: before.cursor, seq: again.body.seq, changed: false })
    expect(stored).toEqual([])
    expect((await snapshot('fresh')).stateVector).toBe(before.stateVector)
    // Surrogate pairs are never cut: one emoji for another changes into exactly that.
    expect((await putText('fresh', 'emoji', 'a😀b🎉c')).status).toBe(200)
    expect((await putText('fresh', 'emoji', 'a😃b🎊c')).status).toBe(200)
    expect((await snapshot('fresh')).content.emoji).toBe('a😃b🎊c')
  })

  it('runs the server hooks with transport http; a refusal is 403 and stores nothing', async () => {
    const seen: Array<{ transport: string, user?: string }> = []
    let refuse = false
    await start({ hooks: [{ beforeUpdate (e) { seen.push({ transport: e.transport, user: e.user }); if (refuse) throw new Error('frozen') } }] })
    expect((await putText('hooked', 'text', 'one')).status).toBe(200)
    expect(seen).toEqual([{ transport: 'http', user: undefined }])
    const before = await snapshot('hooked')
    refuse = true
    stored = []
    const r = await putText('hooked', 'text', 'two')
    expect(r.status).toBe(403)
    expect(r.body.error).toContain('frozen')
    expect(stored).toEqual([])
    const after = await snapshot('hooked')
    expect(after.content.text).toBe('one')
    expect(after.stateVector).toBe(before.stateVector)
  })
})

describe('PATCH text operations', () => {
  it('replaces the first word again and again while an editor types at the end: nothing is lost', async () => {
    await start()
    const a = await editor('ops')
    a.text.insert(0, 'w0 steady text:')
    await waitFor(async () => (await snapshot('ops')).content.text === 'w0 steady text:', 'stored')
    let typed = ''
    const typing = (async () => {
      for (let i = 0; i < 30; i++) {
        const ch = String.fromCharCode(97 + (i % 26))
        a.text.insert(a.text.length, ch)
        typed += ch
        await new Promise(resolve => setTimeout(resolve, 5))
      }
    })()
    for (let i = 1; i <= 10; i++) {
      const r = await patch('ops', 'text', [{ delete: 2 }, { insert: `W${i - 1}`.slice(0, 2) }])
      expect(r.status).toBe(200)
      expect(r.body.changed).toBe(true)
    }
    await typing
    const want = 'W9 steady text:' + typed
    await waitFor(() => a.text.toString() === want, `the editor to read ${want}`)
    await waitFor(async () => (await snapshot('ops')).content.text === want, 'the server to agree')
    // Retain, insert and delete together; an op past the end or inside a surrogate pair is 400.
    expect((await patch('ops', 'text', [{ retain: 3 }, { insert: 'very ' }, { delete: 7 }])).status).toBe(200)
    await waitFor(async () => (await snapshot('ops')).content.text === 'W9 very text:' + typed, 'the combined ops')
    const before = await snapshot('ops')
    stored = []
    expect((await patch('ops', 'text', [{ retain: 10_000 }, { insert: 'x' }])).status).toBe(400)
    expect((await patch('ops', 'text', [{ delete: 10_000 }])).status).toBe(400)
    await putText('emo', 'text', '😀')
    expect((await patch('emo', 'text', [{ retain: 1 }, { insert: 'x' }])).status).toBe(400)
    expect((await snapshot('ops')).stateVector).toBe(before.stateVector)
    expect(stored.length).toBe(1) // the '😀' PUT only
  })
})

describe('PUT ProseMirror JSON', () => {
  it('round trip: an editor\'s Tiptap document reads back identical; a PUT of an edit is identical and minimal', async () => {
    await start()
    const a = await editor('pm')
    const frag = a.doc.getXmlFragment('default')
    const node = editorWrite(frag, tiptapSchema, tiptapJson())
    await waitFor(async () => (await snapshot('pm', '?view=prosemirror')).content.default?.content?.length === node.content.childCount, 'stored')
    const view = (await snapshot('pm', '?view=prosemirror')).content.default
    expect(Node.fromJSON(tiptapSchema, view).toJSON()).toEqual(node.toJSON())

    // The same document again (with the nulls toJSON() writes): nothing changes.
    stored = []
    const same = await putJson('pm', 'default', node.toJSON())
    expect(same.status).toBe(200)
    expect(same.body.changed).toBe(false)
    expect(stored).toEqual([])

    // a, offline, types into the first list item; the PUT edits other paragraphs meanwhile.
    const children = frag.toArray() as Y.XmlElement[]
    const itemText = ((children[3]!.get(0) as Y.XmlElement).get(0) as Y.XmlElement).get(0) as Y.XmlText
    a.provider.disconnect()
    itemText.insert(5, ' (typed offline)')
    const edited = tiptapJson()
    edited.content[1].content[0].text = 'Weft speaks ' // "now " removed
    edited.content[2].content[2] = { type: 'text', text: ' for details', marks: [{ type: 'italic' }] }
    edited.content.splice(6, 1) // the horizontal rule goes
    edited.content.push({ type: 'paragraph', content: [{ type: 'text', text: 'A new paragraph' }] })
    const target = Node.fromJSON(tiptapSchema, edited).toJSON() // as an editor's getJSON() gives it
    stored = []
    const r = await putJson('pm', 'default', target)
    expect(r.status).toBe(200)
    expect(r.body.changed).toBe(true)
    expect(r.cursorHeader).toBe(r.body.cursor)
    expect(stored.length).toBe(1)
    const full = Y.encodeStateAsUpdate(a.doc).byteLength
    expect(stored[0]!.byteLength).toBeLessThan(full / 4)
    const served = (await snapshot('pm', '?view=prosemirror')).content.default
    expect(Node.fromJSON(tiptapSchema, served).toJSON()).toEqual(target)

    a.provider.connect()
    const withOffline = structuredClone(target)
    withOffline.content[3].content[0].content[0].content[0].text = 'first (typed offline)'
    await waitFor(async () => {
      const v = (await snapshot('pm', '?view=prosemirror')).content.default
      return JSON.stringify(Node.fromJSON(tiptapSchema, v).toJSON()) === JSON.stringify(withOffline)
    }, 'both the PUT and the offline typing on the server')
    await waitFor(() => JSON.stringify(Node.fromJSON(tiptapSchema, yXmlFragmentToProsemirrorJSON(frag)).toJSON()) === JSON.stringify(withOffline), 'the editor to hold both')
    // Untouched nodes are the very same Yjs items; the edited paragraph was updated in place.
    const now = frag.toArray() as Y.XmlElement[]
    for (const i of [0, 1, 2, 3, 4, 5]) expect(now[i]).toBe(children[i])
    expect(now[6]).toBe(children[7])
    expect(children[6]!._item!.deleted).toBe(true)
    expect(now[1]!.get(0)).toBe(children[1]!.get(0))
    expect(likeToJson(yXmlFragmentToProsemirrorJSON(frag))).toEqual((await snapshot('pm', '?view=prosemirror')).content.default)
  })

  it('a prosemirror-schema-basic document reads back as exactly the JSON that was PUT', async () => {
    await start()
    const json = Node.fromJSON(basicSchema, basicJson()).toJSON()
    const r = await putJson('basic', 'prosemirror', json)
    expect(r.status).toBe(200)
    expect(JSON.stringify((await snapshot('basic', '?view=prosemirror')).content.prosemirror)).toBe(JSON.stringify(json))
    json.content[1].content.push({ type: 'text', text: ' more', marks: [{ type: 'link', attrs: { href: 'https://e.x', title: 'T' } }] })
    json.content[0].attrs.level = 3
    const edited = Node.fromJSON(basicSchema, json).toJSON()
    expect((await putJson('basic', 'prosemirror', edited)).body.changed).toBe(true)
    expect(JSON.stringify((await snapshot('basic', '?view=prosemirror')).content.prosemirror)).toBe(JSON.stringify(edited))
    // An editor reads it as y-prosemirror would have written it.
    const a = await editor('basic')
    expect(likeToJson(yXmlFragmentToProsemirrorJSON(a.doc.getXmlFragment('prosemirror')))).toEqual(edited)
  })

  it('a root of another kind is 409 and unchanged', async () => {
    await start()
    await putText('kinds', 'text', 'plain')
    await putJson('kinds', 'default', { type: 'doc', content: [{ type: 'paragraph' }] })
    const a = await editor('kinds')
    a.doc.getMap('meta').set('k', 1)
    await waitFor(async () => (await snapshot('kinds')).content.meta?.k === 1, 'the map stored')
    const before = await snapshot('kinds')
    stored = []
    const refusals = [
      await putJson('kinds', 'text', { type: 'doc' }),
      await putText('kinds', 'default', 'x'),
      await patch('kinds', 'default', [{ insert: 'x' }]),
      await putText('kinds', 'meta', 'x')
    ]
    expect(refusals.map(r => r.status)).toEqual([409, 409, 409, 409])
    expect(refusals[0]!.body.error).toMatch(/holds a text/)
    expect(stored).toEqual([])
    expect((await snapshot('kinds')).stateVector).toBe(before.stateVector)
  })
})

describe('refusals change nothing', () => {
  it('hostile and malformed bodies get a 4xx and leave the doc as it was', async () => {
    await start({ maxMessageBytes: 64 * 1024 })
    await putText('h', 'text', 'keep me')
    await putJson('h', 'default', { type: 'doc', content: [{ type: 'paragraph', content: [{ type: 'text', text: 'keep' }] }] })
    const before = await snapshot('h')
    stored = []
    const nested = (n: number): string => '{"type":"doc","content":' + '['.repeat(n) + ']'.repeat(n) + '}'
    const deepNodes = (n: number): unknown => {
      let node: any = { type: 'paragraph' }
      for (let i = 0; i < n; i++) node = { type: 'blockquote', content: [node] }
      return { type: 'doc', content: [node] }
    }
    const cases: Array<[string, Promise<Answer>, number]> = [
      ['huge text', putText('h', 'text', 'x'.repeat(64 * 1024 + 1)), 413],
      ['huge JSON', putJson('h', 'default', { type: 'doc', content: [{ type: 'paragraph', content: [{ type: 'text', text: 'x'.repeat(70_000) }] }] }), 413],
      ['deeply nested JSON', send('PUT', 'h', 'default', nested(20_000), 'application/json'), 400],
      ['nodes nested past 100', putJson('h', 'default', deepNodes(60)), 400],
      ['other type', send('PUT', 'h', 'text', '<p>x</p>', 'application/xml'), 415],
      ['no type', send('PUT', 'h', 'text', 'x', ''), 415],
      ['latin1', send('PUT', 'h', 'text', 'x', 'text/plain; charset=latin1'), 415],
      ['bad UTF-8', send('PUT', 'h', 'text', new Uint8Array([0x61, 0xff, 0xfe]), 'text/plain'), 400],
      ['not JSON', send('PUT', 'h', 'default', '{"type":', 'application/json'), 400],
      ['an array', putJson('h', 'default', [1]), 400],
      ['not a doc', putJson('h', 'default', { type: 'paragraph' }), 400],
      ['unknown key', putJson('h', 'default', { type: 'doc', content: [{ type: 'paragraph', style: 'x' }] }), 400],
      ['empty text', putJson('h', 'default', { type: 'doc', content: [{ type: 'paragraph', content: [{ type: 'text', text: '' }] }] }), 400],
      ['text with content', putJson('h', 'default', { type: 'doc', content: [{ type: 'text', text: 'x', content: [] }] }), 400],
      ['marks on a node', putJson('h', 'default', { type: 'doc', content: [{ type: 'image', marks: [{ type: 'link' }] }] }), 400],
      ['attrs not an object', putJson('h', 'default', { type: 'doc', content: [{ type: 'heading', attrs: [1] }] }), 400],
      ['content not an array', putJson('h', 'default', { type: 'doc', content: { type: 'paragraph' } }), 400],
      ['bad type name', putJson('h', 'default', { type: 'doc', content: [{ type: '<script>' }] }), 400],
      ['mark without type', putJson('h', 'default', { type: 'doc', content: [{ type: 'paragraph', content: [{ type: 'text', text: 'x', marks: [{}] }] }] }), 400],
      ['doc attrs', putJson('h', 'default', { type: 'doc', attrs: { a: 1 } }), 400],
      ['ops not a list', send('PATCH', 'h', 'text', '{"ops":{}}', 'application/json'), 400],
      ['retain 0', patch('h', 'text', [{ retain: 0 }]), 400],
      ['fractional delete', patch('h', 'text', [{ delete: 1.5 }]), 400],
      ['empty insert', patch('h', 'text', [{ insert: '' }]), 400],
      ['two keys in an op', patch('h', 'text', [{ retain: 1, insert: 'x' }]), 400],
      ['PATCH as text', send('PATCH', 'h', 'text', 'x', 'text/plain'), 415],
      ['root name too long', putText('h', 'r'.repeat(300), 'x'), 400],
      ['root name with a control character', putText('h', 'a\u0001b', 'x'), 400],
      ['gzip', send('PUT', 'h', 'text', 'x', 'text/plain', { 'content-encoding': 'gzip' }), 415]
    ]
    const got: string[] = []
    const want: string[] = []
    for (const [name, answer, status] of cases) {
      got.push(`${name}: ${(await answer).status}`)
      want.push(`${name}: ${status}`)
    }
    expect(got).toEqual(want)
    expect(stored).toEqual([])
    const after = await snapshot('h')
    expect(after.stateVector).toBe(before.stateVector)
    expect(after.cursor).toBe(before.cursor)
    expect(after.content).toEqual(before.content)
  })

  it('more than 5,000 nodes is 400, a body over 1 MiB is 413 (under maxMessageBytes), and neither changes anything', async () => {
    await start()
    await putText('n', 'text', 'x')
    const before = await snapshot('n')
    stored = []
    const r = await putJson('n', 'default', { type: 'doc', content: Array.from({ length: 5_001 }, () => ({ type: 'horizontalRule' })) })
    expect(r.status).toBe(400)
    expect(r.body.error).toMatch(/5000 nodes/)
    expect((await putText('n', 'text', 'y'.repeat(1024 * 1024 + 1))).status).toBe(413)
    expect((await putText('n', 'other', 'y'.repeat(1024 * 1024))).status).toBe(200)
    stored = []
    const mid = await snapshot('n')
    expect((await putText('n', 'text', 'y'.repeat(1024 * 1024 + 1))).status).toBe(413)
    expect((await snapshot('n')).stateVector).toBe(mid.stateVector)
    expect(stored).toEqual([])
    expect(before.stateVector).not.toBe(mid.stateVector)
  })
})

describe('auth', () => {
  it('PUT and PATCH answer every token kind as POST /updates does', async () => {
    await start({ auth: { secret: SECRET }, adminToken: 'an-admin-token-long-enough' })
    const doc = 'team/x'
    const tokens: Record<string, string | null> = {
      none: null,
      read: await hsToken({ docs: doc, access: 'read' }),
      write: await hsToken({ docs: doc, access: 'write' }),
      'other doc': await hsToken({ docs: 'team/y', access: 'write' }),
      'admin JWT': await hsToken({ admin: true }),
      'admin token': 'an-admin-token-long-enough'
    }
    const want: Record<string, number> = { none: 401, read: 403, write: 200, 'other doc': 403 }
    const rows: string[] = []
    const expected: string[] = []
    for (const [kind, token] of Object.entries(tokens)) {
      const auth: Record<string, string> = token === null ? {} : { authorization: `Bearer ${token}` }
      const before = await fetch(`${server.url}/docs/${encodeURIComponent(doc)}`, { headers: { authorization: `Bearer ${tokens.write}` } }).then(async r => await r.json())
      const put = await send('PUT', doc, 'text', `by ${kind}`, 'text/plain', auth)
      const pat = await send('PATCH', doc, 'text', JSON.stringify({ ops: [{ insert: '!' }] }), 'application/json', auth)
      const post = await fetch(`${server.url}/docs/${encodeURIComponent(doc)}/updates`, { method: 'POST', body: JSON.stringify({ update: Buffer.from(Y.encodeStateAsUpdate(new Y.Doc())).toString('base64') }), headers: { 'content-type': 'application/json', ...auth } })
      const postOk = post.status === 204 ? 200 : post.status
      rows.push(`${kind}: PUT ${put.status}, PATCH ${pat.status}`)
      expected.push(`${kind}: PUT ${want[kind] ?? postOk}, PATCH ${want[kind] ?? postOk}`)
      if (put.status !== 200) {
        const after = await fetch(`${server.url}/docs/${encodeURIComponent(doc)}`, { headers: { authorization: `Bearer ${tokens.write}` } }).then(async r => await r.json())
        expect(after.stateVector, kind).toBe(before.stateVector)
      }
    }
    expect(rows).toEqual(expected)
    // CORS preflight names the methods.
    const pre = await fetch(`${server.url}/docs/x/content/text`, { method: 'OPTIONS' })
    expect(pre.headers.get('access-control-allow-methods')).toBe('PUT, PATCH')
  })
})
