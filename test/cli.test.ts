import { spawnSync } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { describe, expect, it } from 'vitest'
import { startChildServer, type ChildServer } from './helpers/child-server.js'
import { stockClient, synced } from './helpers/providers.js'
import { cleanupAfterEach, tempDir } from './helpers/server.js'
import { waitFor } from './helpers/wait.js'

const root = fileURLToPath(new URL('..', import.meta.url))
const cli = (args: string[]): ReturnType<typeof spawnSync> =>
  spawnSync(process.execPath, ['--import', 'tsx', 'server/cli.ts', ...args], { cwd: root, encoding: 'utf8', timeout: 20_000 })

describe('CLI', () => {
  const cleanups = cleanupAfterEach()

  it('--help prints usage and exits 0', () => {
    const r = cli(['--help'])
    expect(r.status).toBe(0)
    expect(r.stdout).toMatch(/Usage: weft/)
    expect(r.stdout).toMatch(/--port/)
  })

  it('a bad flag or value exits 2 with a clear message', () => {
    const unknown = cli(['--bogus'])
    expect(unknown.status).toBe(2)
    expect(unknown.stderr).toMatch(/bogus/)
    const port = cli(['--port', 'abc'])
    expect(port.status).toBe(2)
    expect(port.stderr).toMatch(/--port must be a number/)
  })

  it('prints exactly one line when ready, and SIGTERM tells clients 1012, flushes and exits 0', async () => {
    const dir = tempDir()
    cleanups.push(dir.remove)
    let child: ChildServer | null = await startChildServer(['--port', '0', '--data', dir.path])
    cleanups.push(() => child?.proc.kill('SIGKILL'))
    const c = stockClient(child.wsUrl, 'term')
    cleanups.push(() => c.destroy())
    await synced(c)
    c.text.insert(0, 'flushed on SIGTERM')
    await new Promise(resolve => setTimeout(resolve, 200))
    const closeCode = new Promise<number>(resolve => c.provider.once('connection-close', (e: any) => resolve(e?.code)))
    c.provider.shouldConnect = false
    child.proc.kill('SIGTERM')
    expect(await child.exited).toBe(0)
    expect(await closeCode).toBe(1012)
    expect(child.stdout()).toMatch(/^listening on http:\/\/127\.0\.0\.1:\d+\n$/)
    child = await startChildServer(['--port', '0', '--data', dir.path])
    const d = stockClient(child.wsUrl, 'term')
    cleanups.push(() => d.destroy())
    await synced(d)
    await waitFor(() => d.text.toString() === 'flushed on SIGTERM', 'the edit to survive the restart')
  })

  it('refuses a data directory another server holds, with a clear message', async () => {
    const dir = tempDir()
    cleanups.push(dir.remove)
    const first = await startChildServer(['--port', '0', '--data', dir.path])
    cleanups.push(() => first.proc.kill('SIGKILL'))
    const r = cli(['--port', '0', '--data', dir.path])
    expect(r.status).toBe(1)
    expect(r.stderr).toMatch(/in use by another process/)
  })
})
