import { describe, expect, it } from 'vitest'
import http from 'node:http'
import * as Y from 'yjs'
import { cleanupAfterEach, startServer, tempDir, type TestServer } from '../helpers/server.js'
import { stockClient, synced, type StockClient } from '../helpers/providers.js'
import { openSse, sseMirror, mirrorReady, type SseClient, type SseMirror } from '../helpers/sse.js'
import { sleep, waitFor } from '../helpers/wait.js'
import { rng } from '../helpers/random.js'
import { leveldbStorage } from '../../server/storage/leveldb.js'
import { memoryStorage } from '../../server/storage/memory.js'
import { AuthError, type WeftOptions } from '../../server/options.js'
import { parseCursor } from '../../shared/cursor.js'

const seqOf = (doc: string, id: string): number => {
  const seq = parseCursor(doc, id)
  if (seq === null) throw new Error(`bad cursor ${id}`)
  return seq
}

describe('SSE observers', () => {
  const cleanups = cleanupAfterEach()
  async function server (opts: WeftOptions = {}): Promise<TestServer> {
    const dir = tempDir()
    const s = await startServer({ storage: leveldbStorage(dir.path), ...opts })
    cleanups.push(() => dir.remove(), () => s.close())
    return s
  }
  const editor = (s: TestServer, doc: string): StockClient => {
    const c = stockClient(s.wsUrl, doc)
    cleanups.push(() => c.destroy())
    return c
  }
  const mirror = async (url: string, opts = {}): Promise<SseMirror> => {
    const m = await sseMirror(url, opts)
    cleanups.push(() => m.close())
    return m
  }
  const sse = async (url: string, opts = {}): Promise<SseClient> => {
    const c = await openSse(url, opts)
    cleanups.push(() => c.close())
    return c
  }

  it('answers with the SSE headers, retry first, a snapshot with a cursor, and keepalives when idle', async () => {
    const s = await server({ sseKeepaliveMs: 50, sseRetryMs: 1234, corsOrigins: ['https://dash.example'] })
    const h = await s.weft.openDoc('hello')
    h.doc.getText('text').insert(0, 'hi')
    await h.stored()
    const c = await sse(`${s.url}/docs/hello/events`, { headers: { Origin: 'https://dash.example' } })
    expect(c.status).toBe(200)
    expect(c.headers['content-type']).toMatch(/^text\/event-stream/)
    expect(c.headers['cache-control']).toBe('no-cache, no-transform')
    expect(c.headers['x-accel-buffering']).toBe('no')
    expect(c.headers['access-control-allow-origin']).toBe('https://dash.example')
    const snap = await c.next(e => e.event === 'snapshot', 'snapshot')
    expect(c.raw.startsWith('retry: 1234\n\n')).toBe(true)
    expect(c.retry).toBe(1234)
    expect(seqOf('hello', snap.id)).toBeGreaterThan(0)
    const data = JSON.parse(snap.data)
    const doc = new Y.Doc()
    Y.applyUpdate(doc, Buffer.from(data.update, 'base64'))
    expect(doc.getText('text').toString()).toBe('hi')
    expect(Y.decodeStateVector(Buffer.from(data.stateVector, 'base64'))).toEqual(Y.decodeStateVector(Y.encodeStateVector(doc)))
    expect(data.content).toBeUndefined()
    await waitFor(() => c.comments.filter(x => x === 'keepalive').length >= 3, 'keepalives on an idle stream')
    // Another origin gets no CORS header (same-origin only unless listed).
    const other = await sse(`${s.url}/docs/hello/events`, { headers: { Origin: 'https://evil.example' } })
    expect(other.headers['access-control-allow-origin']).toBeUndefined()
    await h.release()
  })

  it('a mirror built from SSE equals the editors\' doc after random edit bursts, in order', async () => {
    const s = await server()
    const editors = [editor(s, 'burst'), editor(s, 'burst'), editor(s, 'burst')]
    await synced(...editors)
    const m = await mirror(`${s.url}/docs/burst/events?awareness=0`)
    const json = await mirror(`${s.url}/docs/burst/events?view=json&awareness=0`)
    await mirrorReady(m)
    const r = rng(Number(process.env.SEED ?? 4))
    for (let burst = 0; burst < 8; burst++) {
      for (let i = 0; i < 25; i++) {
        const e = editors[r.int(editors.length)]!
        const t = e.text
        const op = r.int(10)
        if (op < 6) t.insert(r.int(t.length + 1), 'abcdefgh'.slice(0, 1 + r.int(8)))
        else if (op < 8 && t.length > 0) t.delete(r.int(t.length), 1 + r.int(Math.min(3, t.length)))
        else if (op === 8) e.doc.getMap('meta').set(`k${r.int(5)}`, r.int(1000))
        else {
          const frag = e.doc.getXmlFragment('pm')
          const p = new Y.XmlElement('paragraph')
          frag.insert(r.int(frag.length + 1), [p])
          p.insert(0, [new Y.XmlText(`para ${burst}.${i}`)])
        }
      }
      await sleep(r.int(40))
    }
    await waitFor(() => editors.every(e => e.text.toString() === editors[0]!.text.toString()), 'editors to converge', 20_000)
    const ref = editors[0]!.doc
    await waitFor(() => m.text() === ref.getText('text').toString() &&
      JSON.stringify(m.doc.getMap('meta').toJSON()) === JSON.stringify(ref.getMap('meta').toJSON()) &&
      m.doc.getXmlFragment('pm').toString() === ref.getXmlFragment('pm').toString(), 'SSE mirror to equal the editors', 20_000)
    expect(Y.decodeStateVector(Y.encodeStateVector(m.doc))).toEqual(Y.decodeStateVector(Y.encodeStateVector(ref)))
    expect(m.text().length, `seed ${r.seed}`).toBeGreaterThan(50)
    // Ids only grow, and only the first event is a snapshot.
    const seqs = m.ids.map(id => seqOf('burst', id))
    for (let i = 1; i < seqs.length; i++) expect(seqs[i]!).toBeGreaterThan(seqs[i - 1]!)
    expect(m.snapshots).toBe(1)
    expect(m.resets).toBe(0)
    // The JSON view is current at the end of the burst (throttled, but never left stale).
    await waitFor(() => json.content?.text === ref.getText('text').toString(), 'JSON content to be current after the burst', 10_000)
    expect(json.client.events.filter(e => e.event === 'update' && JSON.parse(e.data).content !== undefined).length)
      .toBeLessThan(json.client.events.filter(e => e.event === 'update').length)
  })

  it('delivers a single writer\'s edits in order: every intermediate mirror state is a prefix', async () => {
    const s = await server()
    const m = await mirror(`${s.url}/docs/order/events`)
    await mirrorReady(m)
    const seen: string[] = []
    m.client.onEvent(() => { seen.push(m.text()) })
    const h = await s.weft.openDoc('order')
    const text = h.doc.getText('text')
    let expected = ''
    for (let i = 0; i < 100; i++) {
      const piece = `${i},`
      text.insert(text.length, piece)
      expected += piece
      if (i % 10 === 0) await h.stored() // mix single records and group-committed batches
    }
    await h.stored()
    await waitFor(() => m.text() === expected, 'mirror to get all 100 edits')
    for (const state of seen) expect(expected.startsWith(state), state).toBe(true)
    expect(new Set(seen).size).toBeGreaterThan(10)
    await h.release()
  })

  it('forwards awareness (states keyed by client id, removal on leave) unless ?awareness=0', async () => {
    const s = await server()
    const a = editor(s, 'aw')
    await synced(a)
    a.provider.awareness.setLocalStateField('user', { name: 'Ada', color: '#f00' })
    const id = a.doc.clientID
    const withAw = await sse(`${s.url}/docs/aw/events`)
    const without = await sse(`${s.url}/docs/aw/events?awareness=0`)
    // Present before the observer came: told at open.
    const first = await withAw.next(e => e.event === 'awareness' && JSON.parse(e.data).states[id] !== undefined, 'initial presence')
    expect(JSON.parse(first.data).states[id].user.name).toBe('Ada')
    a.provider.awareness.setLocalStateField('user', { name: 'Ada L.', color: '#f00' })
    await withAw.next(e => e.event === 'awareness' && JSON.parse(e.data).states[id]?.user?.name === 'Ada L.', 'presence update')
    a.provider.destroy()
    await withAw.next(e => e.event === 'awareness' && JSON.parse(e.data).removed.includes(id), 'presence removal')
    await sleep(100)
    expect(without.events.some(e => e.event === 'awareness')).toBe(false)
    expect(without.events[0]?.event).toBe('snapshot')
  })

  it('is read-only: nothing an observer sends changes the doc', async () => {
    const s = await server()
    const h = await s.weft.openDoc('ro')
    h.doc.getText('text').insert(0, 'original')
    await h.stored()
    const shared = s.weft.context.registry.get('ro')!
    const before = Y.encodeStateVector(shared.ydoc)
    const stored = shared.updatesStored
    // A real Yjs update an attacker would like applied.
    const evil = new Y.Doc()
    evil.getText('text').insert(0, 'EVIL')
    const update = Buffer.from(Y.encodeStateAsUpdate(evil))
    const send = (method: string, path: string, body: Buffer | string, headers: Record<string, string> = {}): Promise<number> =>
      new Promise((resolve, reject) => {
        const req = http.request(`${s.url}${path}`, { method, headers: { 'Content-Type': 'application/octet-stream', 'Content-Length': String(Buffer.byteLength(body)), ...headers }, agent: false }, res => {
          res.resume()
          // An SSE stream stays open: its status is the answer.
          resolve(res.statusCode ?? 0)
          setTimeout(() => req.destroy(), 50)
        })
        req.on('error', reject)
        req.end(body)
      })
    expect(await send('GET', '/docs/ro/events', update)).toBe(200)
    expect(await send('POST', '/docs/ro/events', update)).toBe(404)
    expect(await send('PUT', '/docs/ro/events', update)).toBe(404)
    const head = await fetch(`${s.url}/docs/ro/events`, { method: 'HEAD' })
    expect(head.status).toBe(200)
    expect(head.headers.get('content-type')).toMatch(/^text\/event-stream/)
    expect(await send('GET', '/docs/ro/events?update=' + update.toString('base64'), update, { 'Last-Event-ID': update.toString('base64') })).toBe(200)
    // Garbage written on an open stream's socket after its request.
    const c = await sse(`${s.url}/docs/ro/events`)
    await c.next(e => e.event === 'snapshot', 'snapshot')
    c.req.socket?.write(update)
    c.req.socket?.write('POST /docs/ro/updates HTTP/1.1\r\nContent-Length: 5\r\n\r\nhello')
    await sleep(200)
    expect(shared.updatesStored).toBe(stored)
    expect(Buffer.from(Y.encodeStateVector(shared.ydoc))).toEqual(Buffer.from(before))
    expect(h.doc.getText('text').toString()).toBe('original')
    await h.release()
  })

  it('answers bad requests with a status, before any doc is loaded', async () => {
    const s = await server({
      authenticate: (req, doc) => {
        if (doc.startsWith('secret')) throw new AuthError(403, 'not yours')
        if (req.headers.authorization !== 'Bearer ok') throw new AuthError(401, 'who are you')
        return { access: 'read' }
      }
    })
    const auth = { Authorization: 'Bearer ok' }
    expect((await sse(`${s.url}/docs/x/events`)).status).toBe(401)
    expect((await sse(`${s.url}/docs/secret-plans/events`, { headers: auth })).status).toBe(403)
    expect((await sse(`${s.url}/docs/${'a'.repeat(600)}/events`, { headers: auth })).status).toBe(400)
    expect((await sse(`${s.url}/docs/a%00b/events`, { headers: auth })).status).toBe(400)
    expect((await sse(`${s.url}/docs/x/events?view=xml`, { headers: auth })).status).toBe(400)
    expect((await sse(`${s.url}/docs/x/events?view=json&types=body:string`, { headers: auth })).status).toBe(400)
    expect(s.weft.context.registry.size).toBe(0)
    // A read grant is enough, and a percent-encoded slash is one doc name.
    const ok = await sse(`${s.url}/docs/team%2Fa%20b/events`, { headers: auth })
    expect(ok.status).toBe(200)
    await ok.next(e => e.event === 'snapshot', 'snapshot')
    expect(s.weft.context.registry.get('team/a b')).toBeDefined()
  })

  it('bounds streams per client address (429 beyond) and frees the slot when a stream ends', async () => {
    const s = await server({ maxObserversPerIp: 2 })
    const a = await sse(`${s.url}/docs/lim/events`)
    const b = await sse(`${s.url}/docs/lim2/events`)
    expect([a.status, b.status]).toEqual([200, 200])
    expect((await sse(`${s.url}/docs/lim/events`)).status).toBe(429)
    a.close()
    await waitFor(async () => (await openSse(`${s.url}/docs/lim/events`).then(c => { c.close(); return c.status })) === 200, 'a slot to free up')
  })

  it('keeps its doc loaded while observed, unloads after the last observer left, ends cleanly on close', async () => {
    const s = await startServer({ storage: memoryStorage(), unloadAfterMs: 50 })
    cleanups.push(() => s.close())
    const a = await sse(`${s.url}/docs/held/events`)
    const b = await sse(`${s.url}/docs/held/events`)
    await a.next(e => e.event === 'snapshot', 'snapshot a')
    await b.next(e => e.event === 'snapshot', 'snapshot b')
    expect(s.weft.context.registry.holders('held')).toBe(2)
    a.close()
    await sleep(150)
    expect(s.weft.context.registry.get('held')).toBeDefined()
    await s.weft.close()
    await waitFor(() => b.ended, 'the stream to end on weft.close()')
    expect(s.weft.context.registry.size).toBe(0)

    const s2 = await startServer({ storage: memoryStorage(), unloadAfterMs: 50 })
    cleanups.push(() => s2.close())
    const c = await sse(`${s2.url}/docs/gone/events`)
    await c.next(e => e.event === 'snapshot', 'snapshot c')
    c.close()
    await waitFor(() => s2.weft.context.registry.size === 0, 'doc to unload after its observer left')
  })
})
