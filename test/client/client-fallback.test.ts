/**
 * WeftProvider against the real server, directly and through a hostile proxy: every tier must
 * converge both ways with a stock y-websocket provider and carry awareness both ways.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import * as Y from 'yjs'
import WebSocket from 'ws'
import express from 'express'
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { startServer, tempDir, type TestServer } from '../helpers/server.js'
import { stockClient, synced, type StockClient } from '../helpers/providers.js'
import { startProxy, type HostileProxy, type ProxyMode } from '../helpers/hostile-proxy.js'
import { waitFor as waitUntil } from '../helpers/wait.js'

// A shared 2-core machine can be slow: generous waits (they end as soon as the condition holds).
const waitFor = (check: () => boolean | Promise<boolean>, what: string, timeoutMs = 20_000): Promise<void> => waitUntil(check, what, timeoutMs)
import { leveldbStorage } from '../../server/storage/leveldb.js'
import { AuthError, type WeftOptions } from '../../server/options.js'
import { WeftProvider, type WeftProviderOptions, type TransportName } from '../../client/index.js'
import { CloseCode } from '../../shared/close-codes.js'

describe('WeftProvider transport fallback', { timeout: 90_000 }, () => {
  let dir: ReturnType<typeof tempDir>
  let server: TestServer
  let proxy: HostileProxy | null = null
  const stocks: StockClient[] = []
  const providers: WeftProvider[] = []

  const start = async (opts: WeftOptions = {}): Promise<void> => {
    server = await startServer({ storage: leveldbStorage(dir.path), ...opts })
  }
  const stock = (name: string): StockClient => {
    const c = stockClient(server.wsUrl, name)
    stocks.push(c)
    return c
  }
  const weft = (url: string, name: string, opts: WeftProviderOptions = {}): { doc: Y.Doc, text: Y.Text, provider: WeftProvider } => {
    const doc = new Y.Doc()
    const provider = new WeftProvider(url, name, doc, {
      WebSocketPolyfill: WebSocket as unknown as typeof globalThis.WebSocket,
      maxBackoffTime: 300,
      openTimeoutMs: 5000,
      pollTimeoutS: 5,
      ...opts
    })
    providers.push(provider)
    return { doc, text: doc.getText('text'), provider }
  }
  const behind = async (mode: ProxyMode): Promise<string> => {
    proxy = await startProxy(server.port, mode)
    return proxy.url
  }

  beforeEach(() => { dir = tempDir() })
  afterEach(async () => {
    for (const p of providers.splice(0)) p.destroy()
    for (const c of stocks.splice(0)) c.destroy()
    await proxy?.close()
    proxy = null
    await server.close()
    dir.remove()
  })

  /** Edits both ways, then awareness both ways, then the leaving editor's awareness goes. */
  async function convergeAndAware (url: string, name: string, expected: TransportName): Promise<void> {
    const s = stock(name)
    await synced(s)
    s.text.insert(0, 'from stock. ')
    const w = weft(url, name)
    const changes: TransportName[] = []
    w.provider.on('transport-change', e => changes.push(e.transport))
    await waitFor(() => w.provider.synced, `the WeftProvider to sync over ${expected}`, 20_000)
    expect(w.provider.transport).toBe(expected)
    expect(changes).toEqual([expected])
    await waitFor(() => w.text.toString() === 'from stock. ', 'the initial state to arrive')
    w.text.insert(w.text.length, 'from weft.')
    await waitFor(() => s.text.toString() === 'from stock. from weft.', 'the stock provider to get the Weft edit')
    s.text.insert(0, '>')
    await waitFor(() => w.text.toString() === '>from stock. from weft.', 'the Weft provider to get the stock edit')
    // Many small edits in a burst: merged uploads, one poll answer per batch, still exact.
    for (let i = 0; i < 50; i++) w.text.insert(w.text.length, String(i % 10))
    for (let i = 0; i < 50; i++) s.text.insert(0, 'abcdefghij'[i % 10]!)
    await waitFor(() => s.text.toString() === w.text.toString() && w.text.length === 123, 'both to converge after a burst', 20_000)

    w.provider.awareness.setLocalStateField('user', { name: 'weft' })
    await waitFor(() => (s.provider.awareness.getStates().get(w.doc.clientID) as any)?.user?.name === 'weft', 'the stock provider to see the Weft editor')
    s.provider.awareness.setLocalStateField('user', { name: 'stock' })
    await waitFor(() => (w.provider.awareness.getStates().get(s.doc.clientID) as any)?.user?.name === 'stock', 'the Weft editor to see the stock editor')
    w.provider.awareness.setLocalStateField('user', { name: 'weft 2' })
    await waitFor(() => (s.provider.awareness.getStates().get(w.doc.clientID) as any)?.user?.name === 'weft 2', 'an awareness change to arrive')
    w.provider.destroy()
    await waitFor(() => !s.provider.awareness.getStates().has(w.doc.clientID), 'the Weft editor\'s presence to go when it leaves')
  }

  it('converges with a stock y-websocket provider over WebSocket', async () => {
    await start()
    await convergeAndAware(server.url, 'ws-doc', 'websocket')
  })

  it('falls back to SSE + POST when a proxy refuses WebSocket upgrades', async () => {
    await start()
    await convergeAndAware(await behind({ upgrades: false, sse: true }), 'sse-doc', 'sse')
    expect(proxy!.requests.get('/docs/sse-doc/updates') ?? 0).toBeGreaterThan(0)
  })

  it('falls back to long polling when the proxy also blocks event streams', async () => {
    await start()
    await convergeAndAware(await behind({ upgrades: false, sse: false }), 'poll-doc', 'poll')
    expect(proxy!.requests.get('/docs/poll-doc/poll') ?? 0).toBeGreaterThan(1)
  })

  it('falls back to SSE behind a proxy that completes WebSocket upgrades and then drops every frame', async () => {
    await start()
    const url = await behind({ upgrades: true, sse: true, blackholeWebSocket: true })
    const s = stock('blackhole')
    await synced(s)
    const w = weft(url, 'blackhole', { openTimeoutMs: 1500 })
    await waitFor(() => w.provider.transport === 'sse' && w.provider.synced, 'the provider to settle on SSE')
    w.text.insert(0, 'up')
    await waitFor(() => s.text.toString() === 'up', 'edits to flow')
  })

  it('falls back to long polling behind a proxy that passes event-stream headers but holds the body', async () => {
    await start()
    const url = await behind({ upgrades: false, sse: true, bufferSse: true })
    const s = stock('buffered')
    await synced(s)
    const w = weft(url, 'buffered', { openTimeoutMs: 1500 })
    await waitFor(() => w.provider.transport === 'poll' && w.provider.synced, 'the provider to settle on long polling')
    s.text.insert(0, 'down')
    await waitFor(() => w.text.toString() === 'down', 'updates to arrive by poll')
  })

  it('can be forced onto one tier, and two HTTP-only editors converge with each other', async () => {
    await start()
    const a = weft(server.url, 'forced', { transports: ['poll'] })
    const b = weft(server.url, 'forced', { transports: ['sse'] })
    await waitFor(() => a.provider.synced && b.provider.synced, 'both to sync')
    expect([a.provider.transport, b.provider.transport]).toEqual(['poll', 'sse'])
    a.text.insert(0, 'a')
    b.text.insert(0, 'b')
    await waitFor(() => a.text.toString() === b.text.toString() && a.text.length === 2, 'poll and SSE editors to converge')
  })

  it('keeps edits made while disconnected and sends them once on reconnect, on every tier', async () => {
    await start()
    const s = stock('offline')
    await synced(s)
    for (const tier of ['websocket', 'sse', 'poll'] as const) {
      const w = weft(server.url, 'offline', { transports: [tier] })
      await waitFor(() => w.provider.synced, `${tier} to sync`)
      w.provider.disconnect()
      w.text.insert(w.text.length, `[${tier} offline]`)
      s.text.insert(0, `[stock while ${tier} away]`)
      w.provider.connect()
      await waitFor(() => s.text.toString() === w.text.toString() && s.text.toString().includes(`[${tier} offline]`), `${tier} edits to arrive after reconnect`)
      w.provider.destroy()
    }
    const h = await server.weft.openDoc('offline')
    const text = h.doc.getText('text').toString()
    await h.release()
    for (const tier of ['websocket', 'sse', 'poll']) expect(text.split(`[${tier} offline]`).length).toBe(2)
  })

  it('moves back up to WebSocket when a probe finds that upgrades work again', async () => {
    await start()
    const url = await behind({ upgrades: false, sse: true })
    const w = weft(url, 'probe', { probeAfterMs: 300 })
    await waitFor(() => w.provider.transport === 'sse' && w.provider.synced, 'the provider to settle on SSE')
    w.provider.awareness.setLocalStateField('user', { name: 'over sse' })
    const s = stock('probe')
    await synced(s)
    // Type throughout the switch: every token must arrive exactly once.
    const tokens: string[] = []
    let typing = true
    const typist = (async () => {
      for (let i = 0; typing && i < 2000; i++) {
        const token = `<${i}>`
        tokens.push(token)
        w.text.insert(w.text.length, token)
        await new Promise(resolve => setTimeout(resolve, 5))
      }
    })()
    await new Promise(resolve => setTimeout(resolve, 100))
    proxy!.mode.upgrades = true
    await waitFor(() => w.provider.transport === 'websocket' && w.provider.synced, 'the provider to move up to WebSocket', 20_000)
    await new Promise(resolve => setTimeout(resolve, 100))
    typing = false
    await typist
    await waitFor(() => s.text.toString() === w.text.toString(), 'the stock provider to have every token')
    const text = s.text.toString()
    for (const token of tokens) expect(text.split(token).length - 1, token).toBe(1)
    expect(text.length).toBe(tokens.join('').length)
    // Presence moved with it: the HTTP session let go of the awareness id at once (not after
    // its 30 s idle timeout), so the WebSocket session may set it.
    w.provider.awareness.setLocalStateField('user', { name: 'over websocket' })
    await waitFor(() => (s.provider.awareness.getStates().get(w.doc.clientID) as any)?.user?.name === 'over websocket', 'presence over the new tier', 5000)
  })

  it('an idle long-polling editor makes at most one poll per server timeout, even with others present', async () => {
    await start()
    const s = stock('idle')
    await synced(s)
    s.provider.awareness.setLocalStateField('user', { name: 'present' })
    const w = weft(server.url, 'idle', { transports: ['poll'], pollTimeoutS: 1 })
    await waitFor(() => w.provider.synced && w.provider.awareness.getStates().size === 2, 'the poller to sync and see the other editor')
    w.provider.awareness.setLocalStateField('user', { name: 'poller' })
    await new Promise(resolve => setTimeout(resolve, 500))
    const polls = (): number => server.weft.context.metrics.get('polls_total')
    const before = polls()
    await new Promise(resolve => setTimeout(resolve, 4000))
    // 4 s at a 1 s timeout: about 4 polls; a spinning client would make hundreds.
    expect(polls() - before).toBeLessThanOrEqual(6)
    expect(polls() - before).toBeGreaterThanOrEqual(1)
  })

  it('does not resend what the server has: a reconnect without offline edits posts nothing', async () => {
    await start()
    const url = await behind({ upgrades: false, sse: true })
    const w = weft(url, 'quiet')
    await waitFor(() => w.provider.transport === 'sse' && w.provider.synced, 'SSE')
    w.text.insert(0, 'once')
    const s = stock('quiet')
    await waitFor(() => s.text.toString() === 'once', 'the edit to arrive')
    const posts = (): number => proxy!.requests.get('/docs/quiet/updates') ?? 0
    const before = posts()
    expect(before).toBe(1)
    for (let i = 0; i < 3; i++) {
      w.provider.disconnect()
      w.provider.connect()
      await waitFor(() => w.provider.synced, 'the reconnect')
    }
    expect(posts()).toBe(before)
    w.provider.disconnect()
    w.text.insert(4, ' more')
    w.provider.connect()
    await waitFor(() => s.text.toString() === 'once more', 'the offline edit')
    expect(posts()).toBe(before + 1)
  })

  it('abandons a tier that is cut repeatedly and recovers over the next one', async () => {
    await start()
    const url = await behind({ upgrades: true, sse: true })
    const w = weft(url, 'flaky', { maxCuts: 3, cutWindowMs: 30_000, probeAfterMs: 60_000 })
    await waitFor(() => w.provider.transport === 'websocket' && w.provider.synced, 'WebSocket first')
    let closes = 0
    w.provider.on('connection-close', () => { closes++ })
    for (let i = 0; i < 3 && w.provider.transport === 'websocket'; i++) {
      await waitFor(() => w.provider.synced, 'a reconnect')
      const before = closes
      proxy!.cutAll()
      // Counted by event: the reconnect can be quicker than any polling of `synced`.
      await waitFor(() => closes > before, 'the cut to be noticed')
    }
    await waitFor(() => w.provider.transport === 'sse' && w.provider.synced, 'the provider to give up on WebSocket', 20_000)
  })

  it('works with the HTTP routes mounted under a prefix (wsUrl for the upgrades at the root)', async () => {
    await start()
    const app = express()
    app.use('/collab', server.weft.router)
    const http = createServer(app)
    server.weft.attach(http)
    await new Promise<void>(resolve => http.listen(0, '127.0.0.1', () => resolve()))
    const root = `http://127.0.0.1:${(http.address() as AddressInfo).port}`
    try {
      const s = stock('mounted')
      await synced(s)
      const a = weft(`${root}/collab`, 'mounted', { wsUrl: root })
      const b = weft(`${root}/collab`, 'mounted', { transports: ['sse'] })
      await waitFor(() => a.provider.synced && b.provider.synced, 'both to sync')
      expect([a.provider.transport, b.provider.transport]).toEqual(['websocket', 'sse'])
      a.text.insert(0, 'a')
      b.text.insert(0, 'b')
      await waitFor(() => s.text.length === 2 && a.text.toString() === s.text.toString() && b.text.toString() === s.text.toString(), 'one doc for all three')
    } finally {
      for (const p of providers.splice(0)) p.destroy()
      http.closeAllConnections()
      await new Promise<void>(resolve => http.close(() => resolve()))
    }
  })

  it('stops on 4403 and refreshes its token on 4401', async () => {
    const issued: string[] = []
    await start({
      authenticate: req => {
        const token = new URL(req.url ?? '/', 'http://x').searchParams.get('token')
        if (token === 'fresh') return { access: 'write' }
        if (token === 'reader') return { access: 'read' }
        if (token === 'other-doc') throw new AuthError(403, 'not this doc')
        throw new AuthError(401, 'bad token')
      }
    })
    const tokens = ['stale', 'fresh']
    const w = weft(server.url, 'auth', { getToken: () => { const t = tokens.shift() ?? 'fresh'; issued.push(t); return t }, transports: ['sse', 'poll'] })
    await waitFor(() => w.provider.synced, 'the provider to sync after refreshing its token')
    expect(issued.slice(0, 2)).toEqual(['stale', 'fresh'])

    const denied = weft(server.url, 'auth', { params: { token: 'other-doc' }, transports: ['sse', 'poll'] })
    const errors: number[] = []
    denied.provider.on('connection-error', e => errors.push(e.code))
    await waitFor(() => denied.provider.stopped != null, 'the provider to stop')
    expect(denied.provider.stopped!.code).toBe(CloseCode.forbidden)
    expect(errors).toEqual([CloseCode.forbidden])
    expect(denied.provider.shouldConnect).toBe(false)

    // Read-only over HTTP: its edits are refused (permission-denied), it keeps reading.
    const reader = weft(server.url, 'auth', { params: { token: 'reader' }, transports: ['poll'] })
    const refusals: string[] = []
    reader.provider.on('permission-denied', e => refusals.push(e.reason))
    await waitFor(() => reader.provider.synced, 'the reader to sync')
    reader.text.insert(0, 'not allowed')
    await waitFor(() => refusals.length > 0, 'the refusal')
    w.text.insert(0, 'writer')
    await waitFor(() => reader.text.toString().includes('writer'), 'the reader to keep receiving')
    expect(reader.provider.status).toBe('connected')
    expect(w.text.toString()).not.toContain('not allowed')
  })
})
