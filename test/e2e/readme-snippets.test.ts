/**
 * The README's code, run as written, so the docs cannot rot. A block is a snippet when the line
 * before its fence says so:
 *
 *   <!-- snippet node -->                       run in Node; must exit 0 by itself
 *   <!-- snippet node until text DOC WORD -->   run in Node until the server's doc DOC holds WORD
 *   <!-- snippet browser until log WORD -->     run in Chromium, from a page on another origin,
 *                                               until the page logs WORD (the test types WORD
 *                                               into the snippet's doc with a stock provider)
 *   <!-- snippet browser bundle until dom WORD --> the same, bundled first (bare imports), until
 *                                               the page shows WORD
 *
 * Each runs against a real Weft with default options (the README promises defaults work); the
 * only change made to a snippet is the port: `127.0.0.1:1234` → the test server's, `listen(1234)`
 * → `listen(0)`, and `y-weft/*` imports → this checkout's sources.
 */
import { spawn } from 'node:child_process'
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { build } from 'esbuild'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Browser } from 'playwright-core'
import { startServer, type TestServer } from '../helpers/server.js'
import { stockClient, synced } from '../helpers/providers.js'
import { chromiumAvailable, launchChromium } from '../helpers/chromium.js'
import { waitFor } from '../helpers/wait.js'
import { memoryStorage } from '../../server/storage/memory.js'

const root = fileURLToPath(new URL('../..', import.meta.url))

interface Snippet { line: number, where: 'node' | 'browser', bundle: boolean, until: string[] | null, lang: string, code: string }

function readSnippets (): Snippet[] {
  const readme = readFileSync(join(root, 'README.md'), 'utf8')
  const out: Snippet[] = []
  const re = /<!-- snippet (node|browser)( bundle)?(?: until ([^>]*?))? -->\n```(\w+)\n([\s\S]*?)\n```/g
  for (let m = re.exec(readme); m !== null; m = re.exec(readme)) {
    out.push({ line: readme.slice(0, m.index).split('\n').length, where: m[1] as 'node' | 'browser', bundle: m[2] !== undefined, until: m[3]?.trim().split(/\s+/) ?? null, lang: m[4]!, code: m[5]! })
  }
  return out
}

const snippets = readSnippets()

/** The snippet pointed at the test server and at this checkout's sources (file URLs for Node, paths for esbuild). */
function localise (code: string, port: number, imports: 'url' | 'path' = 'url'): string {
  const sourceOf = (entry: string): string => imports === 'url' ? pathToFileURL(join(root, entry, 'index.ts')).href : join(root, entry, 'index.ts')
  return code
    .replaceAll('127.0.0.1:1234', `127.0.0.1:${port}`)
    .replaceAll('listen(1234)', 'listen(0)')
    .replace(/from 'y-weft\/(server|client|shared)'/g, (_, entry: string) => `from '${sourceOf(entry)}'`)
}

describe('README snippets', () => {
  let server: TestServer
  const work = join(root, 'test-artifacts', 'readme-snippets')

  beforeAll(async () => {
    server = await startServer({ storage: memoryStorage() })
    mkdirSync(work, { recursive: true })
  })
  afterAll(async () => { await server?.close() })

  it('the README marks its runnable blocks (node and browser)', () => {
    expect(snippets.filter(s => s.where === 'node').length).toBeGreaterThanOrEqual(2)
    expect(snippets.filter(s => s.where === 'browser').length).toBeGreaterThanOrEqual(2)
  })

  for (const s of snippets.filter(s => s.where === 'node')) {
    it(`Node snippet at README line ${s.line} runs${s.until !== null ? ` until ${s.until.join(' ')}` : ' and exits'}`, async () => {
      const dir = mkdtempSync(join(work, 'node-'))
      try {
        const file = join(dir, `snippet.${s.lang === 'ts' ? 'mts' : 'mjs'}`)
        writeFileSync(file, localise(s.code, server.port))
        const child = spawn(process.execPath, ['--import', 'tsx', file], { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] })
        let stderr = ''
        child.stderr.on('data', d => { stderr += String(d) })
        const exited = new Promise<number | null>(resolve => child.once('exit', code => resolve(code)))
        try {
          if (s.until === null) {
            const code = await Promise.race([exited, new Promise<'timeout'>(resolve => setTimeout(() => resolve('timeout'), 30_000))])
            expect(code, `exit code; stderr: ${stderr}`).toBe(0)
          } else {
            const [kind, doc, word] = s.until
            expect(kind).toBe('text')
            const watcher = stockClient(server.wsUrl, doc!)
            try {
              await synced(watcher)
              await waitFor(() => watcher.text.toString().includes(word!), `doc ${doc} to hold "${word}" (stderr: ${stderr})`, 20_000)
            } finally {
              watcher.destroy()
            }
            expect(stderr).toBe('')
          }
        } finally {
          child.kill('SIGKILL')
        }
      } finally {
        rmSync(dir, { recursive: true, force: true })
      }
    }, 45_000)
  }

  describe.skipIf(!chromiumAvailable('readme-snippets'))('in Chromium, from another origin', () => {
    let browser: Browser
    let page: Server
    let pageUrl = ''
    let script = ''

    beforeAll(async () => {
      browser = await launchChromium()
      // The reader's own page: another origin (another port) than the Weft server.
      page = createServer((req, res) => {
        if (req.url === '/snippet.js') { res.writeHead(200, { 'content-type': 'text/javascript' }); res.end(script); return }
        res.writeHead(200, { 'content-type': 'text/html' })
        res.end('<!doctype html><meta charset="utf-8"><title>my app</title><body><script type="module" src="/snippet.js"></script></body>')
      })
      await new Promise<void>(resolve => page.listen(0, '127.0.0.1', resolve))
      pageUrl = `http://127.0.0.1:${(page.address() as AddressInfo).port}/`
    }, 60_000)
    afterAll(async () => {
      await browser?.close()
      await new Promise<void>(resolve => page?.close(() => resolve()) ?? resolve())
    })

    for (const s of snippets.filter(s => s.where === 'browser')) {
      it(`browser snippet at README line ${s.line}${s.bundle ? ' (bundled)' : ''} works until ${s.until?.join(' ')}`, async () => {
        const [kind, word] = s.until ?? []
        expect(['log', 'dom']).toContain(kind)
        const code = localise(s.code, server.port, s.bundle ? 'path' : 'url')
        script = s.bundle
          ? (await build({ stdin: { contents: code, resolveDir: root, loader: 'ts' }, bundle: true, format: 'esm', platform: 'browser', write: false, logLevel: 'silent' })).outputFiles[0]!.text
          : code
        const ctx = await browser.newContext()
        try {
          const tab = await ctx.newPage()
          const logs: string[] = []
          const errors: string[] = []
          tab.on('console', msg => { void Promise.all(msg.args().map(a => a.jsonValue().catch(() => msg.text()))).then(v => logs.push(JSON.stringify(v))) })
          tab.on('pageerror', err => errors.push(err.message))
          await tab.goto(pageUrl)
          // The snippet follows `my-doc`; someone types the word into it.
          const writer = stockClient(server.wsUrl, 'my-doc')
          try {
            await synced(writer)
            writer.text.insert(writer.text.length, ` ${word!} `)
            if (kind === 'log') await waitFor(() => logs.some(l => l.includes(word!)), `the page to log "${word}" (errors: ${errors.join('; ')}; logs: ${logs.join(' ')})`, 20_000)
            else await waitFor(async () => (await tab.evaluate(() => document.body.innerText)).includes(word!), `the page to show "${word}" (errors: ${errors.join('; ')})`, 20_000)
          } finally {
            writer.destroy()
          }
          expect(errors).toEqual([])
        } finally {
          await ctx.close()
        }
      }, 60_000)
    }
  })
})
