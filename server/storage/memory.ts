/** An in-process store for tests and ephemeral servers (`--memory`): nothing survives a restart. */
import { checkMetaName, type MetaStore, type Storage, type StoredDocInfo } from './types.js'
import { decodeRecord, encodeRecord, storedUpdateLength } from './record-codec.js'

/** A stored record: bytes in the record format every backend uses (record-codec.ts). */
export interface MemoryRecord { seq: number, stored: Uint8Array }

/**
 * The records of a memory store by doc. Pass the same map to another `memoryStorage()` to see
 * the same records, like a process reopening a disk (tests use it to reach the stored bytes).
 */
export type MemoryRecords = Map<string, MemoryRecord[]>
/** The meta values of a memory store by namespace, shared the same way as `MemoryRecords`. */
export type MemoryMeta = Map<string, Map<string, Uint8Array>>

export function memoryStorage (docs: MemoryRecords = new Map(), metaValues: MemoryMeta = new Map()): Storage {
  const quarantined = new Map<string, MemoryRecord[]>()
  let closed = false
  const open = (): void => { if (closed) throw new Error('storage is closed') }
  const meta: MetaStore = {
    async put (ns, key, value) {
      open(); checkMetaName('namespace', ns); checkMetaName('key', key)
      let m = metaValues.get(ns)
      if (m === undefined) metaValues.set(ns, m = new Map())
      m.set(key, value.slice())
    },
    async get (ns, key) {
      open()
      return metaValues.get(ns)?.get(key)?.slice()
    },
    async list (ns) {
      open()
      const m = metaValues.get(ns)
      if (m === undefined) return []
      return [...m.keys()].sort().map(key => ({ key, value: m.get(key)!.slice() }))
    },
    async remove (ns, key) {
      open()
      if (key === undefined) metaValues.delete(ns)
      else metaValues.get(ns)?.delete(key)
    }
  }
  const store = (seq: number, update: Uint8Array): MemoryRecord => ({ seq, stored: encodeRecord(seq, update) })

  return {
    kind: 'memory',
    meta,
    async open () { open() },
    async load (doc, after = -Infinity) {
      open()
      return (docs.get(doc) ?? []).filter(r => r.seq > after).map(r => {
        const { update, intact } = decodeRecord(r.seq, r.stored)
        return { seq: r.seq, update: update.slice(), intact }
      })
    },
    async append (doc, updates, after) {
      open()
      const log = docs.get(doc) ?? []
      // Synchronous from here: two stores sharing `docs` (two nodes) cannot interleave.
      const first = Math.max(log.length > 0 ? log[log.length - 1]!.seq : -Infinity, after) + 1
      updates.forEach((update, i) => log.push(store(first + i, update)))
      docs.set(doc, log)
      return first
    },
    async replace (doc, upToSeq, update) {
      open()
      const kept = (docs.get(doc) ?? []).filter(r => r.seq > upToSeq)
      docs.set(doc, [store(upToSeq, update), ...kept])
    },
    async quarantine (doc, seqs) {
      open()
      const set = new Set(seqs)
      const log = docs.get(doc) ?? []
      const q = quarantined.get(doc) ?? []
      q.push(...log.filter(r => set.has(r.seq)))
      quarantined.set(doc, q)
      docs.set(doc, log.filter(r => !set.has(r.seq)))
    },
    async delete (doc) {
      open()
      docs.delete(doc)
      quarantined.delete(doc)
    },
    async list () {
      open()
      const out: StoredDocInfo[] = []
      for (const [name, log] of docs) {
        if (log.length === 0) continue
        out.push({ name, records: log.length, bytes: log.reduce((n, r) => n + storedUpdateLength(r.stored), 0) })
      }
      return out
    },
    async heads (names) {
      open()
      const out = new Map<string, number>()
      for (const name of names) {
        const log = docs.get(name)
        if (log !== undefined && log.length > 0) out.set(name, log[log.length - 1]!.seq)
      }
      return out
    },
    async close () { closed = true }
  }
}
