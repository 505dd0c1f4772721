/**
 * The server's WebSocket class (server/transports/ws-socket.ts): events reach the connection
 * without listeners, pings are answered by the connection (ws' autoPong is off), a peer that
 * pings without reading is cut, listeners added later still hear their events, and what the
 * class relies on in ws and Node (`_events`, `_extensions`) is as it expects. The heartbeat
 * trims ws' emptied read queue; the connection reads on as before.
 */
import { afterEach, describe, expect, it } from 'vitest'
import { startServer, type TestServer } from '../helpers/server.js'
import { rawPeer, type RawPeer } from '../helpers/raw-ws.js'
import { waitFor } from '../helpers/wait.js'
import { memoryStorage } from '../../server/storage/memory.js'
import { CloseCode } from '../../shared/close-codes.js'
import { WeftSocket } from '../../server/transports/ws-socket.js'
import { stockClient, synced } from '../helpers/providers.js'
import type { WsConnection } from '../../server/transports/ws-connection.js'

describe('the server WebSocket class', () => {
  let server: TestServer | null = null
  const peers: RawPeer[] = []
  afterEach(async () => {
    for (const p of peers.splice(0)) p.ws.terminate()
    await server?.close()
    server = null
  })
  const open = async (doc: string): Promise<RawPeer> => { const p = await rawPeer(`${server!.wsUrl}/${doc}`); peers.push(p); return p }
  /** The server side of the connections on `doc`. */
  async function connectionsOf (doc: string, count: number): Promise<WsConnection[]> {
    const peersOf = (): WsConnection[] => [...(server!.weft.context.registry.get(doc)?.peers ?? [])].map(p => (p as unknown as { pipe?: WsConnection }).pipe).filter((c): c is WsConnection => c?.ws instanceof WeftSocket)
    await waitFor(() => peersOf().length === count, 'the connections to join')
    return peersOf()
  }

  it('delivers messages and the close without listeners; shares one frozen extensions map', async () => {
    server = await startServer({ storage: memoryStorage() })
    const a = await open('plain')
    await open('plain')
    // The server's step1 came through the connection (messages flow both ways).
    await waitFor(() => a.messages.length > 0, 'the server to greet')
    const [c1, c2] = await connectionsOf('plain', 2)
    for (const event of ['message', 'close', 'error', 'ping', 'pong']) expect(c1!.ws.listenerCount(event)).toBe(0)
    const internals = (c: WsConnection): { _events: object, _extensions: object } => c.ws as unknown as { _events: object, _extensions: object }
    expect(Object.getPrototypeOf(internals(c1!)._events)).not.toHaveProperty('toString')
    expect(internals(c1!)._extensions).toBe(internals(c2!)._extensions)
    expect(Object.isFrozen(internals(c1!)._extensions)).toBe(true)
    expect(Object.keys(internals(c1!)._extensions)).toEqual([])
    // A listener added later hears its event too (the transport's shutdown waits for `close`).
    const heard = new Promise<void>(resolve => c1!.ws.once('close', () => resolve()))
    a.ws.close()
    await heard
    await waitFor(() => server!.weft.context.limits.stats().connections === 1, 'its slot to free')
  })

  it('answers a ping with its payload', async () => {
    server = await startServer({ storage: memoryStorage() })
    const p = await open('pings')
    const pong = new Promise<string>(resolve => p.ws.once('pong', data => resolve(data.toString())))
    p.ws.ping('are you there')
    expect(await pong).toBe('are you there')
  })

  it('cuts a peer that pings and never reads its pongs (4508), like any slow consumer', async () => {
    server = await startServer({ storage: memoryStorage(), maxBufferedBytes: 16 * 1024 })
    const p = await open('ping-flood')
    ;(p.ws as any)._socket.pause()
    const payload = Buffer.alloc(125, 1)
    const slow = (): number => server!.weft.context.metrics.get('ws_slow_consumers_total')
    // Pongs fill the kernel's buffers first (a few MB on loopback), then the server's.
    const started = Date.now()
    for (let i = 0; i < 400 && slow() === 0 && Date.now() - started < 20_000; i++) {
      for (let k = 0; k < 500; k++) p.ws.ping(payload)
      await new Promise(resolve => setTimeout(resolve, 5))
    }
    await waitFor(() => slow() >= 1, 'the peer to be cut')
    ;(p.ws as any)._socket.resume()
    expect((await p.closed).code).toBe(CloseCode.tooSlow)
  }, 30_000)

  it('after heartbeats that trimmed its read queue, a connection still reads and writes', async () => {
    server = await startServer({ storage: memoryStorage(), pingIntervalMs: 50 })
    const a = stockClient(server.wsUrl, 'beats')
    const b = stockClient(server.wsUrl, 'beats')
    try {
      await synced(a, b)
      const [c] = await connectionsOf('beats', 2)
      const receiver = (c!.ws as unknown as { _receiver: { _buffers: unknown[] } })._receiver
      const before = receiver._buffers
      await waitFor(() => receiver._buffers !== before, 'a heartbeat to trim the read queue', 2000)
      a.text.insert(0, 'still here')
      await waitFor(() => b.text.toString() === 'still here', 'the edit to arrive')
      expect(server.weft.stats().connections).toBe(2)
    } finally {
      a.destroy()
      b.destroy()
    }
  })
})
