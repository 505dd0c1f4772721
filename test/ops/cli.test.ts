import { spawnSync } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { describe, expect, it } from 'vitest'
import { startChildServer, type ChildServer } from '../helpers/child-server.js'
import { stockClient, synced } from '../helpers/providers.js'
import { cleanupAfterEach, tempDir } from '../helpers/server.js'
import { waitFor } from '../helpers/wait.js'

const root = fileURLToPath(new URL('../..', import.meta.url))
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
    expect(port.stderr).toMatch(/--port must be a whole number from 0 to 65535, got "abc"/)
  })

  it('a data directory that cannot be one exits 2 naming it, at once (/proc/x used to hang)', () => {
    const proc = cli(['--port', '0', '--data', '/proc/weft-data'])
    expect(proc.status).toBe(2)
    expect(proc.stderr).toMatch(/--data \/proc\/weft-data: cannot create \/proc\/weft-data \(ENOENT/)
    const file = cli(['--port', '0', '--data', fileURLToPath(new URL('../../package.json', import.meta.url))])
    expect(file.status).toBe(2)
    expect(file.stderr).toMatch(/package\.json exists and is not a directory/)
    const format = cli(['--log-format', 'xml'])
    expect(format.status).toBe(2)
    expect(format.stderr).toMatch(/--log-format must be one of json, pretty, got "xml"/)
  })

  it('logs pino JSON lines on stderr when it is not a terminal; stdout keeps only the listening line', async () => {
    const child = await startChildServer(['--memory', '--log-level', 'info'])
    cleanups.push(() => child.proc.kill('SIGKILL'))
    await waitFor(() => child.stderr().includes('weft started'), 'the startup log line')
    const lines = child.stderr().trim().split('\n').map(l => JSON.parse(l) as Record<string, unknown>)
    const started = lines.find(l => l.msg === 'weft started')!
    expect(started).toMatchObject({ level: 30, service: 'weft', storage: 'memory', auth: 'off', url: child.url })
    expect(typeof started.time).toBe('string')
    expect(lines.find(l => String(l.msg).startsWith('no auth configured'))).toMatchObject({ level: 40 })
    expect(child.stdout()).toMatch(/^listening on http:\/\/127\.0\.0\.1:\d+\n$/)
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
