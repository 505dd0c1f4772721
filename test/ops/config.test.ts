/**
 * One table of settings (server/config/settings.ts) makes the CLI's parser, `--help`, the
 * README's options table and createWeft()'s checks: these tests fail when any of them drifts,
 * and show that a bad value from a flag, a variable or a config file stops the CLI with exit
 * code 2 and a message naming it.
 */
import { spawnSync } from 'node:child_process'
import { readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { describe, expect, it } from 'vitest'
import { envOf, flagOf, settings } from '../../server/config/settings.js'
import { helpText, readmeTable, shown } from '../../server/config/help.js'
import { createWeft } from '../../server/weft.js'
import { memoryStorage } from '../../server/storage/memory.js'
import { startChildServer } from '../helpers/child-server.js'
import { cleanupAfterEach, tempDir } from '../helpers/server.js'
import { waitFor } from '../helpers/wait.js'

const root = fileURLToPath(new URL('../..', import.meta.url))
const readme = readFileSync(join(root, 'README.md'), 'utf8')
const cli = (args: string[], env: NodeJS.ProcessEnv = {}): ReturnType<typeof spawnSync> =>
  spawnSync(process.execPath, ['--import', 'tsx', 'server/cli.ts', ...args], { cwd: root, env: { ...process.env, ...env }, encoding: 'utf8', timeout: 20_000 })

describe('configuration from one table', () => {
  const cleanups = cleanupAfterEach()

  it('the README\'s options table is the one settings.ts makes (npm run docs:options prints it)', () => {
    const m = /<!-- options-table:begin[^>]*-->\n([\s\S]*?)\n<!-- options-table:end -->/.exec(readme)
    expect(m, 'options-table markers in README.md').not.toBeNull()
    expect(m![1]).toBe(readmeTable())
  })

  it('every other README table row that names a setting agrees with it on flag, variable and default', () => {
    let checked = 0
    const outside = readme.slice(0, readme.indexOf('<!-- options-table:begin')) + readme.slice(readme.indexOf('<!-- options-table:end'))
    for (const line of outside.split('\n')) {
      const m = /^\| `(\w+)` \| ([^|]*) \| ([^|]*) \|/.exec(line)
      const s = m === null ? undefined : settings.find(x => x.name === m[1])
      if (s === undefined || m![2]!.trim() === '') continue
      checked++
      expect(m![2], `${s.name}: flag`).toContain(`--${s.offFlag ?? flagOf(s)}`)
      expect(m![2], `${s.name}: variable`).toContain(envOf(s))
      if (s.type === 'int') expect(m![3]!.replace(/`/g, '').trim(), `${s.name}: default`).toBe(shown(s))
    }
    expect(checked).toBeGreaterThan(10)
  })

  it('--help names every setting with its flag, variable and default', () => {
    const help = helpText('x')
    for (const s of settings) {
      expect(help).toContain(`--${s.offFlag ?? flagOf(s)}`)
      expect(help).toContain(envOf(s))
    }
    const r = cli(['--help'])
    expect(r.status).toBe(0)
    expect(r.stdout).toBe(helpText(JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')).version as string) + '\n')
  })

  // Seven cold CLI starts in a row (tsx compiles each): ~3 s apiece on a loaded 2-core CI machine.
  it('a bad value exits 2 naming where it came from, the value and what was expected', { timeout: 120_000 }, () => {
    const dir = tempDir()
    cleanups.push(dir.remove)
    const flag = cli(['--max-docs', '0'])
    expect(flag.status).toBe(2)
    expect(flag.stderr).toMatch(/--max-docs must be a whole number of at least 1, got 0/)
    const env = cli([], { WEFT_PRESENCE_COALESCE_MS: '5000' })
    expect(env.status).toBe(2)
    expect(env.stderr).toMatch(/WEFT_PRESENCE_COALESCE_MS must be a whole number from 0 to 1000, got 5000/)
    const bool = cli([], { WEFT_MEMORY: 'maybe' })
    expect(bool.status).toBe(2)
    expect(bool.stderr).toMatch(/WEFT_MEMORY must be true or false/)
    const file = join(dir.path, 'weft.json')
    writeFileSync(file, JSON.stringify({ memory: true, logLevel: 'loud' }))
    const inFile = cli(['--config', file])
    expect(inFile.status).toBe(2)
    expect(inFile.stderr).toContain(`"logLevel" in ${file} must be one of debug, info, warn, error, got "loud"`)
    writeFileSync(file, JSON.stringify({ maxDoc: 5 }))
    const unknown = cli(['--config', file])
    expect(unknown.status).toBe(2)
    expect(unknown.stderr).toMatch(/unknown option "maxDoc"/)
    writeFileSync(file, '{ not json')
    expect(cli(['--config', file]).stderr).toMatch(/not JSON/)
    expect(cli(['--config', join(dir.path, 'missing.json')]).stderr).toMatch(/cannot read it \(ENOENT\)/)
  })

  it('a config file sets options; a variable wins over it and a flag over both', async () => {
    const dir = tempDir()
    cleanups.push(dir.remove)
    const file = join(dir.path, 'weft.json')
    writeFileSync(file, JSON.stringify({ memory: true, logLevel: 'info', maxDocs: 7, maxConnectionsPerDoc: 3, port: 1 }))
    const child = await startChildServer(['--config', file, '--max-connections-per-doc', '4'], { WEFT_MAX_DOCS: '9' })
    cleanups.push(() => child.proc.kill('SIGKILL'))
    await waitFor(() => child.stderr().includes('weft started'), 'the startup line')
    const started = child.stderr().split('\n').filter(l => l.includes('weft started')).map(l => JSON.parse(l) as { set: Record<string, string> })[0]!
    expect(started.set).toMatchObject({ memory: `"memory" in ${file}`, maxDocs: 'WEFT_MAX_DOCS', maxConnectionsPerDoc: '--max-connections-per-doc', port: '--port' })
  })

  it('createWeft() checks its options against the same table', async () => {
    await expect(createWeft({ storage: memoryStorage(), maxDocs: 'many' as unknown as number })).rejects.toThrow('option "maxDocs" must be a whole number of at least 1, got "many"')
    await expect(createWeft({ storage: memoryStorage(), presenceCoalesceMs: 0 })).resolves.toBeDefined()
    await expect(createWeft({ storage: memoryStorage(), allowedOrigins: [] })).rejects.toThrow(/"allowedOrigins" must be a list of origins/)
  })
})
