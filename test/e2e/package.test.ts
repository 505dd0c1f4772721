/**
 * The package as a stranger installs it: `npm pack` (prepack builds from source), the tarball
 * installed into an empty project without dev dependencies, the `weft` bin started from there
 * and synced through with the stock provider, and the three entry points imported from plain
 * ESM and type-checked from TypeScript with the shipped declarations.
 *
 * The pack runs in a copy of the sources (node_modules linked), so its build cannot disturb the
 * `dist/` that other test files serve pages from while this one runs.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process'
import { cpSync, mkdirSync, readdirSync, symlinkSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { stockClient, synced } from '../helpers/providers.js'
import { tempDir } from '../helpers/server.js'
import { waitFor } from '../helpers/wait.js'

const run = promisify(execFile)
const root = fileURLToPath(new URL('../..', import.meta.url))
const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm'

describe('the packed tarball', () => {
  const work = tempDir('weft-pack-')
  const src = join(work.path, 'src')
  const app = join(work.path, 'app')
  let tarball = ''
  let files: string[] = []

  beforeAll(async () => {
    mkdirSync(src)
    for (const entry of ['server', 'client', 'shared', 'bin', 'package.json', 'package-lock.json', 'tsconfig.json', 'tsconfig.build.json', 'README.md', 'LICENSE']) {
      cpSync(join(root, entry), join(src, entry), { recursive: true })
    }
    symlinkSync(join(root, 'node_modules'), join(src, 'node_modules'), 'dir')
    const { stdout } = await run(npm, ['pack', '--json', '--pack-destination', work.path], { cwd: src, maxBuffer: 64 * 1024 * 1024 })
    const [info] = JSON.parse(stdout.slice(stdout.indexOf('['))) as Array<{ filename: string, files: Array<{ path: string }>, size: number, unpackedSize: number }>
    tarball = join(work.path, info!.filename)
    files = info!.files.map(f => f.path)
    console.info(`[package] ${info!.filename}: ${(info!.size / 1024).toFixed(0)} KiB packed, ${(info!.unpackedSize / 1024).toFixed(0)} KiB unpacked, ${files.length} files`)

    mkdirSync(app)
    writeFileSync(join(app, 'package.json'), JSON.stringify({ name: 'consumer', private: true, type: 'module' }))
    await run(npm, ['install', '--omit=dev', '--no-audit', '--no-fund', tarball, '@types/node@20'], { cwd: app, maxBuffer: 64 * 1024 * 1024 })
  }, 300_000)

  afterAll(() => { work.remove() })

  it('ships the compiled server, client, shared code, types, bin and pages, and no tests or benches', () => {
    for (const f of ['bin/weft.js', 'dist/server/cli.js', 'dist/server/index.js', 'dist/server/index.d.ts', 'dist/client/index.js', 'dist/client/index.d.ts', 'dist/shared/index.js', 'dist/ui/manifest.json', 'LICENSE', 'README.md']) {
      expect(files, f).toContain(f)
    }
    expect(files.filter(f => /^(test|bench)\//.test(f) || f.endsWith('.ts') && !f.endsWith('.d.ts'))).toEqual([])
  })

  it('installs without dev dependencies: no TypeScript loader at run time', () => {
    expect(readdirSync(join(app, 'node_modules'))).not.toContain('tsx')
  })

  it('`npx weft` serves, and the stock provider syncs through it', async () => {
    const server: ChildProcess = spawn(process.execPath, [join(app, 'node_modules/y-weft/bin/weft.js'), '--port', '0', '--memory'], { cwd: app, stdio: ['ignore', 'pipe', 'pipe'] })
    try {
      let out = ''
      server.stdout!.on('data', d => { out += String(d) })
      await waitFor(() => /listening on http:\/\/[^:]+:\d+/.test(out), 'the installed server to listen', 20_000)
      const port = Number(/listening on http:\/\/[^:]+:(\d+)/.exec(out)![1])
      const a = stockClient(`ws://127.0.0.1:${port}`, 'installed')
      const b = stockClient(`ws://127.0.0.1:${port}`, 'installed')
      try {
        await synced(a, b)
        a.text.insert(0, 'from a stranger')
        await waitFor(() => b.text.toString() === 'from a stranger', 'the edit to reach the second provider')
      } finally {
        a.destroy()
        b.destroy()
      }
    } finally {
      server.kill('SIGTERM')
    }
  })

  it('imports y-weft/server, /client and /shared from plain ESM', async () => {
    writeFileSync(join(app, 'consumer.mjs'), `
import { createWeft, memoryStorage } from 'y-weft/server'
import { WeftProvider } from 'y-weft/client'
import { CloseCode } from 'y-weft/shared'
const weft = await createWeft({ storage: memoryStorage() })
await weft.close()
console.log(typeof WeftProvider, CloseCode.storageFailed)
`)
    const { stdout } = await run(process.execPath, ['consumer.mjs'], { cwd: app })
    expect(stdout.trim()).toBe('function 4500')
  })

  it('type-checks a TypeScript consumer against the shipped declarations', async () => {
    writeFileSync(join(app, 'consumer.ts'), `
import { createWeft, type WeftOptions } from 'y-weft/server'
import { WeftProvider } from 'y-weft/client'
import { CloseCode } from 'y-weft/shared'
const options: WeftOptions = { maxDocs: 10 }
const code: number = CloseCode.tooSlow
export async function start (): Promise<void> {
  const weft = await createWeft(options)
  await weft.close()
}
export const providerClass: typeof WeftProvider = WeftProvider
export { code }
`)
    writeFileSync(join(app, 'tsconfig.json'), JSON.stringify({
      compilerOptions: { target: 'ES2022', module: 'NodeNext', moduleResolution: 'NodeNext', strict: true, noEmit: true, skipLibCheck: true, types: ['node'] },
      files: ['consumer.ts']
    }))
    const tsc = join(root, 'node_modules/typescript/bin/tsc')
    const r = await run(process.execPath, [tsc, '-p', 'tsconfig.json'], { cwd: app }).catch((err: { stdout: string }) => ({ stdout: err.stdout, failed: true }))
    expect(r.stdout).toBe('')
  })
})
