/**
 * Limits trigger as documented: connections in total, per IP and per doc (HTTP 429 before the
 * socket opens), docs in memory (close 4529), messages per second (the server stops reading a
 * connection over its rate; ws-backpressure.test.ts has the rest), SSE streams per IP
 * (HTTP 429); each refusal is counted; slots come back when peers leave; and 1,000 abrupt
 * disconnects at every stage of a connection leave nothing behind.
 */
import { afterEach, describe, expect, it } from 'vitest'
import { connect } from 'node:net'
import WebSocket from 'ws'
import * as Y from 'yjs'
import { startServer, type TestServer } from '../helpers/server.js'
import { rawPeer, upgradeStatus, type RawPeer } from '../helpers/raw-ws.js'
import { stockClient, synced } from '../helpers/providers.js'
import { waitFor, sleep } from '../helpers/wait.js'
import { memoryStorage } from '../../server/storage/memory.js'
import { CloseCode } from '../../shared/close-codes.js'
import { encodeAwarenessMessage, encodeSyncStep1, encodeQueryAwareness } from '../../shared/protocol.js'
import { encodeAwarenessEntries } from '../../shared/awareness.js'
import { appendAt } from '../helpers/append-at.js'

/** An upgrade from another loopback source address (Linux routes all of 127/8 locally). */
function statusFrom (localAddress: string, url: string): Promise<number> {
  return new Promise(resolve => {
    const ws = new WebSocket(url, { localAddress })
    ws.once('open', () => { resolve(101) })
    ws.once('unexpected-response', (_q, res) => { res.resume(); resolve(res.statusCode ?? 0) })
    ws.once('error', () => resolve(0))
    opened.push(ws)
  })
}
const opened: WebSocket[] = []

describe('limits', () => {
  let server: TestServer
  const peers: RawPeer[] = []
  afterEach(async () => {
    for (const p of peers.splice(0)) p.ws.terminate()
    for (const ws of opened.splice(0)) ws.terminate()
    await server.close()
  })
  const refused = (limit: string): number => server.weft.context.metrics.get(`limit_refused_total{limit="${limit}"}`)
  const open = async (path: string): Promise<RawPeer> => { const p = await rawPeer(`${server.wsUrl}/${path}`); peers.push(p); return p }

  it('maxConnections: one more is HTTP 429, counted; a slot frees when a peer leaves', async () => {
    server = await startServer({ storage: memoryStorage(), maxConnections: 3 })
    for (let i = 0; i < 3; i++) await open(`d${i}`)
    expect(await upgradeStatus(`${server.wsUrl}/d9`)).toBe(429)
    expect(refused('connections')).toBe(1)
    peers.pop()!.ws.close()
    await waitFor(() => server.weft.context.limits.stats().connections === 2, 'slot to free')
    expect(await upgradeStatus(`${server.wsUrl}/d9`)).toBe(101)
  })

  it('maxConnectionsPerIp: 429 for that address only', async () => {
    server = await startServer({ storage: memoryStorage(), maxConnectionsPerIp: 2 })
    await open('a')
    await open('b')
    expect(await upgradeStatus(`${server.wsUrl}/c`)).toBe(429)
    expect(await statusFrom('127.0.0.2', `${server.wsUrl}/c`)).toBe(101)
    expect(refused('connections_per_ip')).toBe(1)
  })

  it('maxConnectionsPerDoc: 429 on that doc, other docs fine', async () => {
    server = await startServer({ storage: memoryStorage(), maxConnectionsPerDoc: 2 })
    await open('hot')
    await open('hot')
    expect(await upgradeStatus(`${server.wsUrl}/hot`)).toBe(429)
    expect(await upgradeStatus(`${server.wsUrl}/cold`)).toBe(101)
    expect(refused('connections_per_doc')).toBe(1)
  })

  it('maxDocs: a connection to one doc too many closes with 4529 (transient: retry later)', async () => {
    server = await startServer({ storage: memoryStorage(), maxDocs: 2 })
    await open('one')
    await open('two')
    const third = await open('three')
    expect((await third.closed).code).toBe(CloseCode.tooManyRequests)
    expect(refused('docs')).toBe(1)
    // The same limit over HTTP is a 429 for a stored doc that would have to be loaded, with a
    // Retry-After; a doc already in memory is still served, and so is a doc nobody wrote (as
    // empty, without loading it: it takes no slot).
    const writer = new Y.Doc()
    writer.getText('text').insert(0, 'stored')
    await appendAt(server.weft.context.options.storage, 'four', [{ seq: 1, update: Y.encodeStateAsUpdate(writer) }])
    const four = await fetch(`${server.url}/docs/four`)
    expect(four.status).toBe(429)
    expect(four.headers.get('retry-after')).toBe('1')
    expect((await fetch(`${server.url}/docs/one`)).status).toBe(200)
    expect((await (await fetch(`${server.url}/docs/made-up`)).json()).content).toEqual({})
    expect(server.weft.context.registry.has('made-up')).toBe(false)
  })

  it('maxMessagesPerSecond: a flood (step1s included) is served at the rate, not closed; a paced peer is never held', async () => {
    server = await startServer({ storage: memoryStorage(), maxMessagesPerSecond: 50, messageBurst: 20 })
    const flood = await open('rate')
    const step2s = (): number => flood.messages.filter(m => m[0] === 0 && m[1] === 1).length
    const started = Date.now()
    for (let i = 0; i < 100; i++) flood.send(encodeSyncStep1(new Uint8Array([0])))
    await sleep(500)
    // Half a second in: the burst and what refilled, no more (each step1 costs the server a diff).
    expect(step2s()).toBeLessThanOrEqual(20 + 50 * (Date.now() - started) / 1000 + 5)
    await waitFor(() => step2s() === 100, 'every step1 answered, at the rate')
    expect(Date.now() - started).toBeGreaterThan(((100 - 20) / 50) * 1000 * 0.8)
    expect(flood.ws.readyState).toBe(WebSocket.OPEN)
    expect(refused('messages_per_second')).toBe(0)
    expect(server.weft.context.metrics.get('ws_throttled_total')).toBe(1)

    const paced = await open('rate')
    for (let i = 0; i < 30; i++) {
      paced.send(i % 2 === 0 ? encodeQueryAwareness() : encodeAwarenessMessage(encodeAwarenessEntries([{ clientID: 99, clock: i, json: '{}' }])))
      await sleep(60) // ~16/s, under 20/s
    }
    await sleep(100)
    expect(paced.ws.readyState).toBe(WebSocket.OPEN)
    expect(server.weft.context.metrics.get('ws_throttled_total')).toBe(1)

    // The stock provider under the default limits: typing at machine speed for a while is fine.
    await server.close()
    server = await startServer({ storage: memoryStorage() })
    const c = stockClient(server.wsUrl, 'typing')
    try {
      await synced(c)
      for (let i = 0; i < 50; i++) { c.text.insert(0, 'x'); await sleep(15) }
      await waitFor(() => server.weft.context.registry.get('typing')?.ydoc.getText('text').length === 50, 'all keystrokes stored')
      expect(c.provider.wsconnected).toBe(true)
    } finally { c.destroy() }
  })

  it('maxObserversPerIp: one SSE stream too many is HTTP 429', async () => {
    server = await startServer({ storage: memoryStorage(), maxObserversPerIp: 2 })
    const acs = [new AbortController(), new AbortController(), new AbortController()]
    try {
      const statuses: number[] = []
      for (const ac of acs) statuses.push((await fetch(`${server.url}/docs/s/events`, { signal: ac.signal })).status)
      expect(statuses).toEqual([200, 200, 429])
      expect(refused('observers_per_ip')).toBe(1)
    } finally { for (const ac of acs) ac.abort() }
  })

  it('1,000 abrupt disconnects (mid-handshake, while loading, after syncing, with awareness) leave no leaks', async () => {
    server = await startServer({ storage: memoryStorage(), unloadAfterMs: 50 })
    const heapBefore = process.memoryUsage().heapUsed
    const { port } = server
    const request = (doc: string): string =>
      `GET /${doc} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n`
    let done = 0
    for (let batch = 0; batch < 20; batch++) {
      await Promise.all(Array.from({ length: 50 }, async (_, i) => {
        const doc = `churn-${(batch * 50 + i) % 7}`
        const stage = i % 4
        if (stage === 0) {
          // Half a handshake, then the TCP connection is reset.
          const sock = connect(port, '127.0.0.1')
          sock.on('error', () => {})
          await new Promise<void>(resolve => sock.once('connect', () => resolve()))
          sock.write(request(doc).slice(0, 40))
          await sleep(1)
          sock.resetAndDestroy()
        } else if (stage === 1) {
          // A full upgrade request, reset before the answer is read (often while the doc loads).
          const sock = connect(port, '127.0.0.1')
          sock.on('error', () => {})
          await new Promise<void>(resolve => sock.once('connect', () => resolve()))
          sock.write(request(doc))
          sock.resetAndDestroy()
        } else {
          const ws = new WebSocket(`${server.wsUrl}/${doc}`)
          ws.on('error', () => {})
          await new Promise<void>(resolve => { ws.once('open', () => resolve()); ws.once('close', () => resolve()) })
          if (stage === 3) ws.send(encodeAwarenessMessage(encodeAwarenessEntries([{ clientID: 10_000 + batch * 50 + i, clock: 1, json: '{"u":1}' }])))
          await sleep(stage === 3 ? 5 : 0)
          ws.terminate() // no close frame: the server sees the TCP connection die
        }
        done++
      }))
    }
    expect(done).toBe(1000)
    const weft = server.weft
    await waitFor(() => weft.stats().connections === 0 && weft.context.limits.stats().connections === 0, 'connections to drain', 20_000)
    await waitFor(() => weft.stats().docsLoaded === 0, 'docs to unload', 20_000)
    expect(weft.stats()).toMatchObject({ connections: 0, peers: 0, docsLoaded: 0, pendingUnloads: 0 })
    expect(weft.context.limits.stats()).toEqual({ connections: 0, ips: 0, docs: 0, observerIps: 0, observers: 0, httpSessionIps: 0, emptyDocIps: 0 })
    expect(server.http.listenerCount('upgrade')).toBe(1)
    // Docs were really used (loaded more than once across unloads) and nothing piled up.
    expect(weft.stats().docLoads).toBeGreaterThanOrEqual(7)
    expect(process.memoryUsage().heapUsed - heapBefore).toBeLessThan(100 * 2 ** 20)
  }, 120_000)
})
