/** A storage wrapper that fails writes on demand, like a full disk (ENOSPC). Reads still work. */
import type { Storage } from '../../server/storage/types.js'

export interface FaultyStorage extends Storage {
  /** While true, append() and replace() reject with an ENOSPC error. */
  failWrites: boolean
  failedWrites: number
}

export function faultyStorage (inner: Storage): FaultyStorage {
  const enospc = (): Error => Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC' })
  const s: FaultyStorage = {
    kind: `faulty-${inner.kind}`,
    failWrites: false,
    failedWrites: 0,
    open: () => inner.open(),
    load: (doc, after) => inner.load(doc, after),
    async append (doc, updates, after) {
      if (s.failWrites) { s.failedWrites++; throw enospc() }
      return await inner.append(doc, updates, after)
    },
    async replace (doc, upTo, update) {
      if (s.failWrites) { s.failedWrites++; throw enospc() }
      return await inner.replace(doc, upTo, update)
    },
    quarantine: (doc, seqs) => inner.quarantine(doc, seqs),
    delete: doc => inner.delete(doc),
    meta: inner.meta,
    list: () => inner.list(),
    close: () => inner.close()
  }
  return s
}
