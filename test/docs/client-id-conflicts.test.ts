/**
 * Two Y.Docs writing under the same Yjs client id (issue 12, defect 11), against a real server on
 * LevelDB with the stock provider: the second doc is closed with 4409 (HTTP 409) and nothing of
 * it is stored, whether it has more, as many or fewer clocks of that id than the server, or races
 * the first through the write pipeline; relays of the same structs and returning writers pass.
 */
import { describe, expect, it } from 'vitest'
import * as Y from 'yjs'
import WebSocket from 'ws'
import { WebsocketProvider } from 'y-websocket'
import type { TestServer } from '../helpers/server.js'
import { synced, type StockClient } from '../helpers/providers.js'
import { sleep, waitFor } from '../helpers/wait.js'
import { leveldbFixture } from '../helpers/leveldb-fixture.js'
import { CloseCode } from '../../shared/close-codes.js'

describe('two docs with the same Yjs client id', () => {
  const { cleanups, dir, server, client } = leveldbFixture()
  const post = async (s: TestServer, name: string, update: Uint8Array): Promise<number> => {
    const res = await fetch(`${s.url}/docs/${name}/updates`, { method: 'POST', headers: { 'content-type': 'application/octet-stream' }, body: update as Uint8Array<ArrayBuffer> })
    await res.arrayBuffer()
    return res.status
  }
  const ydocOf = (s: TestServer, name: string): Y.Doc => s.weft.context.registry.get(name)!.ydoc
  const metric = (s: TestServer): number => s.weft.context.metrics.get('client_id_conflicts_total')

  /** The stock provider over a doc forced to client id 4242 (before the provider reads it). */
  const twin = (s: TestServer, name: string): StockClient => {
    const doc = new Y.Doc()
    doc.clientID = 4242
    const provider = new WebsocketProvider(s.wsUrl, name, doc, { WebSocketPolyfill: WebSocket as unknown as typeof globalThis.WebSocket, disableBc: true, connect: false, maxBackoffTime: 500 })
    cleanups.push(() => {
      // Twins share an awareness id too: one's removal can delete the other's own awareness
      // entry, and the stock provider's destroy then throws reading it. Not what is tested here.
      try { provider.destroy() } catch {}
      doc.destroy()
    })
    return { doc, provider, text: doc.getText('text'), destroy () {} }
  }

  it('the second is closed with 4409; the stored and served text stays the first writer\'s', async () => {
    const path = dir()
    const s = await server(path)
    const a = twin(s, 'twins')
    const b = twin(s, 'twins')
    a.provider.connect()
    await synced(a)
    a.text.insert(0, 'from A')
    await waitFor(() => ydocOf(s, 'twins').getText('text').toString() === 'from A', 'A stored')
    const closes: number[] = []
    b.provider.on('connection-close', (e: CloseEvent | null) => { if (e != null) closes.push(e.code) })
    b.text.insert(0, 'from B')
    b.provider.connect()
    await waitFor(() => closes.length > 0, 'B to be closed')
    expect(closes[0]).toBe(CloseCode.clientIdConflict)
    // B keeps typing offline (its provider stopped: 4409 is permanent); A carries on.
    b.text.insert(b.text.length, '??')
    a.text.insert(a.text.length, '!!')
    await waitFor(() => ydocOf(s, 'twins').getText('text').toString() === 'from A!!', 'A\'s second edit stored')
    await sleep(200)
    expect(ydocOf(s, 'twins').getText('text').toString()).toBe('from A!!')
    expect(closes).toEqual([CloseCode.clientIdConflict])
    expect(metric(s)).toBe(1)
    const view = await (await fetch(`${s.url}/docs/twins`)).json() as { content: { text: string } }
    expect(view.content.text).toBe('from A!!')
    await s.close()
    const again = await server(path)
    const reader = client(again, 'twins')
    await synced(reader)
    expect(reader.text.toString()).toBe('from A!!')
  })

  it('a twin with fewer edits is caught when it connects, before it takes A\'s clocks as its own', async () => {
    const s = await server()
    const a = twin(s, 'short-twin')
    const b = twin(s, 'short-twin')
    a.provider.connect()
    await synced(a)
    a.text.insert(0, 'from A')
    await waitFor(() => ydocOf(s, 'short-twin').getText('text').toString() === 'from A', 'A stored')
    const closes: number[] = []
    b.provider.on('connection-close', (e: CloseEvent | null) => { if (e != null) closes.push(e.code) })
    // B has one clock of 4242, the server six: B sends none of them, and would take A's
    // "rom A" as the rest of its own text. The server asks for B's last one first.
    b.text.insert(0, 'B')
    b.provider.connect()
    await waitFor(() => closes.length > 0, 'B to be closed')
    b.text.insert(1, '?')
    a.text.insert(a.text.length, '!')
    await waitFor(() => ydocOf(s, 'short-twin').getText('text').toString() === 'from A!', 'A\'s edit stored')
    await sleep(200)
    expect(closes).toEqual([CloseCode.clientIdConflict])
    expect(ydocOf(s, 'short-twin').getText('text').toString()).toBe('from A!')
    expect(metric(s)).toBe(1)
  })

  it('a returning writer answers the one-short step1 without anything being stored', async () => {
    const s = await server()
    const a = client(s, 'returning')
    await synced(a)
    a.text.insert(0, 'typed once')
    a.doc.getMap('m').set('k', 1)
    await waitFor(() => ydocOf(s, 'returning').getText('text').length === 10, 'the edits stored')
    const shared = s.weft.context.registry.get('returning')!
    await shared.flushed()
    const seq = shared.seq
    for (let i = 0; i < 3; i++) {
      a.provider.disconnect()
      a.provider.connect()
      await synced(a)
      await sleep(50)
      await shared.flushed()
    }
    expect(shared.seq).toBe(seq)
    expect(metric(s)).toBe(0)
  })

  it('two conflicting POSTs at once (both in the write pipeline): exactly one is stored, the other 409', async () => {
    const s = await server()
    for (let round = 0; round < 5; round++) {
      const name = `race-${round}`
      const updates = ['first', 'second'].map(text => {
        const d = new Y.Doc()
        d.clientID = 777
        d.getText('text').insert(0, text)
        return Y.encodeStateAsUpdate(d)
      })
      const statuses = await Promise.all(updates.map(u => post(s, name, u)))
      expect(statuses.slice().sort()).toEqual([204, 409])
      const stored = ydocOf(s, name).getText('text').toString()
      expect(stored).toBe(statuses[0] === 204 ? 'first' : 'second')
    }
    expect(metric(s)).toBe(5)
  })

  it('relays are no conflict: full states of docs with splits, merges, deletions, formats, maps, XML, emoji', async () => {
    const s = await server()
    const a = client(s, 'relay')
    const b = client(s, 'relay')
    await synced(a, b)
    // Edits that make the two sides split and merge items differently.
    a.text.insert(0, 'hello 👋 world')
    await waitFor(() => b.text.length === a.text.length, 'b to catch up')
    b.text.insert(7, 'big ')
    b.text.format(0, 5, { bold: true })
    a.text.delete(2, 5)
    a.text.insertEmbed(0, { image: 'x.png' })
    a.doc.getMap('m').set('k', { n: 1, list: [1, 'two', null] })
    a.doc.getMap('m').set('k', 2)
    b.doc.getArray('arr').insert(0, [1, 2, 3, new Uint8Array([1, 2])])
    const el = new Y.XmlElement('p')
    el.insert(0, [new Y.XmlText('para')])
    b.doc.getXmlFragment('xml').insert(0, [el])
    a.doc.getMap('m').set('sub', new Y.Map())
    await waitFor(() => Y.encodeStateVector(a.doc).toString() === Y.encodeStateVector(b.doc).toString(), 'a and b to converge')
    await s.weft.context.registry.get('relay')!.flushed()
    // A copy of b's doc under another client id, without garbage collection (deleted content kept).
    const keeper = new Y.Doc({ gc: false })
    Y.applyUpdate(keeper, Y.encodeStateAsUpdate(b.doc))
    for (const d of [a.doc, b.doc, keeper]) {
      expect(await post(s, 'relay', Y.encodeStateAsUpdate(d))).toBe(204)
      expect(await post(s, 'relay', Y.encodeStateAsUpdate(d, Y.encodeStateVector(new Y.Doc())))).toBe(204)
    }
    // A stock provider that reconnects sends its whole state in step2 for a fresh server doc too.
    a.provider.disconnect()
    a.provider.connect()
    await synced(a)
    expect(metric(s)).toBe(0)
    expect(a.provider.wsconnected && b.provider.wsconnected).toBe(true)
  })
})
