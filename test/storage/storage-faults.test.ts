/**
 * A failing disk: writes that fail make the doc read-only (writers closed with 4500, nothing
 * applied or broadcast, /readyz 503, POST never 204), readers stay; when writes succeed again
 * the writers' reconnect stores what failed and everything recovers.
 */
import { afterEach, describe, expect, it } from 'vitest'
import * as Y from 'yjs'
import { startServer, type TestServer } from '../helpers/server.js'
import { stockClient, synced, type StockClient } from '../helpers/providers.js'
import { faultyStorage, type FaultyStorage } from '../helpers/faulty-storage.js'
import { rawPeer } from '../helpers/raw-ws.js'
import { waitFor, sleep } from '../helpers/wait.js'
import { memoryStorage } from '../../server/storage/memory.js'
import { CloseCode } from '../../shared/close-codes.js'
import { encodeSyncUpdate } from '../../shared/protocol.js'

const update = (text: string): Uint8Array => {
  const d = new Y.Doc()
  d.getText('text').insert(0, text)
  return Y.encodeStateAsUpdate(d)
}

describe('storage faults', () => {
  let server: TestServer
  let storage: FaultyStorage
  const clients: StockClient[] = []
  afterEach(async () => {
    for (const c of clients.splice(0)) c.destroy()
    storage.failWrites = false
    await server.close()
  })

  const readyz = async (): Promise<number> => (await fetch(`${server.url}/readyz`)).status
  const post = async (doc: string, body: Uint8Array): Promise<number> => {
    const res = await fetch(`${server.url}/docs/${doc}/updates`, { method: 'POST', body: Buffer.from(body), headers: { 'content-type': 'application/octet-stream' } })
    await res.arrayBuffer()
    return res.status
  }

  it('goes read-only on a failed write (4500 for writers, /readyz 503, no 204) and recovers', async () => {
    storage = faultyStorage(memoryStorage())
    server = await startServer({
      storage,
      // Readers come with ?role=read; everyone else writes.
      authenticate: req => ({ access: (req.url ?? '').includes('role=read') ? 'read' : 'write' })
    })
    const writer = stockClient(server.wsUrl, 'disk')
    const reader = stockClient(server.wsUrl, 'disk', { params: { role: 'read' } })
    clients.push(writer, reader)
    await synced(writer, reader)
    writer.text.insert(0, 'stored. ')
    await waitFor(() => reader.text.toString() === 'stored. ', 'first edit to reach the reader')
    expect(await readyz()).toBe(200)
    const shared = server.weft.context.registry.get('disk')!
    const recordsBefore = (await storage.load('disk')).length

    storage.failWrites = true
    const closes: number[] = []
    writer.provider.on('connection-close', (e: { code: number } | null) => { if (e != null) closes.push(e.code) })
    writer.text.insert(writer.text.length, 'lost?')
    await waitFor(() => closes.includes(CloseCode.storageFailed), 'the writer to be closed with 4500')
    expect(shared.failed).not.toBeNull()
    expect(await readyz()).toBe(503)
    // Nothing of the failed write was applied, broadcast or stored.
    expect(shared.ydoc.getText('text').toString()).toBe('stored. ')
    await sleep(200)
    expect(reader.text.toString()).toBe('stored. ')
    expect((await storage.load('disk')).length).toBe(recordsBefore)
    // A raw writer is closed with 4500 too; the reader stays connected throughout.
    const raw = await rawPeer(`${server.wsUrl}/disk`)
    raw.send(encodeSyncUpdate(update('raw ')))
    expect((await raw.closed).code).toBe(CloseCode.storageFailed)
    expect(reader.provider.wsconnected).toBe(true)
    // POST is never answered 204 for an update that was not stored.
    expect(await post('disk', update('post '))).toBe(503)
    expect(shared.ydoc.getText('text').toString()).toBe('stored. ')
    expect(storage.failedWrites).toBeGreaterThanOrEqual(3)

    // The disk has room again: the writer's reconnect resyncs and stores what failed.
    storage.failWrites = false
    await waitFor(() => shared.ydoc.getText('text').toString() === 'stored. lost?', 'the failed edit to be stored on reconnect', 20_000)
    await waitFor(() => reader.text.toString() === 'stored. lost?', 'the reader to see it')
    expect(shared.failed).toBeNull()
    expect(await readyz()).toBe(200)
    expect(await post('disk', update('post '))).toBe(204)
    const stored = new Y.Doc()
    for (const r of await storage.load('disk')) Y.applyUpdate(stored, r.update)
    expect(stored.getText('text').toString()).toContain('stored. lost?')
    expect(stored.getText('text').toString()).toContain('post ')
  })

  it('a failed compaction loses nothing: the log stays and the next one succeeds', async () => {
    storage = faultyStorage(memoryStorage())
    server = await startServer({ storage, compactAfterRecords: 5 })
    const writer = stockClient(server.wsUrl, 'compact')
    clients.push(writer)
    await synced(writer)
    // Fail only replace(): appends go through, compaction fails.
    const replace = storage.replace.bind(storage)
    let failReplace = true
    storage.replace = async (...a) => { if (failReplace) throw new Error('ENOSPC'); return await replace(...a) }
    for (let i = 0; i < 12; i++) { writer.text.insert(0, `${i % 10}`); await sleep(5) }
    await waitFor(async () => (await storage.load('compact')).length >= 12, 'all records stored')
    expect(await readyz()).toBe(200) // compaction failing is not a write failure
    failReplace = false
    for (let i = 0; i < 6; i++) { writer.text.insert(0, 'x'); await sleep(5) }
    await waitFor(async () => (await storage.load('compact')).length < 10, 'compaction to succeed')
    const d = new Y.Doc()
    for (const r of await storage.load('compact')) Y.applyUpdate(d, r.update)
    expect(d.getText('text').toString()).toBe(writer.text.toString())
  })
})
