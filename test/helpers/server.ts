/** Starts a real Weft on port 0 for a test, with real storage. */
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import express from 'express'
import { afterEach } from 'vitest'
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
  return await listen(weft, http, port)
}

/**
 * Weft as an embedder mounts it: `app.use(prefix, weft.router)` in an Express app (which
 * `setup` may give routes of its own first) and `weft.attach()` for the upgrades.
 * `url` is the server's root, without the prefix.
 */
export async function startMounted (options: WeftOptions, prefix: string, setup?: (app: express.Express) => void): Promise<TestServer> {
  const weft = await createWeft(options)
  const app = express()
  setup?.(app)
  app.use(prefix, weft.router)
  const http = createServer(app)
  weft.attach(http)
  return await listen(weft, http, 0)
}

async function listen (weft: Weft, http: Server, port: number): Promise<TestServer> {
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

/**
 * Undo work after each test of the enclosing describe, last registered first:
 * `const cleanups = cleanupAfterEach()`, then `cleanups.push(() => server.close())`.
 */
export function cleanupAfterEach (): { push: (...fn: Array<() => unknown>) => void } {
  const fns: Array<() => unknown> = []
  afterEach(async () => {
    for (const fn of fns.splice(0).reverse()) await fn()
  })
  return { push: (...fn) => { fns.push(...fn) } }
}
