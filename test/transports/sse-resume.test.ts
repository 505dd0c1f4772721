import { describe, expect, it } from 'vitest'
import * as Y from 'yjs'
import { cleanupAfterEach, startServer, tempDir, type TestServer } from '../helpers/server.js'
import { sseMirror, mirrorReady, type SseMirror } from '../helpers/sse.js'
import { sleep, waitFor } from '../helpers/wait.js'
import { leveldbStorage } from '../../server/storage/leveldb.js'
import type { WeftOptions } from '../../server/options.js'
import type { DocHandle } from '../../server/docs/handle.js'
import { formatCursor, parseCursor } from '../../shared/cursor.js'

describe('SSE resume by cursor', () => {
  const cleanups = cleanupAfterEach()
  async function server (opts: WeftOptions = {}, path?: string): Promise<TestServer> {
    let dir = path
    if (dir === undefined) {
      const d = tempDir()
      cleanups.push(() => d.remove())
      dir = d.path
    }
    const s = await startServer({ storage: leveldbStorage(dir), ...opts })
    cleanups.push(() => s.close())
    return s
  }
  const mirror = async (url: string, opts: Parameters<typeof sseMirror>[1] = {}): Promise<SseMirror> => {
    const m = await sseMirror(url, opts)
    cleanups.push(() => m.close())
    return m
  }
  async function handle (s: TestServer, doc: string): Promise<DocHandle> {
    const h = await s.weft.openDoc(doc)
    cleanups.push(() => h.release())
    return h
  }
  /** n edits, each stored as its own record. */
  async function edits (h: DocHandle, n: number, tag: string): Promise<void> {
    const t = h.doc.getText('text')
    for (let i = 0; i < n; i++) {
      t.insert(t.length, `${tag}${i};`)
      await h.stored()
    }
  }

  it('a cursor inside the window gets exactly the missed updates, no snapshot (Last-Event-ID and ?cursor=)', async () => {
    const s = await server()
    const h = await handle(s, 'r')
    await edits(h, 2, 'a')
    const first = await mirror(`${s.url}/docs/r/events?awareness=0`)
    await mirrorReady(first)
    await edits(h, 3, 'b')
    const expectedSoFar = h.doc.getText('text').toString()
    await waitFor(() => first.text() === expectedSoFar, 'first mirror to catch up')
    const cursor = first.client.lastEventId
    first.client.close()

    await edits(h, 5, 'c')
    const want = h.doc.getText('text').toString()
    for (const how of ['header', 'query'] as const) {
      const url = `${s.url}/docs/r/events?awareness=0${how === 'query' ? `&cursor=${encodeURIComponent(cursor)}` : ''}`
      const doc = new Y.Doc() // a copy of the first mirror's doc: where this client left off
      Y.applyUpdate(doc, Y.encodeStateAsUpdate(first.doc))
      const resumed = await mirror(url, { doc, ...(how === 'header' ? { lastEventId: cursor } : {}) })
      await waitFor(() => resumed.text() === want, `resumed mirror (${how}) to converge`)
      await sleep(100)
      const kinds = resumed.client.events.map(e => e.event)
      expect(kinds, how).toEqual(['update', 'update', 'update', 'update', 'update'])
      const seqs = resumed.ids.map(id => parseCursor('r', id)!)
      expect(Math.min(...seqs)).toBeGreaterThan(parseCursor('r', cursor)!)
      resumed.client.close()
    }
    expect(s.weft.context.metrics.get('sse_resumes_total')).toBe(2)
  })

  it('a JSON client resuming with nothing missed still gets current content', async () => {
    const s = await server()
    const h = await handle(s, 'j')
    await edits(h, 3, 'x')
    const m = await mirror(`${s.url}/docs/j/events?view=json&awareness=0`)
    await mirrorReady(m)
    const cursor = m.client.lastEventId
    m.client.close()
    const again = await mirror(`${s.url}/docs/j/events?view=json&awareness=0`, { lastEventId: cursor })
    const e = await again.client.next(ev => ev.event === 'update', 'content event')
    expect(JSON.parse(e.data).content).toEqual({ text: h.doc.getText('text').toString() })
    expect(again.client.events.some(ev => ev.event === 'snapshot' || ev.event === 'reset')).toBe(false)
  })

  it('garbage, foreign, future and too-old cursors get a reset (never an error), and converge', async () => {
    const s = await server({ historyRecords: 5 })
    const h = await handle(s, 'g')
    await edits(h, 3, 'a')
    const m = await mirror(`${s.url}/docs/g/events`)
    await mirrorReady(m)
    const seq = parseCursor('g', m.client.lastEventId)!
    await edits(h, 12, 'b') // pushes the observer's cursor out of a 5-record window
    const want = h.doc.getText('text').toString()
    const cursors = {
      garbage: 'not a cursor at all',
      'huge garbage': 'x'.repeat(5000),
      'wrong shape': 'zz.zz.zz',
      'other doc': formatCursor('another-doc', seq),
      future: formatCursor('g', seq + 1_000_000),
      'too old': formatCursor('g', seq)
    }
    for (const [what, cursor] of Object.entries(cursors)) {
      const r = await mirror(`${s.url}/docs/g/events`, { lastEventId: cursor })
      expect(r.client.status, what).toBe(200)
      await waitFor(() => r.resets === 1 && r.text() === want, `${what} cursor → reset that converges`)
      expect(r.client.events[0]!.event, what).toBe('reset')
      expect(r.snapshots, what).toBe(0)
      r.client.close()
    }
    // The same through ?cursor=.
    const q = await mirror(`${s.url}/docs/g/events?cursor=${encodeURIComponent(cursors['other doc'])}`)
    await waitFor(() => q.resets === 1 && q.text() === want, '?cursor= reset')
  })

  it('resumes across a server restart (same LevelDB dir, new server on a new port)', async () => {
    const dir = tempDir()
    cleanups.push(() => dir.remove())
    const s1 = await server({}, dir.path)
    const h1 = await s1.weft.openDoc('restart')
    await edits(h1, 4, 'before')
    const upToDate = await mirror(`${s1.url}/docs/restart/events?awareness=0`)
    const behind = await mirror(`${s1.url}/docs/restart/events?awareness=0`)
    await mirrorReady(upToDate)
    await mirrorReady(behind)
    behind.client.close() // misses what follows
    await edits(h1, 3, 'more')
    await waitFor(() => upToDate.text() === h1.doc.getText('text').toString(), 'up-to-date mirror')
    await h1.release()
    await s1.close()
    await waitFor(() => upToDate.client.ended, 'stream to end at shutdown')

    const s2 = await server({}, dir.path)
    expect(s2.port).not.toBe(s1.port)
    const resumed = await mirror(`${s2.url}/docs/restart/events?awareness=0`, { lastEventId: upToDate.client.lastEventId, doc: upToDate.doc })
    const late = await mirror(`${s2.url}/docs/restart/events?awareness=0`, { lastEventId: behind.client.lastEventId, doc: behind.doc })
    const h2 = await handle(s2, 'restart')
    await edits(h2, 3, 'after')
    const want = h2.doc.getText('text').toString()
    expect(want).toContain('before0;')
    expect(want).toContain('more2;')
    await waitFor(() => resumed.text() === want && late.text() === want, 'both mirrors to converge after the restart')
    // The up-to-date cursor is still exact after the restart: no reset, no snapshot.
    expect(resumed.resets + resumed.snapshots).toBe(0)
    expect(resumed.client.events.filter(e => e.event === 'update').length).toBe(3)
  })
})
