/**
 * The server dies mid-edit (every socket cut at once, no close frames) and comes back on the
 * same port with the same LevelDB directory. Editors on every tier keep typing throughout.
 * Afterwards every editor, and the stored doc, must equal a reference doc built from every
 * edit anyone made: nothing lost, and every edit's token appears exactly once.
 */
import { afterEach, describe, expect, it } from 'vitest'
import type { Socket } from 'node:net'
import * as Y from 'yjs'
import WebSocket from 'ws'
import { startServer, tempDir, type TestServer } from '../helpers/server.js'
import { stockClient, type StockClient } from '../helpers/providers.js'
import { sleep, waitFor as waitUntil } from '../helpers/wait.js'

// A shared 2-core machine can be slow: generous waits (they end as soon as the condition holds).
const waitFor = (check: () => boolean | Promise<boolean>, what: string, timeoutMs = 20_000): Promise<void> => waitUntil(check, what, timeoutMs)
import { leveldbStorage } from '../../server/storage/leveldb.js'
import { WeftProvider, type TransportName } from '../../client/index.js'

describe('server killed and restarted mid-edit', { timeout: 90_000 }, () => {
  const dir = tempDir()
  let server: TestServer | null = null
  const providers: WeftProvider[] = []
  const stocks: StockClient[] = []

  afterEach(async () => {
    for (const p of providers.splice(0)) p.destroy()
    for (const s of stocks.splice(0)) s.destroy()
    await server?.close()
    dir.remove()
  })

  async function boot (port: number): Promise<TestServer> {
    const s = await startServer({ storage: leveldbStorage(dir.path) }, port)
    const sockets = new Set<Socket>()
    s.http.on('connection', (sock: Socket) => { sockets.add(sock); sock.once('close', () => sockets.delete(sock)) })
    ;(s as TestServer & { kill: () => Promise<void> }).kill = async () => {
      // A crash as the clients see it: every connection (WebSocket, SSE, held polls) dropped
      // without a close frame or a response. (In-process, storage is then closed cleanly so the
      // same directory can be reopened; SIGKILL durability is covered by the persistence suite.)
      for (const sock of sockets) sock.destroy()
      await s.close()
    }
    return s
  }

  it('loses no edit and duplicates none, on every tier', async () => {
    server = await boot(0)
    const port = server.port
    const url = server.url
    const reference = new Y.Doc()
    const tiers: TransportName[] = ['websocket', 'sse', 'poll']
    const editors = tiers.map(tier => {
      const doc = new Y.Doc()
      const provider = new WeftProvider(url, 'crash', doc, {
        transports: [tier],
        WebSocketPolyfill: WebSocket as unknown as typeof globalThis.WebSocket,
        maxBackoffTime: 400,
        pollTimeoutS: 5
      })
      providers.push(provider)
      return { name: tier, doc, provider }
    })
    const stock = stockClient(server.wsUrl, 'crash')
    stocks.push(stock)
    const all = [...editors.map(e => ({ name: e.name, doc: e.doc, origin: e.provider as unknown })), { name: 'stock', doc: stock.doc, origin: stock.provider as unknown }]
    // The reference gets every local edit of every editor, straight from the source.
    for (const e of all) e.doc.on('update', (u: Uint8Array, origin: unknown) => { if (origin !== e.origin) Y.applyUpdate(reference, u) })
    await waitFor(() => editors.every(e => e.provider.synced) && stock.provider.synced, 'everyone to sync')

    let n = 0
    let typing = true
    const tokens: string[] = []
    const typist = (async () => {
      for (let i = 0; typing && i < 10_000; i++) {
        for (const e of all) {
          const text = e.doc.getText('text')
          const token = `<${e.name}:${n++}>`
          tokens.push(token)
          text.insert(i % 3 === 0 ? 0 : text.length, token)
        }
        await sleep(15)
      }
    })()

    await sleep(500)
    await (server as TestServer & { kill: () => Promise<void> }).kill()
    await sleep(400) // typing goes on while the server is down
    server = await boot(port)
    await waitFor(() => editors.every(e => e.provider.synced) && stock.provider.synced, 'everyone to reconnect to the restarted server', 20_000)
    await sleep(500)
    typing = false
    await typist

    const expected = reference.getText('text').toString()
    await waitFor(() => all.every(e => e.doc.getText('text').toString() === expected), 'every editor to equal the reference', 20_000)
    const h = await server.weft.openDoc('crash')
    const stored = h.doc.getText('text').toString()
    await h.release()
    expect(stored).toBe(expected)
    expect(tokens.length).toBeGreaterThan(40)
    for (const token of tokens) expect(stored.split(token).length - 1, token).toBe(1)
    expect(stored.length).toBe(tokens.reduce((sum, t) => sum + t.length, 0))
  }, 90_000)
})
