/**
 * A held long poll is answered when its timeout ends — not early, and not up to ~2 s late as
 * with one-second buckets swept by a free-running interval. Polls start at staggered moments
 * across a second so that no lucky phase between the request and the server's timer hides a
 * rounding error.
 */
import { afterEach, describe, expect, it } from 'vitest'
import { startServer, type TestServer } from '../helpers/server.js'
import { memoryStorage } from '../../server/storage/memory.js'
import { sleep } from '../helpers/wait.js'

/** The promise: a poll is answered within this long after its timeout. */
const MARGIN_MS = 250

describe('long-poll timeouts', { timeout: 60_000 }, () => {
  let server: TestServer | null = null
  afterEach(async () => { await server?.close(); server = null })

  it('answers polls with timeout 1, 1.5 and 2 s within [timeout, timeout + 250 ms]', async () => {
    server = await startServer({ storage: memoryStorage() })
    // Held open, so the cursor stays valid between requests (an idle empty doc is unloaded).
    const handle = await server.weft.openDoc('timing')
    const base = `${server.url}/docs/timing/poll`
    const handshake = await fetch(`${base}?timeout=0`)
    expect(handshake.status).toBe(200)
    const { cursor } = await handshake.json() as { cursor: string }

    const poll = async (timeoutS: number, delayMs: number): Promise<{ timeoutS: number, status: number, elapsedMs: number }> => {
      await sleep(delayMs)
      const started = performance.now()
      const res = await fetch(`${base}?cursor=${encodeURIComponent(cursor)}&timeout=${timeoutS}`)
      const elapsedMs = performance.now() - started
      await res.arrayBuffer()
      return { timeoutS, status: res.status, elapsedMs }
    }
    // 6 samples per timeout, started 170 ms apart: their phases cover a whole second.
    const samples = await Promise.all([1, 1.5, 2].flatMap(t => Array.from({ length: 6 }, (_, i) => poll(t, i * 170))))

    await handle.release()

    const late = samples.map(s => Math.round(s.elapsedMs - s.timeoutS * 1000))
    console.log(`long-poll lateness (ms) over ${samples.length} polls: min ${Math.min(...late)}, max ${Math.max(...late)}`)
    for (const s of samples) {
      expect(s.status, `timeout=${s.timeoutS}`).toBe(204)
      expect(s.elapsedMs, `timeout=${s.timeoutS} answered early`).toBeGreaterThanOrEqual(s.timeoutS * 1000)
      expect(s.elapsedMs, `timeout=${s.timeoutS} answered late`).toBeLessThanOrEqual(s.timeoutS * 1000 + MARGIN_MS)
    }
  })
})
