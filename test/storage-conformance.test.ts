import { storageSuite } from './helpers/storage-suite.js'
import { memoryStorage } from '../server/storage/memory.js'
import { leveldbStorage } from '../server/storage/leveldb.js'
import { tempDir } from './helpers/server.js'

storageSuite('memory', {
  persistent: false,
  async make () {
    const storage = memoryStorage()
    return { storage, cleanup: async () => { await storage.close() } }
  }
})

storageSuite('leveldb', {
  persistent: true,
  async make () {
    const dir = tempDir()
    const storage = leveldbStorage(dir.path)
    return {
      storage,
      reopen: async () => leveldbStorage(dir.path),
      cleanup: async () => { await storage.close(); dir.remove() }
    }
  }
})
