/**
 * The browser bundle in headless Chromium edits a doc together with a Node client (the stock
 * y-websocket provider), once with WebSocket available and once with `window.WebSocket`
 * removed, where it must fall back to SSE + POST on its own.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { build } from 'esbuild'
import type { Browser, Page } from 'playwright-core'
import { memoryStorage } from '../../server/storage/memory.js'
import { chromiumAvailable, launchChromium } from '../helpers/chromium.js'
import { stockClient, synced, type StockClient } from '../helpers/providers.js'
import { startMounted, tempDir, type TestServer } from '../helpers/server.js'
import { waitFor as waitUntil } from '../helpers/wait.js'

// A shared 2-core machine can be slow: generous waits (they end as soon as the condition holds).
const waitFor = (check: () => boolean | Promise<boolean>, what: string, timeoutMs = 20_000): Promise<void> => waitUntil(check, what, timeoutMs)

const run = chromiumAvailable('client-browser')

function page (docName: string, disableWebSocket: boolean): string {
  return `<!doctype html><meta charset="utf-8"><title>weft client</title>
<script type="module">
${disableWebSocket ? 'window.WebSocket = undefined' : ''}
const { WeftProvider, Y } = await import('/weft-client.js')
const doc = new Y.Doc()
const provider = new WeftProvider(location.origin, ${JSON.stringify(docName)}, doc, { maxBackoffTime: 500, openTimeoutMs: 5000 })
provider.awareness.setLocalStateField('user', { name: 'browser' })
window.__weft = { doc, provider, text: doc.getText('text') }
</script>`
}

describe.skipIf(!run)('client bundle in Chromium', { timeout: 90_000 }, () => {
  let server: TestServer
  let base: string
  let browser: Browser
  const out = tempDir('weft-bundle-')
  const stocks: StockClient[] = []

  beforeAll(async () => {
    await build({
      entryPoints: [join(process.cwd(), 'client/bundle.ts')],
      bundle: true,
      format: 'esm',
      minify: true,
      platform: 'browser',
      target: 'es2020',
      outfile: join(out.path, 'weft-client.js'),
      logLevel: 'silent'
    })
    const bundle = readFileSync(join(out.path, 'weft-client.js'))
    server = await startMounted({ storage: memoryStorage() }, '/', app => {
      app.get('/weft-client.js', (_req, res) => { res.type('text/javascript').send(bundle) })
      app.get('/page/:doc', (req, res) => { res.type('html').send(page(req.params.doc, req.query.ws === '0')) })
    })
    base = server.url
    browser = await launchChromium()
  }, 60_000)

  afterAll(async () => {
    for (const s of stocks.splice(0)) s.destroy()
    await browser?.close()
    await server?.close()
    out.remove()
  })

  async function editTogether (docName: string, disableWebSocket: boolean, expected: string): Promise<void> {
    const stock = stockClient(base.replace('http', 'ws'), docName)
    stocks.push(stock)
    await synced(stock)
    stock.text.insert(0, 'node:')
    const p: Page = await browser.newPage()
    const errors: string[] = []
    p.on('pageerror', e => errors.push(e.message))
    try {
      await p.goto(`${base}/page/${docName}?ws=${disableWebSocket ? '0' : '1'}`)
      await p.waitForFunction(() => (window as any).__weft?.provider.synced === true, null, { timeout: 20_000 })
      expect(await p.evaluate(() => (window as any).__weft.provider.transport)).toBe(expected)
      expect(await p.evaluate(() => (window as any).__weft.text.toString())).toBe('node:')
      await p.evaluate(() => { const w = (window as any).__weft; w.text.insert(w.text.length, 'browser;') })
      await waitFor(() => stock.text.toString() === 'node:browser;', 'the Node client to get the browser edit')
      stock.text.insert(stock.text.length, 'node again')
      await p.waitForFunction(() => (window as any).__weft.text.toString() === 'node:browser;node again', null, { timeout: 10_000 })
      const browserId = await p.evaluate(() => (window as any).__weft.doc.clientID as number)
      await waitFor(() => (stock.provider.awareness.getStates().get(browserId) as any)?.user?.name === 'browser', 'the Node client to see the browser\'s presence')
      expect(errors).toEqual([])
      // Closing the tab says goodbye at once (pagehide), well before any 30 s timeout.
      await p.close({ runBeforeUnload: true })
      await waitFor(() => !stock.provider.awareness.getStates().has(browserId), 'the closed tab\'s presence to go', 10_000)
    } finally {
      if (!p.isClosed()) await p.close()
    }
  }

  it('edits over WebSocket when the page has it', async () => {
    await editTogether('browser-ws', false, 'websocket')
  })

  it('falls back to SSE + POST when the page has no WebSocket', async () => {
    await editTogether('browser-nows', true, 'sse')
  })
})
