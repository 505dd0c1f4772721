/**
 * The first-run pages in headless Chromium: two tabs edit `/edit/x` at once and converge (and a
 * Node client and the viewer page agree), remote carets carry names, the home page's links,
 * snippets and doc list work, and the editor keeps working with WebSocket disabled.
 * Screenshots go to test-artifacts/ui-browser/.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { join } from 'node:path'
import type { Browser, BrowserContext, Page } from 'playwright-core'
import { startMounted, startServer, tempDir, type TestServer } from '../helpers/server.js'
import { stockClient, synced, type StockClient } from '../helpers/providers.js'
import { artifactsDir, chromiumAvailable, launchChromium } from '../helpers/chromium.js'
import { waitFor } from '../helpers/wait.js'
import { leveldbStorage } from '../../server/storage/leveldb.js'
import { buildUi, uiBundleStale } from '../../client/ui/build.js'
import { hsToken, SECRET } from '../helpers/tokens.js'

const suite = 'ui-browser'
const runnable = chromiumAvailable(suite)
const ADMIN = 'admin-token-for-browser-tests-42'

/** What the editor page exposes on `window.weft` (see client/ui/editor.ts). */
const pageText = (p: Page): Promise<string> => p.evaluate(() => (window as any).weft.view.state.doc.toString() as string)
const pageYText = (p: Page): Promise<string> => p.evaluate(() => (window as any).weft.ytext.toString() as string)

/** Collects uncaught page errors and Content-Security-Policy violations (the pages send a strict CSP). */
function watchErrors (page: Page): string[] {
  const errors: string[] = []
  page.on('pageerror', err => errors.push(err.message))
  page.on('console', msg => { if (msg.type() === 'error' && /Content.Security.Policy/i.test(msg.text())) errors.push(msg.text()) })
  return errors
}

async function openEditor (ctx: BrowserContext, url: string): Promise<Page> {
  const page = await ctx.newPage()
  const errors = watchErrors(page)
  await page.goto(url)
  await page.waitForSelector('.cm-content', { timeout: 20_000 })
  await page.waitForSelector('#synced[data-synced="true"]', { timeout: 20_000 })
  expect(errors, 'page errors').toEqual([])
  return page
}

describe.skipIf(!runnable)('first-run pages in Chromium', () => {
  let dir: ReturnType<typeof tempDir>
  let server: TestServer
  let browser: Browser
  let shots: string
  const clients: StockClient[] = []

  beforeAll(async () => {
    if (uiBundleStale()) await buildUi()
    dir = tempDir()
    server = await startServer({ storage: leveldbStorage(dir.path) })
    browser = await launchChromium()
    shots = artifactsDir(suite)
  }, 60_000)
  afterAll(async () => {
    for (const c of clients.splice(0)) c.destroy()
    await browser?.close()
    await server?.close()
    dir?.remove()
  })

  it('two pages edit /edit/x at once and converge; the viewer and a Node client agree; remote carets carry names', async () => {
    const ctx = await browser.newContext({ viewport: { width: 1280, height: 760 } })
    try {
      const a = await openEditor(ctx, `${server.url}/edit/x`)
      const b = await openEditor(ctx, `${server.url}/edit/x`)
      expect(await a.textContent('#transport')).toBe('websocket')
      expect(await a.textContent('#status')).toBe('connected')
      const nameA = await a.evaluate(() => (window as any).weft.user().name as string)
      const nameB = await b.evaluate(() => (window as any).weft.user().name as string)

      // A writes at the start, B at the end, at the same time.
      await a.click('.cm-content')
      await a.keyboard.type('# Notes from A\n')
      await waitFor(async () => (await pageText(b)).includes('Notes from A'), 'B to see A\'s heading', 15_000)
      await b.click('.cm-content')
      await b.keyboard.press('Control+End')
      await a.keyboard.press('Control+Home')
      const fromA = 'Alpha types here while '
      const fromB = ' and Beta types there.'
      await Promise.all([a.keyboard.type(fromA, { delay: 15 }), b.keyboard.type(fromB, { delay: 15 })])

      await waitFor(async () => {
        const [ta, tb] = await Promise.all([pageText(a), pageText(b)])
        return ta === tb && ta.includes(fromA) && ta.includes(fromB)
      }, 'both pages to show the same text with both edits', 20_000)
      const text = await pageText(a)
      expect(await pageYText(b)).toBe(text)
      expect(text).toContain('# Notes from A')

      // The server's copy, through a stock y-websocket client.
      const node = stockClient(server.wsUrl, 'x')
      clients.push(node)
      await synced(node)
      await waitFor(() => node.text.toString() === text, 'a Node client to see the same text')

      // Remote carets with names (awareness): each page shows the other's.
      await waitFor(async () => (await a.locator('.cm-ySelectionInfo', { hasText: nameB }).count()) > 0, 'B\'s caret label on A', 15_000)
      await waitFor(async () => (await b.locator('.cm-ySelectionInfo', { hasText: nameA }).count()) > 0, 'A\'s caret label on B', 15_000)
      expect(await a.locator('.person', { hasText: nameB }).count()).toBe(1)
      expect(await a.textContent('#count')).toMatch(/[23] people here/)
      await a.screenshot({ path: join(shots, 'editor-a.png') })
      await b.screenshot({ path: join(shots, 'editor-b.png') })

      // The read-only viewer page (issue 4) shows the same text.
      const viewRes = await fetch(`${server.url}/view/x`)
      if (viewRes.status === 404) {
        console.warn('ui-browser: /view/:doc is not served by this build yet — viewer assertion SKIPPED')
      } else {
        expect(viewRes.status).toBe(200)
        const viewer = await ctx.newPage()
        await viewer.goto(`${server.url}/view/x`)
        await waitFor(async () => ((await viewer.textContent('body')) ?? '').includes(fromB.trim()), 'the viewer to show the text', 20_000)
        const body = (await viewer.textContent('body')) ?? ''
        expect(body).toContain(fromA.trim())
        expect(body).toContain('Notes from A')
        await viewer.screenshot({ path: join(shots, 'viewer.png') })
      }
    } finally {
      await ctx.close()
    }
  })

  it('home page: status, links and snippets follow the typed name, the doc list shows live docs', async () => {
    const ctx = await browser.newContext({ viewport: { width: 1280, height: 900 } })
    try {
      const editor = await openEditor(ctx, `${server.url}/edit/${encodeURIComponent('team/plan 2026')}`)
      await editor.click('.cm-content')
      await editor.keyboard.type('Plan for 2026')
      const home = await ctx.newPage()
      const errors = watchErrors(home)
      await home.goto(`${server.url}/`)
      expect(await home.textContent('#server-status')).toBe('ready')
      expect(await home.textContent('#snippet-y-websocket')).toContain(`new WebsocketProvider('${server.wsUrl}', 'welcome', doc)`)
      expect(await home.textContent('#snippet-event-source')).toContain(`new EventSource('${server.url}/docs/welcome/events?view=json')`)

      await home.fill('#doc-name', 'team/plan 2026')
      expect(await home.getAttribute('#link-edit', 'href')).toBe('/edit/team%2Fplan%202026')
      expect(await home.getAttribute('#link-view', 'href')).toBe('/view/team%2Fplan%202026')
      expect(await home.getAttribute('#link-events', 'href')).toBe('/docs/team%2Fplan%202026/events')
      expect(await home.textContent('#snippet-y-websocket')).toContain("encodeURIComponent('team/plan 2026')")
      expect(await home.textContent('#snippet-weft-client')).toContain(`new WeftProvider('${server.url}', 'team/plan 2026', doc)`)
      expect(await home.textContent('#snippet-curl')).toBe(`curl -N '${server.url}/docs/team%2Fplan%202026/events?view=json'`)

      // The doc list: the doc being edited, with its editor.
      const row = home.locator('tr[data-doc="team/plan 2026"]')
      await row.waitFor({ timeout: 15_000 })
      expect(await row.locator('td').nth(1).textContent()).toBe('1')
      await home.screenshot({ path: join(shots, 'home.png'), fullPage: true })

      // The form opens the editor on that doc.
      await home.click('#open-form button[type=submit]')
      await home.waitForURL(/\/edit\/team%2Fplan%202026$/)
      await home.waitForSelector('#synced[data-synced="true"]', { timeout: 20_000 })
      await waitFor(async () => (await pageText(home)) === 'Plan for 2026', 'the opened editor to load the doc', 15_000)
      expect(errors).toEqual([])
    } finally {
      await ctx.close()
    }
  })

  it('home page asks for the admin token when /docs is locked, then lists the docs', async () => {
    const locked = await startServer({ storage: leveldbStorage(join(dir.path, 'locked')), adminToken: ADMIN })
    const ctx = await browser.newContext({ viewport: { width: 1280, height: 900 } })
    try {
      const handle = await locked.weft.openDoc('secret-plans')
      handle.doc.getText('text').insert(0, 'x')
      await handle.stored()
      const home = await ctx.newPage()
      await home.goto(`${locked.url}/`)
      await home.waitForSelector('.locked input[type=password]', { timeout: 15_000 })
      expect(await home.textContent('#docs-body')).toContain('admin token')
      expect(await home.textContent('#docs-body')).not.toContain('secret-plans')
      await home.screenshot({ path: join(shots, 'home-locked.png') })
      await home.fill('.locked input[type=password]', 'not-the-right-token-at-all')
      await home.click('.locked button')
      await home.waitForSelector('.locked input[type=password]')
      await home.fill('.locked input[type=password]', ADMIN)
      await home.click('.locked button')
      await home.locator('tr[data-doc="secret-plans"]').waitFor({ timeout: 15_000 })
      await handle.release()
    } finally {
      await ctx.close()
      await locked.close()
    }
  })

  it('with JWT auth: the editor connects with ?token=, and says what is missing without one', async () => {
    const secure = await startServer({ storage: leveldbStorage(join(dir.path, 'secure')), auth: { secret: SECRET } })
    const ctx = await browser.newContext({ viewport: { width: 1280, height: 760 } })
    try {
      const token = await hsToken({ docs: 'team/*', access: 'write' })
      const page = await openEditor(ctx, `${secure.url}/edit/${encodeURIComponent('team/secret')}?token=${token}`)
      expect(await page.evaluate(() => document.body.classList.contains('needs-token'))).toBe(false)
      expect(await page.getAttribute('#link-view', 'href')).toBe(`${secure.url}/view/team%2Fsecret?token=${token}`)
      const node = stockClient(secure.wsUrl, 'team/secret', { params: { token } })
      clients.push(node)
      await synced(node)
      await page.click('.cm-content')
      await page.keyboard.type('for token holders')
      await waitFor(() => node.text.toString() === 'for token holders', 'the Node client to get the edit', 20_000)

      const bare = await ctx.newPage()
      await bare.goto(`${secure.url}/edit/${encodeURIComponent('team/secret')}`)
      await bare.waitForSelector('body.needs-token', { timeout: 15_000 })
      expect(await bare.isVisible('#auth-hint')).toBe(true)
      await new Promise(resolve => setTimeout(resolve, 1000))
      expect(await bare.textContent('#status')).not.toBe('connected')
      expect(await bare.evaluate(() => (window as any).weft.ytext.toString())).toBe('')
      await bare.screenshot({ path: join(shots, 'editor-needs-token.png') })
    } finally {
      await ctx.close()
      await secure.close()
    }
  })

  it('under a mount prefix (app.use(\'/collab\', weft.router)) the editor edits the right doc', async () => {
    const mounted = await startMounted({ storage: leveldbStorage(join(dir.path, 'mounted')) }, '/collab')
    const { weft, port } = mounted
    const ctx = await browser.newContext({ viewport: { width: 1280, height: 760 } })
    try {
      const page = await openEditor(ctx, `http://127.0.0.1:${port}/collab/edit/m`)
      const node = stockClient(`ws://127.0.0.1:${port}`, 'm')
      clients.push(node)
      await synced(node)
      await page.click('.cm-content')
      await page.keyboard.type('mounted')
      await waitFor(() => node.text.toString() === 'mounted', 'the doc "m" to get the page\'s edit', 20_000)
      expect(weft.context.registry.get('collab/m')).toBeUndefined()
    } finally {
      await ctx.close()
      await mounted.close()
    }
  })

  it('edits with WebSocket disabled in the page, through the fallback tiers', async (t) => {
    const client = await import('../../client/index.js') as Record<string, unknown>
    if (typeof client.WeftProvider !== 'function') {
      console.warn('ui-browser: WeftProvider is not in client/index.ts yet — WebSocket-disabled editing SKIPPED')
      return t.skip()
    }
    const ctx = await browser.newContext({ viewport: { width: 1280, height: 760 } })
    try {
      await ctx.addInitScript(() => { Object.defineProperty(window, 'WebSocket', { value: undefined, configurable: true, writable: true }) })
      const page = await openEditor(ctx, `${server.url}/edit/no-ws`)
      expect(await page.evaluate(() => typeof (window as any).WebSocket)).toBe('undefined')
      const transport = await page.textContent('#transport')
      expect(['sse', 'poll']).toContain(transport)
      const node = stockClient(server.wsUrl, 'no-ws')
      clients.push(node)
      await synced(node)
      await page.click('.cm-content')
      await page.keyboard.type('typed without WebSocket')
      await waitFor(() => node.text.toString() === 'typed without WebSocket', 'the Node client to get the page\'s edit', 20_000)
      node.text.insert(node.text.length, ' + from Node')
      await waitFor(async () => (await pageText(page)) === 'typed without WebSocket + from Node', 'the page to get the Node edit', 20_000)
      await page.screenshot({ path: join(shots, `editor-no-websocket-${transport!}.png`) })
    } finally {
      await ctx.close()
    }
  })
})
