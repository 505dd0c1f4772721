import { Level } from 'level'
import { storageSuite } from '../helpers/storage-suite.js'
import { memoryStorage, type MemoryRecords } from '../../server/storage/memory.js'
import { leveldbStorage } from '../../server/storage/leveldb.js'
import type { Storage } from '../../server/storage/types.js'
import { tempDir } from '../helpers/server.js'

storageSuite('memory', {
  persistent: false,
  async make () {
    const records: MemoryRecords = new Map()
    const storage = memoryStorage(records)
    return {
      storage,
      async rewrite (doc, seq, edit) {
        const log = records.get(doc) ?? []
        const r = log.find(r => r.seq === seq)
        if (r !== undefined) r.stored = edit(r.stored)
        else records.set(doc, [...log, { seq, stored: edit(undefined) }].sort((a, b) => a.seq - b.seq))
        return storage
      },
      second: async () => memoryStorage(records),
      cleanup: async () => { await storage.close() }
    }
  }
})

storageSuite('leveldb', {
  persistent: true,
  async make () {
    const dir = tempDir()
    const storage = leveldbStorage(dir.path)
    const reopened: Storage[] = []
    return {
      storage,
      reopen: async () => leveldbStorage(dir.path),
      async rewrite (doc, seq, edit) {
        await storage.close()
        const db = new Level<string, Uint8Array>(dir.path, { keyEncoding: 'utf8', valueEncoding: 'view' })
        const key = `u\u0000${doc}\u0000${seq.toString(16).padStart(14, '0')}`
        await db.put(key, edit(await db.get(key)))
        await db.close()
        const again = leveldbStorage(dir.path)
        reopened.push(again)
        await again.open()
        return again
      },
      cleanup: async () => {
        for (const s of [storage, ...reopened]) await s.close()
        dir.remove()
      }
    }
  }
})
