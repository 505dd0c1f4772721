import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import * as Y from 'yjs'
import * as encoding from 'lib0/encoding'
import { startServer, type TestServer } from '../helpers/server.js'
import { stockClient, synced, type StockClient } from '../helpers/providers.js'
import { rawPeer, upgradeStatus } from '../helpers/raw-ws.js'
import { waitFor } from '../helpers/wait.js'
import { memoryStorage } from '../../server/storage/memory.js'
import { CloseCode } from '../../shared/close-codes.js'
import { encodeSyncUpdate, encodeSyncStep1 } from '../../shared/protocol.js'

describe('bad input over WebSocket', () => {
  let server: TestServer
  let editor: StockClient
  const maxMessageBytes = 64 * 1024

  beforeEach(async () => {
    server = await startServer({ storage: memoryStorage(), maxMessageBytes })
    editor = stockClient(server.wsUrl, 'target')
    await synced(editor)
    editor.text.insert(0, 'untouched')
    await waitFor(() => server.weft.context.registry.get('target')?.ydoc.getText('text').length === 9, 'baseline stored')
  })
  afterEach(async () => {
    editor.destroy()
    await server.close()
  })

  const state = (): Uint8Array => Y.encodeStateAsUpdate(server.weft.context.registry.get('target')!.ydoc)

  const validUpdate = (): Uint8Array => {
    const d = new Y.Doc()
    d.getText('text').insert(0, 'x')
    return Y.encodeStateAsUpdate(d)
  }

  const cases: Array<[string, () => Uint8Array | string, number]> = [
    ['a text frame', () => 'hello', CloseCode.malformed],
    ['an unknown message type', () => new Uint8Array([42, 0]), CloseCode.malformed],
    ['an unknown sync sub-type', () => new Uint8Array([0, 9, 0]), CloseCode.malformed],
    ['a truncated varint', () => new Uint8Array([0, 0x80]), CloseCode.malformed],
    ['a payload length past the end', () => new Uint8Array([0, 2, 0xff, 0xff, 0xff, 0x0f, 1, 2]), CloseCode.malformed],
    ['trailing bytes', () => { const m = encodeSyncStep1(new Uint8Array([0])); return new Uint8Array([...m, 7]) }, CloseCode.malformed],
    ['an update that is not Yjs', () => encodeSyncUpdate(new Uint8Array([1, 2, 3, 4, 5, 6, 7])), CloseCode.malformed],
    ['a valid update with flipped bytes', () => { const u = validUpdate(); u[3] = u[3]! ^ 0xff; u[u.length - 3] = 0xff; return encodeSyncUpdate(u) }, CloseCode.malformed],
    ['an invalid state vector in step1', () => encodeSyncStep1(new Uint8Array([5, 0x80])), CloseCode.malformed],
    ['a malformed awareness update', () => { const e = encoding.createEncoder(); encoding.writeVarUint(e, 1); encoding.writeVarUint8Array(e, new Uint8Array([3, 1])); return encoding.toUint8Array(e) }, CloseCode.malformed],
    ['awareness with a non-JSON state', () => { const inner = encoding.createEncoder(); encoding.writeVarUint(inner, 1); encoding.writeVarUint(inner, 77); encoding.writeVarUint(inner, 1); encoding.writeVarString(inner, '{nope'); const e = encoding.createEncoder(); encoding.writeVarUint(e, 1); encoding.writeVarUint8Array(e, encoding.toUint8Array(inner)); return encoding.toUint8Array(e) }, CloseCode.malformed],
    ['a frame over maxMessageBytes', () => new Uint8Array(maxMessageBytes + 1), CloseCode.messageTooBig]
  ]

  for (const [what, frame, code] of cases) {
    it(`closes on ${what} with ${code}, leaving the doc and other clients alone`, async () => {
      const before = state()
      const peer = await rawPeer(`${server.wsUrl}/target`)
      peer.send(frame())
      const closed = await peer.closed
      expect(closed.code).toBe(code)
      expect(Buffer.from(state()).equals(Buffer.from(before))).toBe(true)
      // The well-behaved editor is still connected and still syncing.
      editor.text.insert(editor.text.length, '!')
      await waitFor(() => server.weft.context.registry.get('target')!.ydoc.getText('text').toString() === 'untouched!', 'editor to keep working')
      expect(editor.provider.wsconnected).toBe(true)
    })
  }

  it('answers a bad percent-encoding in the doc name with HTTP 400 before upgrading', async () => {
    expect(await upgradeStatus(`${server.wsUrl}/bad%E0%A4%A`)).toBe(400)
    expect(await upgradeStatus(`${server.wsUrl}/`)).toBe(400)
    expect(await upgradeStatus(`${server.wsUrl}/${'n'.repeat(600)}`)).toBe(400)
    expect(await upgradeStatus(`${server.wsUrl}/ok%2Fname`)).toBe(101)
  })
})

describe('connection churn', () => {
  it('opening and closing 1,000 connections leaves no docs, peers, timers or listeners behind', async () => {
    const server = await startServer({ storage: memoryStorage(), unloadAfterMs: 20 })
    try {
      const batch = 50
      for (let i = 0; i < 1000; i += batch) {
        const peers = await Promise.all(Array.from({ length: batch }, (_, j) => rawPeer(`${server.wsUrl}/churn-${(i + j) % 7}`)))
        for (const [j, p] of peers.entries()) {
          if (j % 2 === 0) p.ws.terminate() // abrupt
          else p.ws.close()
        }
        await Promise.all(peers.map(p => p.closed))
      }
      await waitFor(() => server.weft.stats().connections === 0, 'connections to drain')
      await waitFor(() => server.weft.stats().docsLoaded === 0, 'docs to unload')
      expect(server.weft.stats()).toMatchObject({ docsLoaded: 0, connections: 0, peers: 0, pendingUnloads: 0 })
      expect(server.http.listenerCount('upgrade')).toBe(1)
    } finally {
      await server.close()
    }
  })
})
