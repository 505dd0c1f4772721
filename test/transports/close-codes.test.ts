/**
 * Every close code the server sends means what the stock y-websocket 3.x provider takes it to
 * mean (4400–4499: stop for good; anything else: reconnect), and Weft's own provider follows
 * `closeAdvice` for the same codes. Each code is sent by the real server through its real close
 * path (`peer.close` of the doc's live sessions, as storage failures and shutdown do), and the
 * ones that are cheap to cause for real are caused for real.
 */
import { describe, expect, it } from 'vitest'
import * as Y from 'yjs'
import WebSocket from 'ws'
import { cleanupAfterEach, startServer, tempDir, type TestServer } from '../helpers/server.js'
import { stockClient, synced, type StockClient } from '../helpers/providers.js'
import { hsToken, SECRET } from '../helpers/tokens.js'
import { sleep, waitFor } from '../helpers/wait.js'
import { leveldbStorage } from '../../server/storage/leveldb.js'
import type { WeftOptions } from '../../server/options.js'
import { WeftProvider } from '../../client/index.js'
import { closeAdvice, CloseCode, CloseReason, isPermanentCloseCode } from '../../shared/close-codes.js'

/** What the server closes a WebSocket with, and why (grep the server for each name). */
const SERVER_CODES = {
  messageTooBig: 'ws, a frame over maxMessageBytes',
  serviceRestart: 'shutdown',
  malformed: 'a bad message',
  unauthorized: 'the token expired',
  clientIdConflict: 'a client id another session owns',
  docDeleted: 'DELETE /docs/:doc',
  presenceTooLarge: 'too many awareness ids or bytes',
  storageFailed: 'a failed load or write',
  tooSlow: 'outgoing buffer over maxBufferedBytes',
  tooManyRequests: 'maxDocs, queue while loading, over the rate for maxThrottledMs'
} as const satisfies Partial<Record<keyof typeof CloseCode, string>>

/** How long a stopped provider must stay away: well past the stock provider's 500 ms backoff cap. */
const STAYS_AWAY_MS = 1200

describe('close codes', () => {
  const cleanups = cleanupAfterEach()

  async function start (options: WeftOptions = {}): Promise<TestServer> {
    const dir = tempDir()
    const server = await startServer({ storage: leveldbStorage(dir.path), ...options })
    cleanups.push(dir.remove, () => server.close())
    return server
  }
  function stock (server: TestServer, doc: string, params?: Record<string, string>): StockClient & { connects: number, stoppedWith: number | null } {
    const c = Object.assign(stockClient(server.wsUrl, doc, { params }), { connects: 0, stoppedWith: null as number | null })
    c.provider.on('status', e => { if (e.status === 'connected') c.connects++ })
    c.provider.on('closed', e => { c.stoppedWith = e.code })
    cleanups.push(() => c.destroy())
    return c
  }
  /** The real server ends every live session of `doc` with `code`, through the sessions' close. */
  function closeFromServer (server: TestServer, doc: string, code: number): void {
    const shared = server.weft.context.registry.get(doc)
    expect(shared?.peers.size).toBeGreaterThan(0)
    for (const peer of [...shared!.peers]) peer.close(code, CloseReason[code] ?? '')
  }

  it('the stock provider stops for 4400–4499 and reconnects for every other code the server sends', async () => {
    const server = await start()
    await Promise.all(Object.keys(SERVER_CODES).map(async name => {
      const code = CloseCode[name as keyof typeof SERVER_CODES]
      const c = stock(server, `stock-${name}`)
      await synced(c)
      closeFromServer(server, `stock-${name}`, code)
      if (isPermanentCloseCode(code)) {
        await waitFor(() => c.stoppedWith !== null, `the stock provider to stop after ${code}`)
        await sleep(STAYS_AWAY_MS)
        expect({ name, code, connects: c.connects, stoppedWith: c.stoppedWith }).toEqual({ name, code, connects: 1, stoppedWith: code })
        expect(c.provider.shouldConnect).toBe(false)
      } else {
        await waitFor(() => c.connects === 2 && c.provider.synced, `the stock provider to come back after ${code} (${name})`)
        expect(c.stoppedWith).toBeNull()
      }
    }))
  }, 30_000)

  it('WeftProvider follows closeAdvice for the same codes', async () => {
    const server = await start()
    await Promise.all(Object.keys(SERVER_CODES).map(async name => {
      const code = CloseCode[name as keyof typeof SERVER_CODES]
      const doc = new Y.Doc()
      let tokens = 0
      const provider = new WeftProvider(server.url, `weft-${name}`, doc, {
        WebSocketPolyfill: WebSocket as unknown as typeof globalThis.WebSocket,
        transports: ['websocket'],
        getToken: () => `token-${++tokens}`,
        backoff: { baseMs: 50, maxMs: 300, slowMinMs: 200 }
      })
      cleanups.push(() => provider.destroy())
      let connects = 0
      provider.on('status', e => { if (e.status === 'connected') connects++ })
      await waitFor(() => provider.synced, `WeftProvider on ${name} to sync`)
      const tokensBefore = tokens
      closeFromServer(server, `weft-${name}`, code)
      const advice = closeAdvice(code)
      if (advice === 'stop') {
        await waitFor(() => provider.stopped !== null, `WeftProvider to stop after ${code}`)
        await sleep(STAYS_AWAY_MS)
        expect({ name, connects, stopped: provider.stopped!.code }).toEqual({ name, connects: 1, stopped: code })
      } else {
        await waitFor(() => connects === 2 && provider.synced, `WeftProvider to come back after ${code} (${name}, ${advice})`)
        expect(provider.stopped).toBeNull()
        // Only an expired token makes it ask for a new one.
        expect(tokens > tokensBefore).toBe(advice === 'refresh-token')
      }
    }))
  }, 30_000)

  it('closeAdvice agrees with the stock provider except where Weft knows better', () => {
    for (const [name, code] of Object.entries(CloseCode)) {
      const stockStops = code >= 4400 && code < 4500 // y-websocket 3.x defaultShouldReconnect, negated
      const advice = closeAdvice(code)
      if (code === CloseCode.unauthorized) expect(advice, name).toBe('refresh-token') // a fresh token fixes it
      else if (code === CloseCode.normal || code === CloseCode.messageTooBig) expect(advice, name).toBe('stop') // the same message would be too big again
      else expect(advice === 'stop', name).toBe(stockStops)
    }
    expect(closeAdvice(CloseCode.tooManyRequests)).toBe('reconnect-slowly')
    expect(CloseCode.tooManyRequests).toBe(4529)
  })

  // ---- the same codes, caused for real ----------------------------------------------------

  it('for real: too many docs (4529) is retried by the stock provider until a slot frees', async () => {
    const server = await start({ maxDocs: 1, unloadAfterMs: 100 })
    const first = stock(server, 'first')
    await synced(first)
    const second = stock(server, 'second')
    const closes: number[] = []
    second.provider.on('connection-close', e => { if (e != null) closes.push(e.code) })
    await waitFor(() => closes.length >= 2, 'the second provider to be refused twice (it retries)')
    expect(new Set(closes)).toEqual(new Set([CloseCode.tooManyRequests]))
    first.destroy()
    await waitFor(() => second.provider.synced, 'the second provider to get in once the first doc unloads')
    expect(second.stoppedWith).toBeNull()
  })

  it('for real: a malformed message (4400) and an expired token (4401) stop the stock provider', async () => {
    const server = await start({ auth: { secret: SECRET } })
    const bad = stock(server, 'bad', { token: await hsToken({ docs: '*', access: 'write' }) })
    const expiring = stock(server, 'expiring', { token: await hsToken({ docs: '*', access: 'write' }, 2) })
    await synced(bad, expiring)
    bad.provider.ws!.send(new Uint8Array([0, 2, 0x80])) // an update whose length varint is cut off
    await waitFor(() => bad.stoppedWith === CloseCode.malformed && expiring.stoppedWith === CloseCode.unauthorized, 'both to stop', 5000)
    await sleep(STAYS_AWAY_MS)
    expect([bad.connects, expiring.connects]).toEqual([1, 1])
  })
})
