/**
 * Network chaos: editors behind a proxy whose behaviour changes at random (upgrades refused or
 * allowed, event streams blocked, buffered or passed, every connection cut) keep typing while
 * their providers fall back, probe back up and reconnect. Afterwards every editor and the
 * stored doc equal a reference built from every edit, and every edit's token appears once.
 * Seeded: a failure prints its seed; replay with SEED=<n>.
 */
import { afterEach, describe, expect, it } from 'vitest'
import * as Y from 'yjs'
import WebSocket from 'ws'
import { startServer, tempDir, type TestServer } from '../helpers/server.js'
import { startProxy, type HostileProxy } from '../helpers/hostile-proxy.js'
import { sleep, waitFor } from '../helpers/wait.js'
import { rng } from '../helpers/random.js'
import { leveldbStorage } from '../../server/storage/leveldb.js'
import { WeftProvider } from '../../client/index.js'

describe('network chaos', { timeout: 120_000 }, () => {
  const dir = tempDir()
  let server: TestServer | null = null
  let proxy: HostileProxy | null = null
  const providers: WeftProvider[] = []

  afterEach(async () => {
    for (const p of providers.splice(0)) p.destroy()
    await proxy?.close()
    await server?.close()
    dir.remove()
  })

  it('editors typing through random tier changes and cuts lose nothing and duplicate nothing', async () => {
    const r = rng(Number(process.env.SEED ?? 42))
    server = await startServer({ storage: leveldbStorage(dir.path) })
    proxy = await startProxy(server.port, { upgrades: true, sse: true })
    const reference = new Y.Doc()
    const editors = Array.from({ length: 4 }, (_, i) => {
      const doc = new Y.Doc()
      const provider = new WeftProvider(proxy!.url, 'chaos', doc, {
        WebSocketPolyfill: WebSocket as unknown as typeof globalThis.WebSocket,
        maxBackoffTime: 300,
        openTimeoutMs: 1500,
        probeAfterMs: 400,
        maxProbeAfterMs: 1600,
        cutWindowMs: 3000,
        maxCuts: 2,
        pollTimeoutS: 2
      })
      providers.push(provider)
      doc.on('update', (u: Uint8Array, origin: unknown) => { if (origin !== provider) Y.applyUpdate(reference, u) })
      return { name: `e${i}`, doc, provider, text: doc.getText('text') }
    })
    await waitFor(() => editors.every(e => e.provider.synced), 'everyone to sync', 20_000)

    const tokens: string[] = []
    const seen = new Set<string>()
    let typing = true
    const typist = (async () => {
      for (let i = 0; typing && i < 5000; i++) {
        const e = editors[r.int(editors.length)]!
        const token = `<${e.name}.${i}>`
        tokens.push(token)
        e.text.insert(r.int(3) === 0 ? 0 : e.text.length, token)
        await sleep(5 + r.int(15))
      }
    })()
    // Ten network changes, 300–900 ms apart. A change of network drops what was open; a
    // plain blip (roll 0) drops it and changes nothing else.
    for (let step = 0; step < 10; step++) {
      const roll = r.int(5)
      if (roll === 1) proxy.mode = { upgrades: false, sse: true }
      else if (roll === 2) proxy.mode = { upgrades: false, sse: false }
      else if (roll === 3) proxy.mode = { upgrades: false, sse: true, bufferSse: true }
      else if (roll === 4) proxy.mode = { upgrades: true, sse: true }
      proxy.cutAll()
      await sleep(300 + r.int(600))
      for (const e of editors) if (e.provider.transport != null) seen.add(e.provider.transport)
    }
    proxy.mode = { upgrades: true, sse: true }
    typing = false
    await typist

    const expected = (): string => reference.getText('text').toString()
    await waitFor(() => editors.every(e => e.provider.synced && e.text.toString() === expected()), `every editor to equal the reference (seed ${r.seed})`, 30_000)
    const h = await server.weft.openDoc('chaos')
    const stored = h.doc.getText('text').toString()
    await h.release()
    expect(stored, `seed ${r.seed}`).toBe(expected())
    for (const token of tokens) expect(stored.split(token).length - 1, `${token}, seed ${r.seed}`).toBe(1)
    expect(tokens.length).toBeGreaterThan(50)
    // The chaos did move editors between tiers (not only reconnects on one).
    expect(seen.size, `tiers seen: ${[...seen].join(', ')}, seed ${r.seed}`).toBeGreaterThan(1)
  })
})
