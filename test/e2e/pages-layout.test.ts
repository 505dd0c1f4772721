/**
 * The pages on a phone and on a laptop, measured in headless Chromium: nothing wider than the
 * screen (no sideways scrolling), the editor's status bar entirely on screen, and a remote
 * caret's name label on the first line not clipped by the editor. Screenshots go to
 * test-artifacts/pages-layout/.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { join } from 'node:path'
import type { Browser, Page } from 'playwright-core'
import { startServer, type TestServer } from '../helpers/server.js'
import { stockClient, synced, type StockClient } from '../helpers/providers.js'
import { artifactsDir, chromiumAvailable, launchChromium } from '../helpers/chromium.js'
import { memoryStorage } from '../../server/storage/memory.js'
import { buildUi, uiBundleStale } from '../../client/ui/build.js'

const suite = 'pages-layout'
const runnable = chromiumAvailable(suite)
const widths = [390, 1280]

/** Elements whose box reaches past the viewport, outside any element that scrolls or clips them. */
function overflowing (page: Page): Promise<string[]> {
  return page.evaluate(() => {
    const width = document.documentElement.clientWidth
    const clipped = (el: Element): boolean => {
      for (let p = el.parentElement; p != null && p !== document.body; p = p.parentElement) {
        const o = getComputedStyle(p).overflowX
        if (o !== 'visible') return p.getBoundingClientRect().right <= width + 1
      }
      return false
    }
    const out: string[] = []
    if (document.documentElement.scrollWidth > width) out.push(`page scrolls sideways: ${document.documentElement.scrollWidth} > ${width}`)
    for (const el of document.querySelectorAll('body *')) {
      const r = el.getBoundingClientRect()
      if (r.width > 0 && r.right > width + 1 && !clipped(el)) out.push(`${el.tagName.toLowerCase()}${el.id !== '' ? '#' + el.id : ''}.${String(el.className)} right=${Math.round(r.right)}`)
    }
    return out.slice(0, 10)
  })
}

describe.skipIf(!runnable)('pages at phone and laptop widths', () => {
  let server: TestServer
  let browser: Browser
  let shots: string
  let peer: StockClient

  beforeAll(async () => {
    if (uiBundleStale()) await buildUi()
    server = await startServer({ storage: memoryStorage() })
    browser = await launchChromium()
    shots = artifactsDir(suite)
    // A doc with content and a present peer, so the doc list, people and carets have something to show.
    peer = stockClient(server.wsUrl, 'a-rather-long-document-name/with/segments-to-wrap')
    await synced(peer)
    peer.text.insert(0, 'First line of a shared document\nsecond line')
    peer.provider.awareness.setLocalStateField('user', { name: 'Remote Ada', color: '#e5484d' })
    peer.provider.awareness.setLocalStateField('cursor', null)
  }, 60_000)

  afterAll(async () => {
    peer?.destroy()
    await browser?.close()
    await server?.close()
  })

  for (const width of widths) {
    it(`home, editor and viewer fit ${width} px`, async () => {
      const ctx = await browser.newContext({ viewport: { width, height: 800 }, isMobile: width < 500, hasTouch: width < 500 })
      try {
        const doc = encodeURIComponent('a-rather-long-document-name/with/segments-to-wrap')
        for (const [name, path] of [['home', '/'], ['edit', `/edit/${doc}`], ['view', `/view/${doc}`]] as const) {
          const page = await ctx.newPage()
          await page.goto(server.url + path)
          if (name === 'edit') await page.waitForSelector('#synced[data-synced="true"]', { timeout: 20_000 })
          if (name === 'home') await page.waitForSelector('table.docs .name', { timeout: 20_000 })
          if (name === 'view') await page.waitForFunction(() => document.body.innerText.includes('First line'), undefined, { timeout: 20_000 })
          await page.screenshot({ path: join(shots, `${name}-${width}.png`) })
          expect(await overflowing(page), `${name} at ${width} px`).toEqual([])
          if (name === 'edit') {
            // Every status item is on screen (none cut off by the bar's own overflow).
            const status = await page.evaluate(() => {
              const bar = document.querySelector('footer.status')!.getBoundingClientRect()
              return [...document.querySelectorAll('footer.status > *')]
                .filter(el => getComputedStyle(el).display !== 'none' && el.getBoundingClientRect().width > 0)
                .map(el => ({ id: el.id, right: el.getBoundingClientRect().right, bottom: el.getBoundingClientRect().bottom, barRight: bar.right, barBottom: bar.bottom, width: document.documentElement.clientWidth, height: document.documentElement.clientHeight }))
            })
            expect(status.length).toBeGreaterThan(2)
            for (const s of status) {
              expect(s.right, `status item #${s.id} at ${width} px`).toBeLessThanOrEqual(Math.min(s.barRight, s.width) + 0.5)
              expect(s.bottom, `status item #${s.id} at ${width} px`).toBeLessThanOrEqual(s.height + 0.5)
            }
          }
          await page.close()
        }
      } finally {
        await ctx.close()
      }
    }, 60_000)
  }

  // At the start of line 1 the label sits above the first line; at the end of a line that
  // reaches the right edge of a phone it would stick out past the editor.
  for (const [where, index] of [['start', 0], ['end', 'First line of a shared document'.length]] as const) {
    it(`a remote caret at the ${where} of the first line shows its whole name label (390 px)`, async () => {
      const ctx = await browser.newContext({ viewport: { width: 390, height: 800 }, isMobile: true, hasTouch: true })
      try {
        const page = await ctx.newPage()
        await page.goto(`${server.url}/edit/${encodeURIComponent('a-rather-long-document-name/with/segments-to-wrap')}`)
        await page.waitForSelector('#synced[data-synced="true"]', { timeout: 20_000 })
        // The remote peer puts its caret there as a relative position, as y-codemirror.next does.
        const Y = await import('yjs')
        const json = Y.relativePositionToJSON(Y.createRelativePositionFromTypeIndex(peer.text, index))
        peer.provider.awareness.setLocalStateField('cursor', { anchor: json, head: json })
        await page.waitForSelector('.cm-ySelectionInfo', { timeout: 10_000 })
        await page.waitForTimeout(200) // one measure cycle of the editor
        const box = await page.evaluate(() => {
          const label = document.querySelector('.cm-ySelectionInfo')!.getBoundingClientRect()
          const scroller = document.querySelector('.cm-scroller')!.getBoundingClientRect()
          return { label: { top: label.top, left: label.left, right: label.right, height: label.height }, scroller: { top: scroller.top, left: scroller.left, right: scroller.right } }
        })
        await page.screenshot({ path: join(shots, `caret-label-${where}-390.png`) })
        expect(box.label.height).toBeGreaterThan(0)
        expect(box.label.top, 'label top inside the editor').toBeGreaterThanOrEqual(box.scroller.top)
        expect(box.label.left, 'label left inside the editor').toBeGreaterThanOrEqual(box.scroller.left)
        expect(box.label.right, 'label right inside the editor').toBeLessThanOrEqual(box.scroller.right + 0.5)
      } finally {
        await ctx.close()
      }
    }, 60_000)
  }
})
