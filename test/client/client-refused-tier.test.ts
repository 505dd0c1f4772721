/**
 * A proxy that refuses WebSocket upgrades and answers the event stream with its own plain-text
 * 403: the SSE tier failed to open (the handshake with the same token had just succeeded, and
 * the refusal lacks Weft's JSON body), so the provider goes on to long polling and keeps
 * receiving. Weft's own 403 — same status, same route, JSON body — still stops it.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import * as Y from 'yjs'
import WebSocket from 'ws'
import { startServer, type TestServer } from '../helpers/server.js'
import { stockClient, synced, type StockClient } from '../helpers/providers.js'
import { startProxy, type HostileProxy } from '../helpers/hostile-proxy.js'
import { hsToken, SECRET } from '../helpers/tokens.js'
import { waitFor } from '../helpers/wait.js'
import { memoryStorage } from '../../server/storage/memory.js'
import { AuthError, type WeftOptions } from '../../server/options.js'
import { observe, WeftProvider, type Observer, type WeftProviderOptions } from '../../client/index.js'
import { CloseCode } from '../../shared/close-codes.js'

// Generous on a shared 2-core machine; every wait ends as soon as its condition holds.
const WAIT_MS = 20_000

describe('WeftProvider behind a proxy that refuses the event stream', { timeout: 90_000 }, () => {
  let server: TestServer
  let proxy: HostileProxy
  const cleanups: Array<() => unknown> = []

  const start = async (options: WeftOptions): Promise<void> => {
    server = await startServer({ storage: memoryStorage(), ...options })
    proxy = await startProxy(server.port, { upgrades: false, sse: true, refuseEvents: true })
  }
  const weft = (name: string, opts: WeftProviderOptions): { text: Y.Text, provider: WeftProvider, errors: number[] } => {
    const doc = new Y.Doc()
    const provider = new WeftProvider(proxy.url, name, doc, {
      WebSocketPolyfill: WebSocket as unknown as typeof globalThis.WebSocket,
      maxBackoffTime: 300,
      openTimeoutMs: 5000,
      pollTimeoutS: 5,
      ...opts
    })
    const errors: number[] = []
    provider.on('connection-error', e => errors.push(e.code))
    cleanups.push(() => provider.destroy())
    return { text: doc.getText('text'), provider, errors }
  }
  const stock = (name: string, token?: string): StockClient => {
    const c = stockClient(server.wsUrl, name, { params: token === undefined ? {} : { token } })
    cleanups.push(() => c.destroy())
    return c
  }

  beforeEach(() => { cleanups.length = 0 })
  afterEach(async () => {
    for (const fn of cleanups.splice(0).reverse()) await fn()
    await proxy.close()
    await server.close()
  })

  it('goes down to long polling, syncs, and receives edits made later by a stock provider', async () => {
    await start({ auth: { secret: SECRET } })
    const token = await hsToken({ docs: 'refused', access: 'write' })
    const s = stock('refused', token)
    await synced(s)
    s.text.insert(0, 'before. ')
    const w = weft('refused', { params: { token } })
    await waitFor(() => (w.provider.transport === 'poll' && w.provider.synced) || w.provider.stopped != null, 'the provider to settle on long polling', WAIT_MS)
    // Before the fix the proxy's 403 became 4403 here and the provider stopped for good.
    expect(w.provider.stopped).toBeNull()
    expect(w.errors).toEqual([])
    // The refusal really happened: the SSE tier was tried and met the proxy's 403.
    expect(proxy.requests.get('/docs/refused/events') ?? 0).toBeGreaterThanOrEqual(1)
    expect(w.provider.shouldConnect).toBe(true)
    await waitFor(() => w.text.toString() === 'before. ', 'the initial state', WAIT_MS)
    s.text.insert(s.text.length, 'later edit.')
    await waitFor(() => w.text.toString() === 'before. later edit.', 'the later stock edit to arrive by poll', WAIT_MS)
    w.text.insert(0, '>')
    await waitFor(() => s.text.toString() === '>before. later edit.', 'the Weft edit to reach the stock provider', WAIT_MS)
    expect(w.provider.transport).toBe('poll')
  })

  it("still stops on Weft's own 403 (JSON): a token for another doc", async () => {
    await start({ auth: { secret: SECRET } })
    const w = weft('refused', { params: { token: await hsToken({ docs: 'another-doc', access: 'write' }) } })
    await waitFor(() => w.provider.stopped != null, 'the provider to stop', WAIT_MS)
    expect(w.provider.stopped!.code).toBe(CloseCode.forbidden)
    expect(w.errors).toEqual([CloseCode.forbidden])
    expect(w.provider.shouldConnect).toBe(false)
  })

  it('still stops when Weft itself refuses the event stream with its JSON 403 after the handshake', async () => {
    // Same status, same route, same moment as the proxy's refusal: only the body differs.
    await start({
      authenticate: req => {
        if ((req.url ?? '').split('?')[0]!.endsWith('/events')) throw new AuthError(403, 'no streams for you')
        return { access: 'write' }
      }
    })
    proxy.mode.refuseEvents = false
    const w = weft('weft-refuses', {})
    await waitFor(() => w.provider.stopped != null, 'the provider to stop', WAIT_MS)
    expect(proxy.requests.get('/docs/weft-refuses/events') ?? 0).toBeGreaterThanOrEqual(1)
    expect(w.provider.stopped!.code).toBe(CloseCode.forbidden)
    expect(w.errors).toEqual([CloseCode.forbidden])
    expect(w.provider.shouldConnect).toBe(false)
    expect(w.provider.transport).toBeNull()
  })

  it("a proxy's 403 on an upload is not read-only access: the edit goes up once the proxy lets it", async () => {
    await start({})
    proxy.mode.refuseEvents = false
    const s = stock('upload')
    await synced(s)
    const w = weft('upload', {})
    const denied: string[] = []
    w.provider.on('permission-denied', e => denied.push(e.reason))
    await waitFor(() => w.provider.transport === 'sse' && w.provider.synced, 'the provider to settle on SSE', WAIT_MS)
    proxy.mode.refuseUpdates = true
    w.text.insert(0, 'kept')
    await waitFor(() => (proxy.requests.get('/docs/upload/updates') ?? 0) >= 2 || denied.length > 0, 'the upload to be refused and retried', WAIT_MS)
    // Before: taken for Weft's read-only 403, the edit was dropped and never sent again.
    expect(denied).toEqual([])
    expect(s.text.toString()).toBe('')
    proxy.mode.refuseUpdates = false
    await waitFor(() => s.text.toString() === 'kept', 'the edit to arrive once uploads pass', WAIT_MS)
    expect(w.provider.stopped).toBeNull()
    expect(w.errors).toEqual([])
  })

  it('an observer that Weft already served retries through a proxy refusal instead of stopping', async () => {
    await start({})
    proxy.mode.refuseEvents = false
    const s = stock('watched')
    await synced(s)
    s.text.insert(0, 'one.')
    const observer: Observer = observe(proxy.url, 'watched', { backoff: { maxMs: 300 } })
    cleanups.push(() => observer.close())
    const errors: number[] = []
    observer.on('error', e => errors.push(e.code))
    const text = (): string => observer.doc?.getText('text').toString() ?? ''
    await waitFor(() => text() === 'one.', 'the observer to mirror the doc', WAIT_MS)
    // The network turns hostile: the stream is cut and every reconnect meets the proxy's 403.
    proxy.mode.refuseEvents = true
    const refusedBefore = proxy.requests.get('/docs/watched/events') ?? 0
    proxy.cutAll()
    await waitFor(() => (proxy.requests.get('/docs/watched/events') ?? 0) >= refusedBefore + 2 || errors.length > 0, 'the observer to retry', WAIT_MS)
    expect(errors).toEqual([])
    proxy.mode.refuseEvents = false
    s.text.insert(s.text.length, 'two.')
    await waitFor(() => text() === 'one.two.', 'the observer to resume once the proxy lets streams through', WAIT_MS)
    expect(errors).toEqual([])
  })
})
