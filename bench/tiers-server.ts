/**
 * The server process for bench/tiers.ts: a real Weft (LevelDB in a temp dir, store-before-
 * broadcast on) on port 0. Prints `PORT <n>` when listening; exits on SIGTERM after close().
 */
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createWeft } from '../server/weft.js'
import { leveldbStorage } from '../server/storage/leveldb.js'

const dir = mkdtempSync(join(tmpdir(), 'weft-bench-tiers-'))
const weft = await createWeft({ storage: leveldbStorage(dir) })
const http = createServer()
weft.attach(http)
http.listen(0, '127.0.0.1', () => {
  process.stdout.write(`PORT ${(http.address() as AddressInfo).port}\n`)
})
process.on('SIGTERM', () => {
  void weft.close().then(() => {
    http.closeAllConnections()
    http.close()
    rmSync(dir, { recursive: true, force: true })
    process.exit(0)
  })
})
