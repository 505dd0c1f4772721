/**
 * A Redis of the test's own, on its own port: tests that kill or restart Redis never touch the
 * machine's shared one. Nothing is persisted, so a restart comes back empty (the worst case).
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { waitFor } from './wait.js'
import { freePort } from './free-port.js'
import { Redis } from 'ioredis'

export interface OwnRedis {
  port: number
  url: string
  /** SIGKILLs it (nothing is flushed: it comes back empty). */
  kill (): Promise<void>
  /** Starts it again on the same port, empty (a no-op while it runs). */
  start (): Promise<void>
  /** A client for the test's own checks (INFO, keys). */
  client (): Redis
  stop (): Promise<void>
}

export async function startOwnRedis (): Promise<OwnRedis> {
  const port = await freePort()
  const url = `redis://127.0.0.1:${port}`
  let proc: ChildProcess | null = null
  const clients: Redis[] = []
  const ping = async (): Promise<boolean> => {
    const c = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null, enableOfflineQueue: false })
    c.on('error', () => {})
    try { await c.connect(); return (await c.ping()) === 'PONG' } catch { return false } finally { c.disconnect() }
  }
  const own: OwnRedis = {
    port,
    url,
    async start () {
      if (proc !== null) return // running
      proc = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: 'ignore' })
      await waitFor(ping, `redis-server on ${port} to answer`, 10_000, 50)
    },
    async kill () {
      const p = proc
      if (p === null) return
      proc = null
      if (p.exitCode !== null || p.signalCode !== null) return
      const exited = new Promise(resolve => p.once('exit', resolve))
      p.kill('SIGKILL')
      await exited
    },
    client () {
      const c = new Redis(url, { maxRetriesPerRequest: 1 })
      c.on('error', () => {})
      clients.push(c)
      return c
    },
    async stop () {
      for (const c of clients) c.disconnect()
      await own.kill()
    }
  }
  await own.start()
  return own
}
