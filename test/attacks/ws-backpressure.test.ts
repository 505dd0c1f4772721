/**
 * Over its message rate a WebSocket connection is slowed down (the server stops reading it),
 * not closed: a stock y-websocket provider that types at machine speed loses nothing and is
 * never locked out, the heartbeat does not kill it while it waits, and the server keeps
 * serving everyone else. Only a sender that stays over the rate without a break is closed,
 * with the transient 4529.
 */
import { describe, expect, it } from 'vitest'
import WebSocket from 'ws'
import { cleanupAfterEach, startServer, tempDir, type TestServer } from '../helpers/server.js'
import { stockClient, synced, type StockClient } from '../helpers/providers.js'
import { rawPeer, type RawPeer } from '../helpers/raw-ws.js'
import { sleep, waitFor } from '../helpers/wait.js'
import { MAX_STALL_MS, watchLoop } from '../helpers/loop-delay.js'
import { leveldbStorage } from '../../server/storage/leveldb.js'
import { CloseCode } from '../../shared/close-codes.js'
import { encodeSyncStep1 } from '../../shared/protocol.js'

const INSERTS = 2000

describe('WebSocket backpressure', () => {
  const cleanups = cleanupAfterEach()

  async function start (options: Parameters<typeof startServer>[0]): Promise<TestServer> {
    const dir = tempDir()
    const server = await startServer({ storage: leveldbStorage(dir.path), ...options })
    cleanups.push(dir.remove, () => server.close())
    return server
  }
  function client (server: TestServer, doc: string): StockClient {
    const c = stockClient(server.wsUrl, doc)
    cleanups.push(() => c.destroy())
    return c
  }

  it(`${INSERTS} quick inserts through the stock provider all arrive, throttled, never closed`, async () => {
    // 400 messages/s with a burst of 100: the burst is gone after 100 inserts and the rest waits
    // ~5 s. Pings every 500 ms: a throttled connection reads no pongs for many intervals.
    const server = await start({ maxMessagesPerSecond: 400, messageBurst: 100, pingIntervalMs: 500 })
    const fast = client(server, 'fast')
    const typist = client(server, 'fast')
    const reader = client(server, 'fast')
    await synced(fast, typist, reader)
    const closes: number[] = []
    let stopped = false
    fast.provider.on('connection-close', e => { closes.push(e?.code ?? -1) })
    fast.provider.on('closed', () => { stopped = true })

    // A well-behaved editor keeps typing (20/s, its own Y.Text) while the fast one is held back.
    let typed = 0
    let done = false
    const typing = (async () => {
      const started = Date.now()
      while (!done && Date.now() - started < 60_000) {
        typist.doc.getText('typist').insert(typed++, 'k')
        await sleep(50)
      }
    })()
    const loop = watchLoop()
    const started = Date.now()
    // One message per insert, as fast as it goes — in slices of 50 per event-loop turn, because
    // the client shares this process with the server: 2,000 in one synchronous loop would be the
    // client's own stall (and starve the heartbeat), not the server's.
    for (let i = 0; i < INSERTS; i += 50) {
      for (let j = i; j < i + 50; j++) fast.text.insert(j, 'x')
      await new Promise(resolve => setImmediate(resolve))
    }
    await waitFor(() => reader.text.length === INSERTS, `the reader to get all ${INSERTS} inserts`, 60_000, 50)
    const tookMs = Date.now() - started
    const worst = loop.stop(`${INSERTS} inserts throttled to 400/s while another editor types`)
    done = true
    await typing
    await waitFor(() => reader.doc.getText('typist').length === typed, 'the typist\'s keystrokes to arrive')

    expect(closes).toEqual([])
    const stored = server.weft.context.registry.get('fast')!.ydoc
    expect(stored.getText('text').length).toBe(INSERTS)
    expect(reader.doc.getText('typist').toString()).toBe(typist.doc.getText('typist').toString())
    // Throttled for real (the burst alone could not carry it), and the connection stayed up.
    expect(server.weft.context.metrics.get('ws_throttled_total')).toBeGreaterThanOrEqual(1)
    expect(tookMs).toBeGreaterThan(((INSERTS - 100) / 400) * 1000 * 0.8)
    expect(stopped).toBe(false)
    expect(fast.provider.wsconnected).toBe(true)
    expect(server.weft.context.metrics.get('ws_dead_connections_total')).toBe(0)
    expect(server.weft.context.metrics.get('limit_refused_total{limit="messages_per_second"}')).toBe(0)
    expect(worst).toBeLessThan(MAX_STALL_MS)
  }, 90_000)

  it('a one-off flood of step1s is answered in full at the rate; a sustained one is closed with 4529', async () => {
    const server = await start({ maxMessagesPerSecond: 100, messageBurst: 20, maxThrottledMs: 1500 })
    // 150 step1s at once, then silence: ~1.3 s of budget, every one answered, nothing closed.
    const burst: RawPeer = await rawPeer(`${server.wsUrl}/flood`)
    cleanups.push(() => burst.ws.terminate())
    const step2s = (p: RawPeer): number => p.messages.filter(m => m[0] === 0 && m[1] === 1).length
    for (let i = 0; i < 150; i++) burst.send(encodeSyncStep1(new Uint8Array([0])))
    await waitFor(() => step2s(burst) >= 150, 'all 150 step1s answered', 10_000)
    expect(burst.ws.readyState).toBe(WebSocket.OPEN)

    // A sender that never lets up: at most the rate is served, then it is closed, transiently.
    const flood: RawPeer = await rawPeer(`${server.wsUrl}/flood`)
    cleanups.push(() => flood.ws.terminate())
    const started = Date.now()
    let sent = 0
    let code = 0
    void flood.closed.then(c => { code = c.code })
    while (code === 0 && Date.now() - started < 10_000) {
      // Keep the socket full: TCP stops us once the server stops reading (bufferedAmount grows).
      if (flood.ws.bufferedAmount < 64 * 1024) for (let i = 0; i < 100; i++, sent++) flood.send(encodeSyncStep1(new Uint8Array([0])))
      await sleep(5)
    }
    const elapsedS = (Date.now() - started) / 1000
    expect(code).toBe(CloseCode.tooManyRequests)
    expect(elapsedS).toBeGreaterThan(1.5)
    expect(sent).toBeGreaterThan(step2s(flood) * 2)
    expect(step2s(flood)).toBeLessThanOrEqual(20 + 100 * elapsedS + 10)
    expect(server.weft.context.metrics.get('limit_refused_total{limit="messages_per_second"}')).toBe(1)
    // The one-off burst's connection was never touched.
    expect(burst.ws.readyState).toBe(WebSocket.OPEN)
  }, 30_000)

  it('a held connection closes promptly on shutdown (it reads the close handshake)', async () => {
    const server = await start({ maxMessagesPerSecond: 10, messageBurst: 5 })
    const p = await rawPeer(`${server.wsUrl}/held`)
    cleanups.push(() => p.ws.terminate())
    for (let i = 0; i < 200; i++) p.send(encodeSyncStep1(new Uint8Array([0])))
    await waitFor(() => server.weft.context.metrics.get('ws_throttled_total') === 1, 'the peer to be throttled')
    const started = Date.now()
    await server.close()
    expect((await p.closed).code).toBe(CloseCode.serviceRestart)
    expect(Date.now() - started).toBeLessThan(900) // not cut by the 1 s terminate fallback
  })
})
