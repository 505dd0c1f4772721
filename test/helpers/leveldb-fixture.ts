/**
 * Real LevelDB servers and stock clients for one describe block, all undone after each test:
 *
 *   const { cleanups, dir, server, client } = leveldbFixture()
 *   const s = await server()            // a fresh temp dir, or server(path) to reopen one
 *   const a = client(s, 'doc')
 */
import type { WeftOptions } from '../../server/options.js'
import { leveldbStorage } from '../../server/storage/leveldb.js'
import { stockClient, type StockClient } from './providers.js'
import { cleanupAfterEach, startServer, tempDir, type TestServer } from './server.js'

export interface LeveldbFixture {
  cleanups: ReturnType<typeof cleanupAfterEach>
  /** A temp directory removed after the test. */
  dir (): string
  /** A Weft on LevelDB at `path` (a new temp dir by default), closed after the test. */
  server (path?: string, opts?: WeftOptions): Promise<TestServer>
  /** A stock provider on `name`, destroyed after the test. */
  client (s: { wsUrl: string }, name: string): StockClient
}

export function leveldbFixture (): LeveldbFixture {
  const cleanups = cleanupAfterEach()
  const dir = (): string => { const d = tempDir(); cleanups.push(d.remove); return d.path }
  return {
    cleanups,
    dir,
    async server (path = dir(), opts = {}) {
      const s = await startServer({ storage: leveldbStorage(path), ...opts })
      cleanups.push(() => s.close())
      return s
    },
    client (s, name) {
      const c = stockClient(s.wsUrl, name)
      cleanups.push(() => c.destroy())
      return c
    }
  }
}
