/** Starts a real Weft on port 0 for a test, with real storage. */
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createWeft, type Weft } from '../../server/weft.js'
import type { WeftOptions } from '../../server/options.js'

export interface TestServer {
  weft: Weft
  http: Server
  port: number
  /** http://127.0.0.1:PORT */
  url: string
  /** ws://127.0.0.1:PORT */
  wsUrl: string
  close (): Promise<void>
}

export async function startServer (options: WeftOptions = {}, port = 0): Promise<TestServer> {
  const weft = await createWeft(options)
  const http = createServer()
  weft.attach(http)
  await new Promise<void>((resolve, reject) => {
    http.once('error', reject)
    http.listen(port, '127.0.0.1', () => resolve())
  })
  const actual = (http.address() as AddressInfo).port
  let closed: Promise<void> | null = null
  return {
    weft,
    http,
    port: actual,
    url: `http://127.0.0.1:${actual}`,
    wsUrl: `ws://127.0.0.1:${actual}`,
    close () {
      closed ??= (async () => {
        await weft.close()
        http.closeAllConnections()
        await new Promise<void>(resolve => http.close(() => resolve()))
      })()
      return closed
    }
  }
}

/** A temp directory removed by the returned function. */
export function tempDir (prefix = 'weft-test-'): { path: string, remove: () => void } {
  const path = mkdtempSync(join(tmpdir(), prefix))
  return { path, remove: () => rmSync(path, { recursive: true, force: true }) }
}
