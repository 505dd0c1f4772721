/**
 * The doc log's seams for more than one writer (docs/doc-log.ts): the store numbers records, a
 * batch numbered past the head back-fills what was stored elsewhere, and `integrate` applies
 * records another node stored — in order, once, gaps back-filled, nothing stored twice. Two
 * SharedDocs over one store stand for two nodes with the same doc loaded.
 */
import { afterEach, describe, expect, it } from 'vitest'
import * as Y from 'yjs'
import { SharedDoc, type DocOptions } from '../../server/docs/shared-doc.js'
import type { AwarenessBroadcast, DocPeer, UpdateBroadcast } from '../../server/docs/broadcast.js'
import { memoryStorage, type MemoryRecords } from '../../server/storage/memory.js'
import { silentLogger } from '../../server/logger.js'
import type { Storage } from '../../server/storage/types.js'

const opened: SharedDoc[] = []
afterEach(async () => { for (const d of opened.splice(0)) await d.destroy() })

function options (storage: Storage): DocOptions {
  return { storage, logger: silentLogger, compactAfterRecords: 1e9, compactAfterBytes: 1e12, historyRecords: 10_000, historyBytes: 64 << 20 }
}

async function load (storage: Storage): Promise<SharedDoc> {
  const doc = await SharedDoc.load('d', options(storage))
  opened.push(doc)
  return doc
}

/** A peer that records what the doc broadcasts to it. */
function listener (): DocPeer & { seqs: number[] } {
  const seqs: number[] = []
  return { access: 'read', seqs, deliverUpdate (b: UpdateBroadcast) { seqs.push(b.seq) }, deliverAwareness (_b: AwarenessBroadcast) {}, close () {} }
}

/** An update that inserts `text` at the end of a client's own Y.Doc. */
function typist (clientID: number): (text: string) => Uint8Array {
  const doc = new Y.Doc()
  doc.clientID = clientID
  return text => {
    const before = Y.encodeStateVector(doc)
    doc.getText('t').insert(doc.getText('t').length, text)
    return Y.encodeStateAsUpdate(doc, before)
  }
}

describe('the doc log with two writers over one store', () => {
  it('integrate() applies records stored elsewhere in order and once, back-filling a gap from storage; it stores nothing', async () => {
    const records: MemoryRecords = new Map()
    const a = await load(memoryStorage(records))
    const b = await load(memoryStorage(records))
    const peer = listener()
    b.addPeer(peer)
    const type = typist(1)
    for (const ch of 'abcdef') await a.submit(type(ch), null)
    const stored = await memoryStorage(records).load('d')
    expect(stored).toHaveLength(6)
    // Out of order, with a duplicate, and with records 2-3 never delivered (a lost bus message).
    const pick = (i: number): { seq: number, update: Uint8Array } => ({ seq: stored[i]!.seq, update: stored[i]!.update })
    await b.integrate([pick(0)])
    await b.integrate([pick(4), pick(3), pick(0)])
    await b.integrate([pick(5), pick(5)])
    expect(b.ydoc.getText('t').toString()).toBe('abcdef')
    expect(b.seq).toBe(a.seq)
    expect(peer.seqs).toEqual(stored.map(r => r.seq))
    expect(b.history.since(stored[0]!.seq - 1, b.seq)!.map(r => r.seq)).toEqual(stored.map(r => r.seq))
    expect(await memoryStorage(records).load('d')).toHaveLength(6)
  })

  it('two docs writing at once get distinct numbers; each back-fills the other\'s records before its own and both converge', async () => {
    const records: MemoryRecords = new Map()
    const a = await load(memoryStorage(records))
    const b = await load(memoryStorage(records))
    const pa = listener()
    const pb = listener()
    a.addPeer(pa)
    b.addPeer(pb)
    const typeA = typist(1)
    const typeB = typist(2)
    const writes: Array<Promise<void>> = []
    for (let i = 0; i < 30; i++) {
      writes.push(a.submit(typeA('a'), null))
      writes.push(b.submit(typeB('b'), null))
      if (i % 7 === 0) await Promise.all(writes)
    }
    await Promise.all(writes)
    // Whatever the other wrote after each one's last batch arrives by integrate (the bus).
    const all = await memoryStorage(records).load('d')
    await a.integrate(all)
    await b.integrate(all)
    const seqs = all.map(r => r.seq)
    expect(new Set(seqs).size).toBe(seqs.length)
    expect(a.ydoc.getText('t').toString()).toBe(b.ydoc.getText('t').toString())
    expect(a.ydoc.getText('t').toString().length).toBe(60)
    // Every record once and in order, at both, whoever stored it.
    expect(pa.seqs).toEqual(seqs)
    expect(pb.seqs).toEqual(seqs)
    expect(a.seq).toBe(seqs[seqs.length - 1])
    expect(b.seq).toBe(seqs[seqs.length - 1])
  })
})
