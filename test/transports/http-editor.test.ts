/**
 * The HTTP editor endpoints on their own, with plain fetch: POST updates/awareness, long poll,
 * HTTP sessions. (The client that uses them is tested in client-fallback.test.ts.)
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import * as Y from 'yjs'
import * as awarenessProtocol from 'y-protocols/awareness'
import { startServer, tempDir, type TestServer } from '../helpers/server.js'
import { stockClient, synced, type StockClient } from '../helpers/providers.js'
import { waitFor as waitUntil } from '../helpers/wait.js'

// A shared 2-core machine can be slow: generous waits (they end as soon as the condition holds).
const waitFor = (check: () => boolean | Promise<boolean>, what: string, timeoutMs = 20_000): Promise<void> => waitUntil(check, what, timeoutMs)
import { leveldbStorage } from '../../server/storage/leveldb.js'
import { AuthError, type WeftOptions } from '../../server/options.js'
import { base64ToBytes, bytesToBase64 } from '../../shared/base64.js'
import { readSse } from '../../client/sse-reader.js'

function textUpdate (text: string, doc = new Y.Doc()): Uint8Array {
  const before = Y.encodeStateVector(doc)
  doc.getText('text').insert(doc.getText('text').length, text)
  return Y.encodeStateAsUpdate(doc, before)
}

describe('HTTP editor endpoints', { timeout: 90_000 }, () => {
  let dir: ReturnType<typeof tempDir>
  let server: TestServer
  const clients: StockClient[] = []
  const start = async (opts: WeftOptions = {}): Promise<void> => {
    server = await startServer({ storage: leveldbStorage(dir.path), ...opts })
  }
  const post = (path: string, body: Uint8Array | object, headers: Record<string, string> = {}): Promise<Response> => fetch(server.url + path, {
    method: 'POST',
    headers: { 'content-type': body instanceof Uint8Array ? 'application/octet-stream' : 'application/json', ...headers },
    body: body instanceof Uint8Array ? body as Uint8Array<ArrayBuffer> : JSON.stringify(body)
  })
  const poll = async (doc: string, params: Record<string, string>, headers: Record<string, string> = {}): Promise<{ status: number, body: any }> => {
    const res = await fetch(`${server.url}/docs/${encodeURIComponent(doc)}/poll?${new URLSearchParams(params)}`, { headers })
    return { status: res.status, body: res.status === 200 ? await res.json() : null }
  }
  const contentOf = async (doc: string): Promise<string> => {
    const h = await server.weft.openDoc(doc)
    const text = h.doc.getText('text').toString()
    await h.release()
    return text
  }

  beforeEach(() => { dir = tempDir() })
  afterEach(async () => {
    for (const c of clients.splice(0)) c.destroy()
    await server.close()
    dir.remove()
  })

  it('POST /updates (binary and base64 JSON) answers 204 once stored, and WebSocket peers get it', async () => {
    await start()
    const ws = stockClient(server.wsUrl, 'p')
    clients.push(ws)
    await synced(ws)
    const writer = new Y.Doc()
    const r1 = await post('/docs/p/updates', textUpdate('hello ', writer))
    expect(r1.status).toBe(204)
    const r2 = await post('/docs/p/updates', { update: bytesToBase64(textUpdate('world', writer)) }, { 'x-weft-session': 'sess-aaaaaaaa' })
    expect(r2.status).toBe(204)
    await waitFor(() => ws.text.toString() === 'hello world', 'the WebSocket peer to see both posts')
    expect(await contentOf('p')).toBe('hello world')
  })

  it('refuses bad input with a defined status and leaves the doc unchanged', async () => {
    await start({ maxMessageBytes: 4096 })
    expect((await post('/docs/bad/updates', textUpdate('ok'))).status).toBe(204)
    expect((await post('/docs/bad/updates', new Uint8Array([1, 2, 3, 250, 251]))).status).toBe(400)
    expect((await post('/docs/bad/updates', { update: '***' })).status).toBe(400)
    expect((await post('/docs/bad/updates', { nope: 1 })).status).toBe(400)
    expect((await post('/docs/bad/updates', textUpdate('x'.repeat(8000)))).status).toBe(413)
    expect((await fetch(`${server.url}/docs/bad/updates`, { method: 'POST', headers: { 'content-type': 'text/plain' }, body: 'hi' })).status).toBe(415)
    expect((await post('/docs/bad/updates', textUpdate('y'), { 'x-weft-session': 'short' })).status).toBe(400)
    expect((await post('/docs/bad/awareness', new Uint8Array([1, 2, 3]), { 'x-weft-session': 'sess-bbbbbbbb' })).status).toBe(400)
    expect((await post('/docs/bad%00x/updates', textUpdate('y'))).status).toBe(400)
    expect(await contentOf('bad')).toBe('ok')
  })

  it('maps auth: 401 without credentials, 403 for read-only writes, read-only may poll and post awareness', async () => {
    await start({
      authenticate: req => {
        const who = req.headers.authorization
        if (who === 'Bearer w') return { access: 'write' }
        if (who === 'Bearer r') return { access: 'read' }
        throw new AuthError(401, 'no token')
      }
    })
    expect((await post('/docs/a/updates', textUpdate('x'))).status).toBe(401)
    expect((await post('/docs/a/updates', textUpdate('x'), { authorization: 'Bearer r' })).status).toBe(403)
    expect((await post('/docs/a/updates', textUpdate('x'), { authorization: 'Bearer w' })).status).toBe(204)
    expect((await poll('a', { timeout: '0' })).status).toBe(401)
    expect((await poll('a', { timeout: '0' }, { authorization: 'Bearer r' })).status).toBe(200)
    const aw = new awarenessProtocol.Awareness(new Y.Doc())
    aw.setLocalState({ user: 'reader' })
    const upd = awarenessProtocol.encodeAwarenessUpdate(aw, [aw.clientID])
    expect((await post('/docs/a/awareness', upd, { authorization: 'Bearer r', 'x-weft-session': 'reader-session' })).status).toBe(204)
    aw.destroy()
  })

  it('long poll: reset without a cursor, holds until another writer changes the doc, 204 on timeout', async () => {
    await start()
    const writer = new Y.Doc()
    await post('/docs/lp/updates', textUpdate('a', writer))
    const first = await poll('lp', { timeout: '0' })
    expect(first.status).toBe(200)
    expect(first.body.reset).toBe(true)
    const mirror = new Y.Doc()
    Y.applyUpdate(mirror, base64ToBytes(first.body.update))
    expect(mirror.getText('text').toString()).toBe('a')

    // Nothing new: a short poll times out with 204 and no body.
    expect((await poll('lp', { cursor: first.body.cursor, aw: first.body.aw, timeout: '1' })).status).toBe(204)

    const pending = poll('lp', { cursor: first.body.cursor, aw: first.body.aw, timeout: '30' })
    await new Promise(resolve => setTimeout(resolve, 100))
    await post('/docs/lp/updates', textUpdate('b', writer))
    await post('/docs/lp/updates', textUpdate('c', writer))
    const got = await pending
    expect(got.status).toBe(200)
    Y.applyUpdate(mirror, base64ToBytes(got.body.update))
    // A poll that held on the first write may miss the second: then the next poll has it at once.
    if (mirror.getText('text').toString() !== 'abc') {
      const next = await poll('lp', { cursor: got.body.cursor, aw: got.body.aw, timeout: '5' })
      Y.applyUpdate(mirror, base64ToBytes(next.body.update))
    }
    expect(mirror.getText('text').toString()).toBe('abc')

    // Garbage and foreign cursors get a reset, never an error.
    for (const cursor of ['garbage', '1.zzzz', '']) {
      const r = await poll('lp', { cursor, timeout: '0' })
      expect(r.status).toBe(200)
      expect(r.body.reset).toBe(true)
    }
    expect((await poll('lp', { timeout: 'soon' })).status).toBe(400)
    expect((await poll('lp', { timeout: '0', sv: '!!' })).status).toBe(400)
  })

  it('a reset with sv= sends only what the client lacks', async () => {
    await start()
    const writer = new Y.Doc()
    await post('/docs/sv/updates', textUpdate('x'.repeat(2000), writer))
    const sv = bytesToBase64(Y.encodeStateVector(writer))
    const r = await poll('sv', { timeout: '0', sv })
    expect(r.body.reset).toBe(true)
    expect(base64ToBytes(r.body.update).byteLength).toBeLessThan(10)
    expect(base64ToBytes(r.body.stateVector)).toEqual(Y.encodeStateVector(writer))
  })

  it('a session\'s own writes neither wake its poll nor come back in it; others\' do', async () => {
    await start()
    const base = (await poll('own', { timeout: '0' })).body
    const session = { 'x-weft-session': 'editor-one-123' }
    const writer = new Y.Doc()
    let answered = false
    const pending = poll('own', { cursor: base.cursor, aw: base.aw, timeout: '30' }, session).then(r => { answered = true; return r })
    await new Promise(resolve => setTimeout(resolve, 100))
    expect((await post('/docs/own/updates', textUpdate('mine', writer), session)).status).toBe(204)
    await new Promise(resolve => setTimeout(resolve, 300))
    expect(answered).toBe(false)
    await post('/docs/own/updates', textUpdate(' theirs', new Y.Doc()), { 'x-weft-session': 'editor-two-456' })
    const got = await pending
    expect(got.status).toBe(200)
    // Only the other editor's update: the session's own is never echoed back to it.
    const mirror = new Y.Doc()
    Y.applyUpdate(mirror, base64ToBytes(got.body.update))
    expect(mirror.getText('text').toString()).toBe(' theirs')
    // A session-less poll from the same cursor gets both.
    const all = await poll('own', { cursor: base.cursor, timeout: '0' })
    const full = new Y.Doc()
    Y.applyUpdate(full, base64ToBytes(all.body.update))
    expect(full.getText('text').length).toBe(11)
    // Only its own write since its cursor: held, and at the timeout the cursor still moves on.
    expect((await post('/docs/own/updates', textUpdate('!', writer), session)).status).toBe(204)
    const own = await poll('own', { cursor: got.body.cursor, aw: got.body.aw, timeout: '1' }, session)
    expect(own.status).toBe(200)
    expect(own.body.update).toBeUndefined()
    expect(own.body.cursor).not.toBe(got.body.cursor)
  })

  it('awareness: pinned to the session, delivered to polls and WebSocket peers, removed when the session idles out', async () => {
    await start({ httpSessionIdleMs: 300 })
    const ws = stockClient(server.wsUrl, 'aw')
    clients.push(ws)
    await synced(ws)
    const aw = new awarenessProtocol.Awareness(new Y.Doc())
    aw.setLocalState({ user: 'http' })
    const upd = awarenessProtocol.encodeAwarenessUpdate(aw, [aw.clientID])
    expect((await post('/docs/aw/awareness', upd)).status).toBe(400) // no session, no owner
    expect((await post('/docs/aw/awareness', upd, { 'x-weft-session': 'owner-session' })).status).toBe(204)
    await waitFor(() => (ws.provider.awareness.getStates().get(aw.clientID) as any)?.user === 'http', 'the WebSocket peer to see the HTTP editor')
    // Another session may not set or remove that client id.
    aw.setLocalState({ user: 'spoofed' })
    const spoof = awarenessProtocol.encodeAwarenessUpdate(aw, [aw.clientID])
    expect((await post('/docs/aw/awareness', spoof, { 'x-weft-session': 'thief-session' })).status).toBe(409)
    // A poll sees it (full awareness on a reset).
    const r = await poll('aw', { timeout: '0' })
    const other = new awarenessProtocol.Awareness(new Y.Doc())
    awarenessProtocol.applyAwarenessUpdate(other, base64ToBytes(r.body.awareness), 'test')
    expect((other.getStates().get(aw.clientID) as any)?.user).toBe('http')
    // Idle: the session leaves and its awareness goes with it.
    await waitFor(() => !ws.provider.awareness.getStates().has(aw.clientID), 'the idle session\'s awareness to be removed', 10_000)
    aw.destroy()
    other.destroy()
  })

  it('an SSE stream named by a session does not echo that session\'s own updates', async () => {
    await start()
    const session = 'sse-editor-0001'
    const events: Array<{ event: string, id: string | null }> = []
    const abort = new AbortController()
    const stream = readSse(fetch, `${server.url}/docs/sse-echo/events?session=${session}`, { signal: abort.signal }, {
      open () {},
      message: m => { events.push({ event: m.event, id: m.id }) }
    }).catch(() => {})
    await waitFor(() => events.some(e => e.event === 'snapshot'), 'the snapshot')
    const writer = new Y.Doc()
    expect((await post('/docs/sse-echo/updates', textUpdate('mine', writer), { 'x-weft-session': session })).status).toBe(204)
    expect((await post('/docs/sse-echo/updates', textUpdate('theirs', new Y.Doc()), { 'x-weft-session': 'someone-else-1' })).status).toBe(204)
    await waitFor(() => events.some(e => e.event === 'update'), 'the other editor\'s update')
    await new Promise(resolve => setTimeout(resolve, 200))
    expect(events.filter(e => e.event === 'update')).toHaveLength(1)
    expect((await fetch(`${server.url}/docs/sse-echo/events?session=bad`)).status).toBe(400)
    abort.abort()
    await stream
  })

  it('answers CORS preflights and marks answers for listed origins only', async () => {
    await start({ corsOrigins: ['https://app.example'] })
    const pre = await fetch(`${server.url}/docs/c/updates`, { method: 'OPTIONS', headers: { origin: 'https://app.example', 'access-control-request-method': 'POST' } })
    expect(pre.status).toBe(204)
    expect(pre.headers.get('access-control-allow-origin')).toBe('https://app.example')
    expect(pre.headers.get('access-control-allow-headers')).toMatch(/X-Weft-Session/)
    const ok = await post('/docs/c/updates', textUpdate('x'), { origin: 'https://app.example' })
    expect(ok.status).toBe(204)
    expect(ok.headers.get('access-control-allow-origin')).toBe('https://app.example')
    const bad = await post('/docs/c/updates', new Uint8Array([9, 9]), { origin: 'https://app.example' })
    expect(bad.status).toBe(400)
    expect(bad.headers.get('access-control-allow-origin')).toBe('https://app.example')
    const other = await fetch(`${server.url}/docs/c/poll?timeout=0`, { headers: { origin: 'https://evil.example' } })
    expect(other.headers.get('access-control-allow-origin')).toBeNull()
  })

  it('limits held polls per address (429) and lets sessions and polls go without a trace', async () => {
    await start({ maxObserversPerIp: 3, httpSessionIdleMs: 200, unloadAfterMs: 100 })
    const base = (await poll('lim', { timeout: '0' })).body
    const held = Array.from({ length: 3 }, (_, i) => poll('lim', { cursor: base.cursor, aw: base.aw, timeout: '50' }, { 'x-weft-session': `limit-session-${i}` }))
    await waitFor(async () => (await server.weft.context.metrics.render()).includes('weft_polls_pending 3'), 'three polls to be parked')
    expect((await poll('lim', { cursor: base.cursor, timeout: '2' })).status).toBe(429)
    // A write answers all three.
    expect((await post('/docs/lim/updates', textUpdate('wake'))).status).toBe(204)
    expect((await Promise.all(held)).map(r => r.status)).toEqual([200, 200, 200])
    expect(server.weft.context.limits.stats().observers).toBe(0)
    await waitFor(async () => (await server.weft.context.metrics.render()).includes('weft_http_sessions 0'), 'the idle sessions to expire')
    await waitFor(() => server.weft.context.registry.size === 0, 'the doc to unload once nobody holds it')
  })

  it('a poll without aw= is not answered for awareness (no spinning while someone is present)', async () => {
    await start()
    const aw = new awarenessProtocol.Awareness(new Y.Doc())
    aw.setLocalState({ user: 'present' })
    expect((await post('/docs/quiet-aw/awareness', awarenessProtocol.encodeAwarenessUpdate(aw, [aw.clientID]), { 'x-weft-session': 'present-session' })).status).toBe(204)
    const base = (await poll('quiet-aw', { timeout: '0' })).body
    expect(base.awareness).toBeDefined()
    expect((await poll('quiet-aw', { cursor: base.cursor, timeout: '1' })).status).toBe(204)
    // With aw= it hears about the next change.
    const pending = poll('quiet-aw', { cursor: base.cursor, aw: base.aw, timeout: '20' })
    await new Promise(resolve => setTimeout(resolve, 100))
    aw.setLocalState({ user: 'moved' })
    await post('/docs/quiet-aw/awareness', awarenessProtocol.encodeAwarenessUpdate(aw, [aw.clientID]), { 'x-weft-session': 'present-session' })
    const got = await pending
    expect(got.status).toBe(200)
    const mirror = new awarenessProtocol.Awareness(new Y.Doc())
    awarenessProtocol.applyAwarenessUpdate(mirror, base64ToBytes(got.body.awareness), 'test')
    expect((mirror.getStates().get(aw.clientID) as any)?.user).toBe('moved')
    aw.destroy()
    mirror.destroy()
  })

  it('answers pending polls on shutdown', async () => {
    await start()
    const base = (await poll('sd', { timeout: '0' })).body
    const pending = Array.from({ length: 5 }, () => poll('sd', { cursor: base.cursor, aw: base.aw, timeout: '50' }))
    await waitFor(async () => (await server.weft.context.metrics.render()).includes('weft_polls_pending 5'), 'polls to be parked')
    await server.close()
    const results = await Promise.all(pending)
    expect(results.map(r => r.status)).toEqual([503, 503, 503, 503, 503])
  })
})
