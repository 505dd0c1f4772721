/** An in-process store for tests and ephemeral servers (`--memory`): nothing survives a restart. */
import type { Storage, StoredDocInfo, UpdateRecord } from './types.js'

export function memoryStorage (): Storage {
  const docs = new Map<string, UpdateRecord[]>()
  const quarantined = new Map<string, UpdateRecord[]>()
  let closed = false
  const open = (): void => { if (closed) throw new Error('storage is closed') }
  const copy = (r: UpdateRecord): UpdateRecord => ({ seq: r.seq, update: r.update.slice() })

  return {
    kind: 'memory',
    async open () { open() },
    async load (doc) {
      open()
      return (docs.get(doc) ?? []).map(copy)
    },
    async append (doc, records) {
      open()
      const log = docs.get(doc) ?? []
      for (const r of records) log.push(copy(r))
      log.sort((a, b) => a.seq - b.seq)
      docs.set(doc, log)
    },
    async replace (doc, upToSeq, update) {
      open()
      const kept = (docs.get(doc) ?? []).filter(r => r.seq > upToSeq)
      docs.set(doc, [{ seq: upToSeq, update: update.slice() }, ...kept])
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
    },
    async list () {
      open()
      const out: StoredDocInfo[] = []
      for (const [name, log] of docs) {
        if (log.length === 0) continue
        out.push({ name, records: log.length, bytes: log.reduce((n, r) => n + r.update.byteLength, 0) })
      }
      return out
    },
    async close () { closed = true }
  }
}
