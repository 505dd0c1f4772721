import { afterEach, describe, expect, it } from 'vitest'
import * as Y from 'yjs'
import { startServer, type TestServer } from '../helpers/server.js'
import { stockClient, synced } from '../helpers/providers.js'
import { rawPeer } from '../helpers/raw-ws.js'
import { waitFor } from '../helpers/wait.js'
import { memoryStorage } from '../../server/storage/memory.js'
import { CloseCode } from '../../shared/close-codes.js'

describe('WebSocket liveness and backpressure', () => {
  let server: TestServer | null = null
  afterEach(async () => { await server?.close(); server = null })

  it('drops a connection that stops answering pings', async () => {
    server = await startServer({ storage: memoryStorage(), pingIntervalMs: 100 })
    const peer = await rawPeer(`${server.wsUrl}/ping`)
    const healthy = await rawPeer(`${server.wsUrl}/ping`)
    // A paused socket reads nothing, so it never sees the ping and never answers.
    ;(peer.ws as any)._socket.pause()
    await waitFor(() => server!.weft.stats().connections === 1, 'the dead connection to be reaped', 5000)
    expect(server.weft.context.metrics.get('ws_dead_connections_total')).toBeGreaterThanOrEqual(1)
    expect(healthy.ws.readyState).toBe(healthy.ws.OPEN)
    healthy.ws.close()
    peer.ws.terminate()
  })

  it('closes a consumer that cannot keep up with 4508; it resyncs by state vector on reconnect', async () => {
    server = await startServer({ storage: memoryStorage(), maxBufferedBytes: 64 * 1024 })
    const slow = await rawPeer(`${server.wsUrl}/flood`)
    ;(slow.ws as any)._socket.pause()
    const writer = stockClient(server.wsUrl, 'flood')
    await synced(writer)
    const chunk = 'x'.repeat(64 * 1024)
    for (let i = 0; i < 600 && server.weft.context.metrics.get('ws_slow_consumers_total') === 0; i++) {
      writer.text.insert(writer.text.length, chunk)
      await new Promise(resolve => setTimeout(resolve, 2))
    }
    await waitFor(() => server!.weft.context.metrics.get('ws_slow_consumers_total') >= 1, 'the slow consumer to be cut')
    ;(slow.ws as any)._socket.resume()
    expect((await slow.closed).code).toBe(CloseCode.tooSlow)
    // The writer was unaffected, and a fresh client gets the whole doc.
    const fresh = stockClient(server.wsUrl, 'flood')
    await synced(fresh)
    await waitFor(() => fresh.text.length === writer.text.length, 'a fresh client to get everything')
    expect(Y.encodeStateVector(fresh.doc)).toEqual(Y.encodeStateVector(writer.doc))
    writer.destroy()
    fresh.destroy()
  })
})
