import { describe, expect, it } from 'vitest'
import { createWeft } from '../../server/weft.js'
import { memoryStorage } from '../../server/storage/memory.js'
import { WeftOptionsError } from '../../server/options.js'
import type { UpdateEvent } from '../../server/weft.js'
import { cleanupAfterEach, startMounted, startServer, type TestServer } from '../helpers/server.js'
import { stockClient, synced, type StockClient } from '../helpers/providers.js'
import { waitFor } from '../helpers/wait.js'

describe('embedding API', () => {
  const cleanups = cleanupAfterEach()
  const serve = async (): Promise<TestServer> => {
    const s = await startServer({ storage: memoryStorage() })
    cleanups.push(() => s.close())
    return s
  }
  const client = (s: TestServer, doc: string): StockClient => {
    const c = stockClient(s.wsUrl, doc)
    cleanups.push(() => c.destroy())
    return c
  }

  it('openDoc(): server-side edits are stored, broadcast and reported as events', async () => {
    const s = await serve()
    const events: UpdateEvent[] = []
    s.weft.on('update', e => events.push(e))
    const c = client(s, 'server-edits')
    await synced(c)
    const handle = await s.weft.openDoc('server-edits')
    handle.doc.getText('text').insert(0, 'from the server')
    await handle.stored()
    await waitFor(() => c.text.toString() === 'from the server', 'client to receive the server edit')
    expect((await s.weft.context.options.storage.load('server-edits')).length).toBeGreaterThan(0)
    c.text.insert(0, '> ')
    await waitFor(() => handle.doc.getText('text').toString() === '> from the server', 'handle to receive the client edit')
    expect(events.map(e => e.doc)).toEqual(['server-edits', 'server-edits'])
    expect(events[1]!.seq).toBeGreaterThan(events[0]!.seq)
    await handle.release()
    await handle.release()
  })

  it('routes mount in an Express app under a prefix, and attach() leaves the app its requests', async () => {
    const s = await startMounted({ storage: memoryStorage() }, '/collab', app => { app.get('/', (_req, res) => { res.send('my app') }) })
    cleanups.push(() => s.close())
    const base = s.url
    expect(await (await fetch(`${base}/`)).text()).toBe('my app')
    expect(await (await fetch(`${base}/collab/healthz`)).text()).toBe('ok\n')
    const c = stockClient(base.replace('http', 'ws'), 'mounted')
    cleanups.push(() => c.destroy())
    await synced(c)
  })

  it('validates options with a message that names the option', async () => {
    await expect(createWeft({ storage: memoryStorage(), unloadAfterMs: -1 })).rejects.toThrow(/unloadAfterMs/)
    await expect(createWeft({ storage: memoryStorage(), pingIntervalMs: 'soon' as unknown as number })).rejects.toThrow(WeftOptionsError)
    await expect(createWeft({ storage: memoryStorage(), nope: 1 } as never)).rejects.toThrow(/unknown option "nope"/)
    await expect(createWeft({ storage: {} as never })).rejects.toThrow(/storage/)
  })

  it('close() is idempotent and tells connected clients 1012', async () => {
    const s = await serve()
    const c = client(s, 'bye')
    await synced(c)
    const code = new Promise<number>(resolve => c.provider.on('connection-close', (e: any) => resolve(e?.code)))
    await Promise.all([s.weft.close(), s.weft.close()])
    expect(await code).toBe(1012)
    expect(s.weft.stats().docsLoaded).toBe(0)
  })

  it('/healthz and /readyz answer', async () => {
    const s = await serve()
    expect((await fetch(`${s.url}/healthz`)).status).toBe(200)
    const ready = await fetch(`${s.url}/readyz`)
    expect(ready.status).toBe(200)
    expect((await fetch(`${s.url}/metrics`)).headers.get('content-type')).toMatch(/text\/plain/)
  })
})
