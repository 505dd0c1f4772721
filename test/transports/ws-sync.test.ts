import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import * as Y from 'yjs'
import { startServer, tempDir, type TestServer } from '../helpers/server.js'
import { stockClient, synced, type StockClient } from '../helpers/providers.js'
import { waitFor } from '../helpers/wait.js'
import { rng } from '../helpers/random.js'
import { leveldbStorage } from '../../server/storage/leveldb.js'

describe('stock y-websocket providers over WebSocket', () => {
  let dir: ReturnType<typeof tempDir>
  let server: TestServer
  const clients: StockClient[] = []
  const client = (name: string): StockClient => {
    const c = stockClient(server.wsUrl, name)
    clients.push(c)
    return c
  }

  beforeEach(async () => {
    dir = tempDir()
    server = await startServer({ storage: leveldbStorage(dir.path) })
  })
  afterEach(async () => {
    for (const c of clients.splice(0)) c.destroy()
    await server.close()
    dir.remove()
  })

  it('converge both ways, and a late joiner gets everything', async () => {
    const a = client('notes')
    const b = client('notes')
    await synced(a, b)
    a.text.insert(0, 'hello ')
    b.text.insert(0, 'world')
    await waitFor(() => a.text.toString() === b.text.toString() && a.text.length === 11, 'a and b to converge')
    b.doc.getMap('meta').set('title', 'T')
    await waitFor(() => a.doc.getMap('meta').get('title') === 'T', 'map change to reach a')

    const late = client('notes')
    await synced(late)
    await waitFor(() => late.text.toString() === a.text.toString(), 'late joiner to catch up')
    expect(late.doc.getMap('meta').toJSON()).toEqual({ title: 'T' })
  })

  it('keeps docs apart by name, including percent-encoded names', async () => {
    const a = client('team/a b')
    const b = client('team/other')
    await synced(a, b)
    a.text.insert(0, 'only in a')
    const a2 = client('team/a b')
    await waitFor(() => a2.text.toString() === 'only in a', 'same-name client to see the edit')
    expect(b.text.toString()).toBe('')
  })

  it('propagates awareness and removes it when the client closes', async () => {
    const a = client('aw')
    const b = client('aw')
    await synced(a, b)
    a.provider.awareness.setLocalStateField('user', { name: 'Ada' })
    const aId = a.doc.clientID
    await waitFor(() => (b.provider.awareness.getStates().get(aId) as any)?.user?.name === 'Ada', 'b to see a\'s presence')
    a.provider.destroy()
    await waitFor(() => !b.provider.awareness.getStates().has(aId), 'a\'s presence to be removed')
  })

  it('does not echo an update back to its sender', async () => {
    const a = client('echo')
    const b = client('echo')
    await synced(a, b)
    let received = 0
    const ws = (a.provider as any).ws as import('ws').WebSocket
    ws.addEventListener('message', () => { received++ })
    a.text.insert(0, 'x')
    await waitFor(() => b.text.toString() === 'x', 'b to get the edit')
    await new Promise(resolve => setTimeout(resolve, 100))
    expect(received).toBe(0)
  })

  it('echoes a client\'s own awareness back to it, so a stock provider alone in a doc is never silent for 30 s', async () => {
    const alone = client('alone')
    await synced(alone)
    const types: number[] = []
    const ws = (alone.provider as any).ws as import('ws').WebSocket
    ws.addEventListener('message', (e: any) => { types.push(new Uint8Array(e.data as ArrayBuffer)[0]!) })
    // What the provider does every 15 s (and on every change): send its own awareness state.
    alone.provider.awareness.setLocalStateField('user', { name: 'solo' })
    await waitFor(() => types.includes(1), 'the awareness renewal to come back')
  })

  it('twenty clients editing at random converge to identical text', async () => {
    const n = 20
    const cs = Array.from({ length: n }, () => client('crowd'))
    await synced(...cs)
    const r = rng(Number(process.env.SEED ?? 42))
    const rand = r.int
    for (let round = 0; round < 10; round++) {
      for (const c of cs) {
        const len = c.text.length
        if (len > 0 && rand(4) === 0) c.text.delete(rand(len), 1)
        else c.text.insert(rand(len + 1), String.fromCharCode(97 + rand(26)))
      }
      await new Promise(resolve => setTimeout(resolve, rand(20)))
    }
    await waitFor(() => cs.every(c => c.text.toString() === cs[0]!.text.toString()), 'all 20 clients to converge', 15_000)
    const reference = new Y.Doc()
    for (const c of cs) Y.applyUpdate(reference, Y.encodeStateAsUpdate(c.doc))
    expect(cs[0]!.text.toString()).toBe(reference.getText('text').toString())
    expect(cs[0]!.text.length, `seed ${r.seed}`).toBeGreaterThan(50)
  })
})
