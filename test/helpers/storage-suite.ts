/**
 * The storage conformance suite: every backend runs exactly these cases.
 * Call `storageSuite(name, make)` from a test file; `make` returns a fresh, empty storage
 * and a cleanup function. `reopen` (optional) reopens the same location after close.
 * `rewrite` changes a record's stored bytes behind the backend's back (bit rot, or data written
 * by an older version) and returns the storage to use afterwards (LevelDB must close to let
 * another handle at its files; the returned one is open and cleaned up by `cleanup`).
 */
import { afterEach, describe, expect, it } from 'vitest'
import * as Y from 'yjs'
import type { Storage } from '../../server/storage/types.js'
import { appendAt } from './append-at.js'

/** Replaces the stored bytes of record `seq` by `edit(current)` (`undefined`: no such record). */
export type Rewrite = (doc: string, seq: number, edit: (stored: Uint8Array | undefined) => Uint8Array) => Promise<Storage>

export interface StorageFactory {
  /** Persistent backends also run the close-and-reopen case. */
  persistent: boolean
  make (): Promise<{ storage: Storage, reopen?: () => Promise<Storage>, rewrite: Rewrite, cleanup: () => Promise<void>, second?: () => Promise<Storage> }>
}

/** Flips one bit of the last byte: inside the update, whatever the header. */
export const flipLastByte = (stored: Uint8Array | undefined): Uint8Array => {
  const out = Uint8Array.from(stored!)
  out[out.length - 1]! ^= 0x01
  return out
}

const bytes = (...xs: number[]): Uint8Array => new Uint8Array(xs)

function textUpdate (text: string): Uint8Array {
  const doc = new Y.Doc()
  doc.getText('t').insert(0, text)
  return Y.encodeStateAsUpdate(doc)
}

export function storageSuite (name: string, factory: StorageFactory): void {
  describe(`storage conformance: ${name}`, () => {
    const cleanups: Array<() => Promise<void>> = []
    const open = async (): Promise<{ storage: Storage, reopen?: () => Promise<Storage>, rewrite: Rewrite, second?: () => Promise<Storage> }> => {
      const made = await factory.make()
      cleanups.push(made.cleanup)
      await made.storage.open()
      return made
    }
    afterEach(async () => {
      for (const c of cleanups.splice(0).reverse()) await c()
    })

    it('loads nothing for a doc never stored', async () => {
      const { storage } = await open()
      expect(await storage.load('nope')).toEqual([])
    })

    it('appends and loads records in sequence order, byte for byte', async () => {
      const { storage } = await open()
      await appendAt(storage, 'd', [{ seq: 10, update: bytes(1, 2) }, { seq: 11, update: bytes(3) }])
      await appendAt(storage, 'd', [{ seq: 12, update: bytes(4, 5, 6) }])
      const got = await storage.load('d')
      expect(got.map(r => r.seq)).toEqual([10, 11, 12])
      expect(got.map(r => [...r.update])).toEqual([[1, 2], [3], [4, 5, 6]])
    })

    it('orders large sequence numbers numerically (creation-time based seqs are ~2^51)', async () => {
      const { storage } = await open()
      const base = Date.now() * 1000
      await appendAt(storage, 'big', [{ seq: base + 9, update: bytes(9) }, { seq: base + 10, update: bytes(10) }, { seq: base + 100, update: bytes(100) }])
      expect((await storage.load('big')).map(r => r.seq - base)).toEqual([9, 10, 100])
    })

    it('keeps docs apart, including names that prefix each other and contain separators', async () => {
      const { storage } = await open()
      await appendAt(storage, 'a', [{ seq: 1, update: bytes(1) }])
      await appendAt(storage, 'ab', [{ seq: 1, update: bytes(2) }])
      await appendAt(storage, 'a/b c', [{ seq: 1, update: bytes(3) }])
      expect((await storage.load('a')).map(r => [...r.update])).toEqual([[1]])
      expect((await storage.load('ab')).map(r => [...r.update])).toEqual([[2]])
      expect((await storage.load('a/b c')).map(r => [...r.update])).toEqual([[3]])
    })

    it('replace() swaps records up to a seq for one compacted record and keeps later ones', async () => {
      const { storage } = await open()
      await appendAt(storage, 'd', [1, 2, 3, 4].map(seq => ({ seq, update: bytes(seq) })))
      await storage.replace('d', 3, bytes(99))
      const got = await storage.load('d')
      expect(got.map(r => r.seq)).toEqual([3, 4])
      expect(got.map(r => [...r.update])).toEqual([[99], [4]])
    })

    it('quarantine() moves records out of the log; the rest still loads', async () => {
      const { storage } = await open()
      await appendAt(storage, 'd', [1, 2, 3].map(seq => ({ seq, update: bytes(seq) })))
      await storage.quarantine('d', [2])
      expect((await storage.load('d')).map(r => r.seq)).toEqual([1, 3])
    })

    it('delete() removes a doc and list() reports stored docs with sizes', async () => {
      const { storage } = await open()
      await appendAt(storage, 'x', [{ seq: 1, update: bytes(1, 2, 3) }, { seq: 2, update: bytes(4) }])
      await appendAt(storage, 'y', [{ seq: 1, update: bytes(1) }])
      const list = (await storage.list()).sort((a, b) => a.name.localeCompare(b.name))
      expect(list).toEqual([{ name: 'x', records: 2, bytes: 4 }, { name: 'y', records: 1, bytes: 1 }])
      await storage.delete('x')
      expect(await storage.load('x')).toEqual([])
      expect((await storage.list()).map(d => d.name)).toEqual(['y'])
    })

    it('meta: puts, gets, lists a namespace in key order, removes a key or a namespace; namespaces that prefix each other stay apart', async () => {
      const { storage } = await open()
      const m = storage.meta
      expect(await m.get('ns', 'a')).toBeUndefined()
      expect(await m.list('ns')).toEqual([])
      await m.put('ns', 'b', bytes(2))
      await m.put('ns', 'a', bytes(1))
      await m.put('ns', 'B', bytes(3))
      await m.put('ns2', 'a', bytes(9))
      await m.put('n', 'a', bytes(8))
      await m.put('ns', 'a', bytes(1, 1)) // overwrite
      expect(await m.get('ns', 'a')).toEqual(bytes(1, 1))
      expect((await m.list('ns')).map(e => [e.key, [...e.value]])).toEqual([['B', [3]], ['a', [1, 1]], ['b', [2]]])
      await m.remove('ns', 'b')
      await m.remove('ns', 'missing')
      expect((await m.list('ns')).map(e => e.key)).toEqual(['B', 'a'])
      await m.remove('ns')
      expect(await m.list('ns')).toEqual([])
      expect((await m.list('ns2')).map(e => e.key)).toEqual(['a'])
      expect((await m.list('n')).map(e => e.key)).toEqual(['a'])
      await expect(m.put('bad\u0000ns', 'k', bytes(1))).rejects.toThrow(/control characters/)
      await expect(m.put('ns', '', bytes(1))).rejects.toThrow(/1-1024 characters/)
      // Meta values are not docs.
      expect(await storage.list()).toEqual([])
    })

    it('stores real Yjs updates that decode after a round trip', async () => {
      const { storage } = await open()
      await appendAt(storage, 'doc', [{ seq: 1, update: textUpdate('hello') }])
      const doc = new Y.Doc()
      for (const r of await storage.load('doc')) Y.applyUpdate(doc, r.update)
      expect(doc.getText('t').toString()).toBe('hello')
    })

    it('keeps concurrent appends to different docs and close() is idempotent', async () => {
      const { storage } = await open()
      // Concurrent appends to one doc are numbered by the store, in whatever order they land.
      await Promise.all(Array.from({ length: 50 }, (_, i) => storage.append(`doc-${i % 5}`, [bytes(i)], 0)))
      let total = 0
      for (let d = 0; d < 5; d++) total += (await storage.load(`doc-${d}`)).length
      expect(total).toBe(50)
      await storage.close()
      await storage.close()
    })

    it('numbers records itself: two writers of one doc (two nodes) get distinct, ordered ranges; load(after) reads what came since', async () => {
      // A second store over the same data where a backend can have one (memory, PostgreSQL: two
      // nodes); LevelDB belongs to one process, so its two writers are two callers of one store.
      const made = await open()
      const storage = made.storage
      const second = made.second === undefined ? storage : await made.second()
      if (second !== storage) await second.open()
      // Both start from the same head (as two nodes that loaded the doc together would), at once.
      const firsts = await Promise.all(Array.from({ length: 20 }, (_, i) => (i % 2 === 0 ? storage : second).append('shared', [bytes(i, 1), bytes(i, 2)], 100)))
      const seqs = firsts.flatMap(f => [f, f + 1]).sort((a, b) => a - b)
      expect(new Set(seqs).size).toBe(40)
      expect(seqs[0]).toBe(101)
      const loaded = await storage.load('shared')
      expect(loaded.map(r => r.seq)).toEqual(seqs)
      // Each batch's two records are consecutive and in its order.
      for (const f of firsts) expect(loaded.find(r => r.seq === f + 1)!.update[1]).toBe(2)
      // A writer that knows a head past the store's is numbered after it.
      const after = await storage.append('shared', [bytes(99)], 1000)
      expect(after).toBe(1001)
      expect((await storage.load('shared', seqs[37])).map(r => r.seq)).toEqual([seqs[38], seqs[39], 1001])
      expect(await second.load('shared', 1001)).toEqual([])
    })

    it('verifies a checksum per record: a changed byte marks that record, the others load intact', async () => {
      const { storage, rewrite } = await open()
      const updates = [textUpdate('one'), textUpdate('two'), textUpdate('three')]
      await appendAt(storage, 'c', updates.map((update, i) => ({ seq: i + 1, update })))
      expect((await storage.load('c')).map(r => r.intact)).toEqual([true, true, true])
      // The flipped update still decodes (into other text): only the checksum can tell.
      const after = await rewrite('c', 2, flipLastByte)
      const got = await after.load('c')
      expect(got.map(r => [r.seq, r.intact])).toEqual([[1, true], [2, false], [3, true]])
      expect([...got[0]!.update]).toEqual([...updates[0]!])
      expect([...got[2]!.update]).toEqual([...updates[2]!])
      // Quarantine moves it out like an undecodable record; a compaction rewrites the rest.
      await after.quarantine('c', [2])
      await after.replace('c', 3, updates[2]!)
      expect((await after.load('c')).map(r => [r.seq, r.intact])).toEqual([[3, true]])
    })

    it('loads records stored before checksums (the bare update) as they are', async () => {
      const { storage, rewrite } = await open()
      const current = textUpdate('new')
      await appendAt(storage, 'old', [{ seq: 1, update: current }])
      const legacy = textUpdate('legacy')
      const after = await rewrite('old', 2, () => legacy)
      const got = await after.load('old')
      expect(got.map(r => [r.seq, r.intact])).toEqual([[1, true], [2, true]])
      expect([...got[1]!.update]).toEqual([...legacy])
      expect((await after.list()).find(d => d.name === 'old')?.bytes).toBe(current.byteLength + legacy.byteLength)
    })

    it('verify() (where a backend has it) passes on a healthy store and leaves nothing behind', async () => {
      const { storage } = await open()
      await appendAt(storage, 'v', [{ seq: 1, update: bytes(1) }])
      await storage.verify?.()
      expect(storage.ready?.() ?? true).toBe(true)
      expect(await storage.list()).toEqual([{ name: 'v', records: 1, bytes: 1 }])
    })

    if (factory.persistent) it('survives close and reopen', async () => {
      const { storage, reopen } = await open()
      if (reopen === undefined) throw new Error('a persistent backend must provide reopen()')
      await appendAt(storage, 'p', [{ seq: 7, update: bytes(7) }])
      await storage.close()
      const again = await reopen()
      cleanups.push(async () => { await again.close() })
      await again.open()
      expect((await again.load('p')).map(r => r.seq)).toEqual([7])
    })

    if (factory.persistent) it('meta values survive close and reopen', async () => {
      const { storage, reopen } = await open()
      if (reopen === undefined) throw new Error('a persistent backend must provide reopen()')
      await storage.meta.put('keep', 'k', bytes(5, 6))
      await storage.close()
      const again = await reopen()
      cleanups.push(async () => { await again.close() })
      await again.open()
      expect(await again.meta.get('keep', 'k')).toEqual(bytes(5, 6))
    })
  })
}
