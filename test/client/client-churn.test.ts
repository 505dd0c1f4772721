/**
 * Opening and destroying many providers on every tier leaves nothing behind: no timers or
 * sockets in the client process, no peers, sessions or pending polls on the server.
 */
import { afterEach, describe, expect, it } from 'vitest'
import * as Y from 'yjs'
import WebSocket from 'ws'
import { startServer, type TestServer } from '../helpers/server.js'
import { sleep, waitFor as waitUntil } from '../helpers/wait.js'
import { memoryStorage } from '../../server/storage/memory.js'
import { WeftProvider, type TransportName } from '../../client/index.js'

const waitFor = (check: () => boolean | Promise<boolean>, what: string, timeoutMs = 20_000): Promise<void> => waitUntil(check, what, timeoutMs)
const count = (kind: string): number => process.getActiveResourcesInfo().filter(r => r === kind).length

describe('provider churn', { timeout: 120_000 }, () => {
  let server: TestServer
  afterEach(async () => { await server.close() })

  it('90 providers opened and destroyed (30 per tier) leave no timers, sockets, peers or sessions', async () => {
    server = await startServer({ storage: memoryStorage(), httpSessionIdleMs: 500, unloadAfterMs: 200 })
    const metric = async (name: string): Promise<number> => Number(new RegExp(`^weft_${name} (\\d+)`, 'm').exec(await server.weft.context.metrics.render())?.[1] ?? 0)
    // Warm up once per tier so lazily created module-level things exist before the baseline.
    const run = async (n: number): Promise<void> => {
      for (const tier of ['websocket', 'sse', 'poll'] as TransportName[]) {
        const batch = Array.from({ length: n }, (_, i) => {
          const doc = new Y.Doc()
          const p = new WeftProvider(server.url, `churn-${i % 5}`, doc, { transports: [tier], WebSocketPolyfill: WebSocket as unknown as typeof globalThis.WebSocket, pollTimeoutS: 5 })
          p.awareness.setLocalStateField('user', { i })
          doc.getText('t').insert(0, `${tier}${i}`)
          return { doc, p }
        })
        await waitFor(() => batch.every(b => b.p.synced), `${n} ${tier} providers to sync`)
        for (const b of batch) { b.p.destroy(); b.doc.destroy() }
      }
    }
    await run(2)
    await waitFor(async () => server.weft.stats().peers === 0 && await metric('http_sessions') === 0, 'the warm-up to drain')
    await sleep(300)
    const timers = count('Timeout')
    const sockets = count('TCPSocketWrap')
    await run(30)
    await waitFor(async () => server.weft.stats().peers === 0 && await metric('http_sessions') === 0 && await metric('polls_pending') === 0, 'every peer, session and poll to go')
    await waitFor(() => count('TCPSocketWrap') <= sockets + 2, 'client and server sockets to close')
    await waitFor(() => count('Timeout') <= timers + 2, 'timers to be cleared')
    await waitFor(() => server.weft.context.registry.size === 0, 'the docs to unload')
    const h = await server.weft.openDoc('churn-0')
    expect(h.doc.getText('t').length).toBeGreaterThan(0)
    await h.release()
  })
})
