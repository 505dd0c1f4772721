import { describe, expect, it } from 'vitest'
import * as Y from 'yjs'
import { Level } from 'level'
import { synced } from '../helpers/providers.js'
import { waitFor } from '../helpers/wait.js'
import { startChildServer } from '../helpers/child-server.js'
import { leveldbFixture } from '../helpers/leveldb-fixture.js'

describe('persistence and document lifecycle (LevelDB)', () => {
  const { cleanups, dir, server, client } = leveldbFixture()

  it('keeps everything across a restart on the same data dir', async () => {
    const path = dir()
    const s1 = await server(path)
    const a = client(s1, 'kept')
    await synced(a)
    a.text.insert(0, 'survives restarts')
    a.doc.getMap('m').set('k', 1)
    await waitFor(async () => s1.weft.context.registry.get('kept')?.ydoc.getText('text').toString() === 'survives restarts', 'server to store the edit')
    a.destroy()
    await s1.close()

    const s2 = await server(path)
    const b = client(s2, 'kept')
    await synced(b)
    expect(b.text.toString()).toBe('survives restarts')
    expect(b.doc.getMap('m').get('k')).toBe(1)
  })

  it('a client that inserts INIT only into an empty doc finds a stored doc non-empty', async () => {
    const path = dir()
    const s1 = await server(path)
    const first = client(s1, 'init')
    await synced(first)
    if (first.text.length === 0) first.text.insert(0, 'INIT')
    await waitFor(() => s1.weft.context.registry.get('init')?.ydoc.getText('text').toString() === 'INIT', 'INIT to be stored')
    first.destroy()
    await s1.close()

    // After a restart the doc is cold: the server must finish loading before it syncs anyone,
    // or the client would see an empty doc and insert INIT a second time.
    const s2 = await server(path)
    const second = client(s2, 'init')
    second.provider.once('sync', () => {
      if (second.text.length === 0) second.text.insert(0, 'INIT')
    })
    await synced(second)
    await new Promise(resolve => setTimeout(resolve, 100))
    expect(second.text.toString()).toBe('INIT')
    expect(s2.weft.context.registry.get('init')!.ydoc.getText('text').toString()).toBe('INIT')
  })

  it('30 simultaneous connections to a cold doc load it once and all see it', async () => {
    const path = dir()
    const s1 = await server(path)
    const w = client(s1, 'cold')
    await synced(w)
    w.text.insert(0, 'cold content')
    await waitFor(() => s1.weft.context.registry.get('cold')?.ydoc.getText('text').length === 12, 'write stored')
    w.destroy()
    await s1.close()

    const s2 = await server(path)
    expect(s2.weft.context.registry.loads).toBe(0)
    const crowd = Array.from({ length: 30 }, () => client(s2, 'cold'))
    await synced(...crowd)
    expect(s2.weft.context.registry.loads).toBe(1)
    for (const c of crowd) expect(c.text.toString()).toBe('cold content')
  })

  it('compacts the stored log in the background and still loads the same doc', async () => {
    const path = dir()
    const s1 = await server(path, { compactAfterRecords: 20 })
    const a = client(s1, 'compact')
    await synced(a)
    for (let i = 0; i < 100; i++) a.text.insert(a.text.length, String(i % 10))
    await waitFor(() => s1.weft.context.registry.get('compact')?.ydoc.getText('text').length === 100, 'all edits stored')
    const doc = s1.weft.context.registry.get('compact')!
    await doc.flushed()
    await doc.compact()
    const records = await s1.weft.context.options.storage.load('compact')
    expect(records.length).toBeLessThan(20)
    const rebuilt = new Y.Doc()
    for (const r of records) Y.applyUpdate(rebuilt, r.update)
    expect(rebuilt.getText('text').toString()).toBe(a.text.toString())
  })

  it('quarantines a stored record that does not decode and loads the rest', async () => {
    const path = dir()
    const s1 = await server(path)
    const a = client(s1, 'q')
    await synced(a)
    a.text.insert(0, 'good')
    await waitFor(() => s1.weft.context.registry.get('q')?.ydoc.getText('text').toString() === 'good', 'stored')
    a.destroy()
    await s1.close()

    const db = new Level<string, Uint8Array>(path, { keyEncoding: 'utf8', valueEncoding: 'view' })
    const badKey = `u\u0000q\u000000000000000001`
    await db.put(badKey, new Uint8Array([255, 255, 255, 255, 1, 2, 3]))
    await db.close()

    const s2 = await server(path)
    const b = client(s2, 'q')
    await synced(b)
    expect(b.text.toString()).toBe('good')
    await s2.close()
    const check = new Level<string, Uint8Array>(path, { keyEncoding: 'utf8', valueEncoding: 'view' })
    const keys: string[] = []
    for await (const k of check.keys()) keys.push(k)
    await check.close()
    expect(keys).toContain(`q\u0000q\u000000000000000001`)
    expect(keys).not.toContain(badKey)
  })

  it('unloads a doc after its last peer left for unloadAfterMs, and reloads it on demand', async () => {
    const path = dir()
    const s = await server(path, { unloadAfterMs: 50 })
    const a = client(s, 'idle')
    await synced(a)
    a.text.insert(0, 'x')
    await waitFor(() => s.weft.context.registry.get('idle')?.ydoc.getText('text').length === 1, 'stored')
    a.destroy()
    await waitFor(() => s.weft.context.registry.size === 0, 'doc to unload')
    const b = client(s, 'idle')
    await synced(b)
    expect(b.text.toString()).toBe('x')
    expect(s.weft.context.registry.loads).toBe(2)
  })

  it('loses no update a peer observed when the server process is SIGKILLed', async () => {
    const path = dir()
    const child = await startChildServer(['--data', path])
    cleanups.push(() => { child.proc.kill('SIGKILL') })
    const writer = client(child, 'kill')
    const watcher = client(child, 'kill')
    await synced(writer, watcher)
    const n = 200
    const seen = watcher.doc.getArray<number>('log')
    for (let i = 0; i < n; i++) {
      writer.doc.getArray<number>('log').push([i])
      if (i % 20 === 0) await new Promise(resolve => setTimeout(resolve, 5))
    }
    await waitFor(() => seen.length >= n / 2, 'the watcher to observe updates')
    const observed = seen.toArray()
    child.proc.kill('SIGKILL')
    await child.exited
    writer.destroy()
    watcher.destroy()

    const again = await startChildServer(['--data', path])
    cleanups.push(() => { again.proc.kill('SIGKILL') })
    const reader = client(again, 'kill')
    await synced(reader)
    const stored = reader.doc.getArray<number>('log').toArray()
    for (const v of observed) expect(stored).toContain(v)
    expect(stored.length).toBeGreaterThanOrEqual(observed.length)
  })
})
