import { describe, expect, it } from 'vitest'
import { cleanupAfterEach, startServer, type TestServer } from '../helpers/server.js'
import { stockClient, synced, type StockClient } from '../helpers/providers.js'
import { sseMirror, mirrorReady, type SseMirror } from '../helpers/sse.js'
import { sleep, waitFor } from '../helpers/wait.js'
import { rng } from '../helpers/random.js'
import { memoryStorage } from '../../server/storage/memory.js'
import type { WeftOptions } from '../../server/options.js'

describe('SSE fan-out', () => {
  const cleanups = cleanupAfterEach()
  async function server (opts: WeftOptions = {}): Promise<TestServer> {
    const s = await startServer({ storage: memoryStorage(), ...opts })
    cleanups.push(() => s.close())
    return s
  }
  const editor = (s: TestServer, doc: string): StockClient => {
    const c = stockClient(s.wsUrl, doc)
    cleanups.push(() => c.destroy())
    return c
  }

  it('200 concurrent observers all converge, and all see the same event ids', async () => {
    const s = await server()
    const editors = [editor(s, 'crowd'), editor(s, 'crowd')]
    await synced(...editors)
    editors[0]!.text.insert(0, 'start;')
    const mirrors: SseMirror[] = []
    // Open in waves of 50: a 2-core machine shared with other suites.
    for (let wave = 0; wave < 4; wave++) {
      mirrors.push(...await Promise.all(Array.from({ length: 50 }, () => sseMirror(`${s.url}/docs/crowd/events?awareness=0`))))
    }
    cleanups.push(() => { for (const m of mirrors) m.close() })
    await Promise.all(mirrors.map(m => mirrorReady(m)))
    expect(s.weft.context.registry.get('crowd')!.peers.size).toBe(202)
    const before = mirrors.map(m => m.ids.length)
    const r = rng(3)
    for (let i = 0; i < 60; i++) {
      const e = editors[r.int(2)]!
      e.text.insert(r.int(e.text.length + 1), String.fromCharCode(97 + r.int(26)))
      if (i % 10 === 0) await sleep(10)
    }
    await waitFor(() => editors[0]!.text.toString() === editors[1]!.text.toString() && editors[0]!.text.length === 66, 'editors to converge')
    const want = editors[0]!.text.toString()
    await waitFor(() => mirrors.every(m => m.text() === want), 'all 200 observers to converge', 30_000)
    // One broadcast, one encoding: every observer got the same update events.
    const reference = mirrors[0]!.ids.slice(before[0])
    for (let i = 0; i < mirrors.length; i++) expect(mirrors[i]!.ids.slice(before[i])).toEqual(reference)
    expect(reference.length).toBeGreaterThan(0)
    const metrics = await (await fetch(`${s.url}/metrics`)).text()
    expect(metrics).toMatch(/weft_sse_observers 200\b/)
  })

  it('a stalled observer does not delay others and is cut past its bound; it resumes by cursor', async () => {
    const s = await server({ sseMaxBufferedBytes: 64 * 1024 })
    const healthy = await sseMirror(`${s.url}/docs/stall/events?awareness=0`)
    const stalled = await sseMirror(`${s.url}/docs/stall/events?awareness=0`)
    cleanups.push(() => healthy.close(), () => stalled.close())
    await mirrorReady(healthy)
    await mirrorReady(stalled)
    // Stop reading: the kernel buffers fill, then the server's socket buffer grows.
    stalled.client.res.socket!.pause()

    const h = await s.weft.openDoc('stall')
    cleanups.push(() => h.release())
    const text = h.doc.getText('text')
    const chunk = 'x'.repeat(16 * 1024)
    const shared = s.weft.context.registry.get('stall')!
    const deadline = Date.now() + 60_000
    let rounds = 0
    // Bounded by count and time: ~32 MiB at most, far beyond any socket buffer.
    while (s.weft.context.metrics.get('sse_slow_observers_total') === 0 && rounds < 2000 && Date.now() < deadline) {
      text.insert(text.length, chunk)
      await h.stored()
      // Memory storage resolves without a turn of the event loop; a real writer yields.
      await new Promise(resolve => setImmediate(resolve))
      rounds++
      // The healthy observer keeps up all along.
      if (rounds % 50 === 0) await waitFor(() => healthy.text().length === text.length, `healthy observer to keep up (round ${rounds})`, 20_000)
    }
    expect(s.weft.context.metrics.get('sse_slow_observers_total')).toBe(1)
    // Cut on the server while the client still is not reading: memory is released at once.
    await waitFor(() => shared.peers.size === 2, 'the stalled observer to be dropped from the doc') // healthy + handle
    text.insert(text.length, 'after the cut')
    await h.stored()
    await waitFor(() => healthy.text().length === text.length, 'healthy observer to have everything while the other is stalled', 20_000)
    expect(stalled.text().length).toBeLessThan(text.length)

    // The stalled client wakes up, sees its stream ended, and resumes from its last complete event.
    stalled.client.res.socket!.resume()
    await waitFor(() => stalled.client.ended, 'the stalled stream to end', 20_000)
    const resumed = await sseMirror(`${s.url}/docs/stall/events?awareness=0`, { lastEventId: stalled.client.lastEventId, doc: stalled.doc })
    cleanups.push(() => resumed.close())
    await waitFor(() => resumed.text() === text.toString(), 'the cut observer to converge after resuming', 20_000)
    expect(healthy.resets + resumed.resets).toBeLessThanOrEqual(1)
  })

  it('opening and closing 500 streams leaves nothing behind', async () => {
    const s = await server({ unloadAfterMs: 60_000 })
    const gauge = async (name: string): Promise<number> => Number(new RegExp(`weft_${name} (\\d+)`).exec(await (await fetch(`${s.url}/metrics`)).text())?.[1])
    for (let round = 0; round < 10; round++) {
      const batch = await Promise.all(Array.from({ length: 50 }, (_, i) => sseMirror(`${s.url}/docs/churn/events${i % 2 === 0 ? '?view=json' : ''}`)))
      await Promise.all(batch.map(m => mirrorReady(m)))
      for (const m of batch) m.close()
    }
    await waitFor(async () => await gauge('sse_observers') === 0, 'every stream to be gone')
    expect(await gauge('sse_feeds')).toBe(0)
    // Nobody wrote 'churn': a blank doc unloads as soon as its last stream goes (docs/registry.ts).
    expect(s.weft.context.registry.get('churn')?.peers.size ?? 0).toBe(0)
    expect(s.weft.context.registry.holders('churn')).toBe(0)
    expect(s.weft.context.limits.stats().observers).toBe(0)
    expect(s.weft.context.metrics.get('sse_observers_total')).toBe(500)
  })
})
