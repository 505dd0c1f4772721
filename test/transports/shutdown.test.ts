/**
 * SIGTERM on the real CLI with 100 WebSocket clients, SSE observers and held long polls:
 * every socket is closed with 1012, every stream ends, every poll is answered, the writes made
 * just before are on disk, and the process exits 0 (the CLI exits 1 if shutdown passes 10 s).
 */
import { afterEach, describe, expect, it } from 'vitest'
import { startChildServer } from '../helpers/child-server.js'
import { rawPeer, type RawPeer } from '../helpers/raw-ws.js'
import { stockClient, synced, type StockClient } from '../helpers/providers.js'
import { tempDir } from '../helpers/server.js'
import { waitFor } from '../helpers/wait.js'
import { CloseCode } from '../../shared/close-codes.js'

describe('graceful shutdown', () => {
  const cleanups: Array<() => void> = []
  afterEach(() => { for (const c of cleanups.splice(0).reverse()) c() })

  it('SIGTERM with 100 WebSocket clients, 10 SSE observers and 10 held polls: all told, data flushed, exit 0', async () => {
    const dir = tempDir('weft-term-')
    cleanups.push(dir.remove)
    const child = await startChildServer(['--port', '0', '--data', dir.path])
    cleanups.push(() => child.proc.kill('SIGKILL'))
    const docs = ['a', 'b', 'c', 'd', 'e']

    const writers: StockClient[] = docs.map(d => stockClient(child.wsUrl, d))
    cleanups.push(() => { for (const w of writers) w.destroy() })
    await synced(...writers)
    const peers: RawPeer[] = []
    for (let i = 0; i < 95; i++) peers.push(await rawPeer(`${child.wsUrl}/${docs[i % docs.length]}`))
    cleanups.push(() => { for (const p of peers) p.ws.terminate() })
    const writerCloses = writers.map(w => new Promise<number>(resolve => {
      const ws = (w.provider as unknown as { ws: { addEventListener: (t: 'close', f: (e: { code: number }) => void) => void } }).ws
      ws.addEventListener('close', e => resolve(e.code))
    }))

    // SSE observers: read until the server ends the stream.
    const streams = docs.concat(docs).map(async d => {
      const res = await fetch(`${child.url}/docs/${d}/events`)
      expect(res.status).toBe(200)
      const reader = res.body!.getReader()
      let text = ''
      for (;;) {
        const { done, value } = await reader.read()
        if (done) return text
        text += Buffer.from(value).toString()
      }
    })
    // Held polls: a current cursor and a long timeout, so only shutdown can answer them now.
    const polls = await Promise.all(docs.concat(docs).map(async d => {
      const first = await (await fetch(`${child.url}/docs/${d}/poll?timeout=0`)).json() as { cursor: string }
      // Wrapped: an async function returning the fetch would wait for the answer.
      return { answer: fetch(`${child.url}/docs/${d}/poll?timeout=50&cursor=${encodeURIComponent(first.cursor)}`) }
    }))

    // Writes right before the signal.
    writers.forEach((w, i) => w.text.insert(0, `last words ${i}`))
    await waitFor(async () => {
      const res = await fetch(`${child.url}/docs/${docs[4]}`)
      return JSON.stringify(await res.json()).includes('last words 4')
    }, 'the last write to be stored')

    child.proc.kill('SIGTERM')
    const code = await child.exited
    expect(code, child.stderr()).toBe(0)

    const closes = await Promise.all(peers.map(p => p.closed))
    expect(closes.filter(c => c.code !== CloseCode.serviceRestart)).toEqual([])
    expect(await Promise.all(writerCloses)).toEqual(docs.map(() => CloseCode.serviceRestart))
    const ended = await Promise.all(streams)
    expect(ended.every(t => t.startsWith('retry:'))).toBe(true)
    const answers = await Promise.all(polls.map(p => p.answer))
    for (const a of answers) expect([200, 204]).toContain(a.status)

    // Data flushed: a restart on the same directory has every writer's last words.
    for (const w of writers) w.destroy()
    const again = await startChildServer(['--port', '0', '--data', dir.path])
    cleanups.push(() => again.proc.kill('SIGKILL'))
    const readers = docs.map(d => stockClient(again.wsUrl, d))
    cleanups.push(() => { for (const r of readers) r.destroy() })
    await synced(...readers)
    readers.forEach((r, i) => expect(r.text.toString()).toBe(`last words ${i}`))
    again.proc.kill('SIGTERM')
    expect(await again.exited).toBe(0)
  }, 90_000)
})
