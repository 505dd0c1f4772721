/**
 * The first-run pages and the doc list over real HTTP (no browser): what `/`, `/edit/:doc`,
 * the bundle and `GET /docs` answer, with and without auth, mounted at `/` and under a prefix,
 * and that `ui: false` / `--no-ui` removes the pages.
 */
import { afterEach, beforeAll, describe, expect, it } from 'vitest'
import { request as httpRequest } from 'node:http'
import * as Y from 'yjs'
import { startMounted, startServer, type TestServer } from '../helpers/server.js'
import { stockClient, synced, type StockClient } from '../helpers/providers.js'
import { hsToken, SECRET } from '../helpers/tokens.js'
import { startChildServer } from '../helpers/child-server.js'
import { waitFor } from '../helpers/wait.js'
import { memoryStorage } from '../../server/storage/memory.js'
import { createWeft, type Weft } from '../../server/weft.js'
import { AuthError, WeftOptionsError } from '../../server/options.js'
import { buildUi, uiBundleStale } from '../../client/ui/build.js'
import { renderEdit } from '../../server/ui/edit-page.js'
import { fillSnippet, fillSnippetSource, snippets } from '../../server/ui/snippets.js'
import { version } from '../../server/version.js'
import { appendAt } from '../helpers/append-at.js'

const ADMIN = 'admin-token-for-tests-0123456789'

const textUpdate = (text: string): Uint8Array => {
  const d = new Y.Doc()
  d.getText('text').insert(0, text)
  return Y.encodeStateAsUpdate(d)
}

/** GET with an arbitrary Host header (fetch does not allow setting it). */
function rawGet (url: string, headers: Record<string, string>): Promise<{ status: number, headers: Record<string, unknown>, body: string }> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(url, { headers }, res => {
      let body = ''
      res.setEncoding('utf8')
      res.on('data', d => { body += d })
      res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body }))
    })
    req.on('error', reject)
    req.end()
  })
}

describe('first-run pages', () => {
  let server: TestServer | null = null
  const clients: StockClient[] = []
  beforeAll(async () => {
    if (uiBundleStale()) await buildUi()
  }, 60_000)
  afterEach(async () => {
    for (const c of clients.splice(0)) c.destroy()
    await server?.close()
    server = null
  })

  it('home page: version, status, links and snippets filled with this server\'s URLs', async () => {
    server = await startServer({ storage: memoryStorage() })
    const res = await fetch(`${server.url}/`)
    expect(res.status).toBe(200)
    expect(res.headers.get('content-type')).toMatch(/^text\/html/)
    expect(res.headers.get('cache-control')).toBe('no-store')
    const html = await res.text()
    expect(html).toContain(`v${version}`)
    expect(html).toContain('>ready<')
    expect(html).toContain(`href="/edit/welcome"`)
    expect(html).toContain(`href="/view/welcome"`)
    expect(html).toContain(`href="/docs/welcome/events"`)
    // The three kinds of user, with real URLs (HTML-escaped inside <code>).
    expect(html).toContain(`new WebsocketProvider(&#39;${server.wsUrl}&#39;, &#39;welcome&#39;, doc)`)
    expect(html).toContain(`new WeftProvider(&#39;${server.url}&#39;, &#39;welcome&#39;, doc)`)
    expect(html).toContain(`new EventSource(&#39;${server.url}/docs/welcome/events?view=json&#39;)`)
    expect(html).toContain(`curl -N &#39;${server.url}/docs/welcome/events?view=json&#39;`)
    expect(html).not.toMatch(/https?:\/\/(cdn|unpkg|esm\.sh|jsdelivr)/)
  })

  it('links and snippets follow the mount point and the Host header, escaped', async () => {
    const mounted = await startMounted({ storage: memoryStorage() }, '/collab')
    const { port } = mounted
    try {
      const html = await (await fetch(`http://127.0.0.1:${port}/collab/`)).text()
      expect(html).toContain('href="/collab/edit/welcome"')
      expect(html).toContain(`new EventSource(&#39;http://127.0.0.1:${port}/collab/docs/welcome/events?view=json&#39;)`)
      // WebSocket upgrades are served on every path, whatever the HTTP mount point.
      expect(html).toContain(`new WebsocketProvider(&#39;ws://127.0.0.1:${port}&#39;`)
      const edit = await (await fetch(`http://127.0.0.1:${port}/collab/edit/x`)).text()
      expect(edit).toMatch(/src="\/collab\/ui\/assets\/editor-[A-Z0-9]+\.js"/)
      expect(edit).toContain(`"base":"http://127.0.0.1:${port}/collab"`)

      const hostile = await rawGet(`http://127.0.0.1:${port}/collab/`, { Host: 'x"><img src=y onerror=alert(1)>' })
      expect(hostile.status).toBe(200)
      expect(hostile.body).not.toContain('<img src=y')
      expect(hostile.body).toContain('&lt;img src=y onerror=alert(1)&gt;')
    } finally {
      await mounted.close()
    }
  })

  it('editor page: doc name as one path segment, bundle linked by hash, served with the right headers', async () => {
    server = await startServer({ storage: memoryStorage() })
    const res = await fetch(`${server.url}/edit/team%2Fnotes%20%3C1%3E`)
    expect(res.status).toBe(200)
    const html = await res.text()
    expect(html).toContain('"doc":"team/notes \\u003c1\\u003e"')
    expect(html).toContain('<title>team/notes &lt;1&gt; — Weft editor</title>')
    expect(html).toContain('href="/view/team%2Fnotes%20%3C1%3E"')
    const script = /src="\/ui\/assets\/(editor-[A-Z0-9]+\.js)"/.exec(html)?.[1]
    expect(script).toBeDefined()

    const plain = await rawGet(`${server.url}/ui/assets/${script!}`, {})
    expect(plain.status).toBe(200)
    expect(plain.headers['content-type']).toBe('text/javascript; charset=utf-8')
    expect(plain.headers['cache-control']).toBe('public, max-age=31536000, immutable')
    expect(plain.headers['content-encoding']).toBeUndefined()
    expect(plain.body.length).toBeGreaterThan(100_000)
    const br = await rawGet(`${server.url}/ui/assets/${script!}`, { 'Accept-Encoding': 'gzip, br' })
    expect(br.headers['content-encoding']).toBe('br')
    expect(br.headers.vary).toBe('Accept-Encoding')
    expect(Number(br.headers['content-length'])).toBeLessThan(plain.body.length / 2)
    const map = await fetch(`${server.url}/ui/assets/${script!}.map`)
    expect(map.headers.get('content-type')).toBe('application/json; charset=utf-8')
    await map.arrayBuffer()

    for (const bad of ['nope-AAAAAAAA.js', '..%2Fmanifest.json', 'manifest.json', '.hidden.js', 'x.exe']) {
      expect((await fetch(`${server.url}/ui/assets/${bad}`)).status, bad).toBe(404)
    }
    // The home page form without JavaScript.
    const redirect = await fetch(`${server.url}/edit?doc=${encodeURIComponent("a b/c'd")}`, { redirect: 'manual' })
    expect(redirect.status).toBe(302)
    expect(redirect.headers.get('location')).toBe('/edit/a%20b%2Fc%27d')
    // A name the server would refuse over WebSocket is refused here too.
    expect((await fetch(`${server.url}/edit/bad%01name`)).status).toBe(400)
    expect((await fetch(`${server.url}/edit/${'x'.repeat(600)}`)).status).toBe(400)
  })

  it('says how to build the bundle when it is missing', () => {
    const html = renderEdit({ doc: 'x', version, basePath: '', httpBase: 'http://h', script: null, auth: false })
    expect(html).toContain('npm run build:ui')
    expect(html).not.toContain('<script type="module"')
  })

  it('the browser copy of the snippet filler agrees with the server\'s', () => {
    const browserFill = new Function(`${fillSnippetSource}; return fillSnippet`)() as typeof fillSnippet
    const urls = { http: 'http://h:1', ws: 'ws://h:1' }
    for (const doc of ['welcome', "a b/c'd\\e", '50% (draft)!', 'ünïcödé*']) {
      for (const s of snippets) expect(browserFill(s.template, urls, doc), `${s.id} ${doc}`).toBe(fillSnippet(s.template, urls, doc))
    }
    expect(fillSnippet(snippets[0]!.template, urls, 'a/b')).toContain("encodeURIComponent('a/b')")
    expect(fillSnippet(snippets[3]!.template, urls, "it's")).toContain("/docs/it%27s/events")
  })

  it('ui: false removes the pages and the bundle (404), keeps /docs, health and the viewer', async () => {
    server = await startServer({ storage: memoryStorage(), ui: false })
    for (const path of ['/', '/edit/x', '/edit?doc=x', '/ui/assets/editor-AAAAAAAA.js']) {
      expect((await fetch(server.url + path)).status, path).toBe(404)
    }
    expect((await fetch(`${server.url}/docs`)).status).toBe(200)
    expect((await fetch(`${server.url}/healthz`)).status).toBe(200)
    // The read-only viewer is an observer feature (behind auth like SSE), not a first-run page.
    expect((await fetch(`${server.url}/view/x`)).status).toBe(200)
  })

  it('validates the ui and adminToken options', async () => {
    await expect(createWeft({ storage: memoryStorage(), ui: 'no' as unknown as boolean })).rejects.toThrow(WeftOptionsError)
    await expect(createWeft({ storage: memoryStorage(), adminToken: 'short' })).rejects.toThrow(/at least 16/)
  })

  it('--no-ui on the CLI turns the pages off', async () => {
    const child = await startChildServer(['--port', '0', '--memory', '--no-ui', '--admin-token', ADMIN])
    try {
      expect((await fetch(`${child.url}/`)).status).toBe(404)
      expect((await fetch(`${child.url}/edit/x`)).status).toBe(404)
      expect((await fetch(`${child.url}/docs`)).status).toBe(401)
      expect((await fetch(`${child.url}/docs`, { headers: { Authorization: `Bearer ${ADMIN}` } })).status).toBe(200)
    } finally {
      child.proc.kill('SIGTERM')
      await child.exited
    }
  })
})

describe('GET /docs', () => {
  let server: TestServer | null = null
  const clients: StockClient[] = []
  afterEach(async () => {
    for (const c of clients.splice(0)) c.destroy()
    await server?.close()
    server = null
  })

  it('lists stored and loaded docs with sizes, updates, editors, observers and last change', async () => {
    const storage = memoryStorage()
    await storage.open()
    await appendAt(storage, 'archived', [{ seq: 1, update: textUpdate('old') }, { seq: 2, update: textUpdate('older') }])
    // A read-only WebSocket peer (an observer) for requests with ?ro=1; everyone else writes.
    server = await startServer({
      storage,
      adminToken: ADMIN,
      authenticate: req => (req.url ?? '').includes('ro=1') ? { access: 'read' } : { access: 'write' }
    })
    const a = stockClient(server.wsUrl, 'live')
    const b = stockClient(server.wsUrl, 'live')
    const watcher = stockClient(server.wsUrl, 'live', { params: { ro: '1' } })
    clients.push(a, b, watcher)
    await synced(a, b, watcher)
    const handle = await server.weft.openDoc('live')
    a.text.insert(0, 'hello')
    b.text.insert(0, 'world ')
    await waitFor(() => watcher.text.length === 11, 'the observer to see both edits')
    const before = Date.now()

    const res = await fetch(`${server.url}/docs`, { headers: { Authorization: `Bearer ${ADMIN}` } })
    expect(res.status).toBe(200)
    expect(res.headers.get('cache-control')).toBe('no-store')
    const list = await res.json() as { docs: Array<Record<string, unknown>>, totals: Record<string, number>, truncated: boolean }
    const live = list.docs.find(d => d.name === 'live')!
    const archived = list.docs.find(d => d.name === 'archived')!
    expect(live).toMatchObject({ loaded: true, stored: true, editors: 2, observers: 1, handles: 1 })
    expect(live.updates).toBeGreaterThanOrEqual(2)
    expect(live.records).toBeGreaterThanOrEqual(1)
    expect(live.bytes).toBeGreaterThan(0)
    expect(Date.parse(live.lastChange as string)).toBeLessThanOrEqual(before)
    expect(Date.parse(live.lastChange as string)).toBeGreaterThan(before - 60_000)
    expect(archived).toEqual({ name: 'archived', loaded: false, stored: true, records: 2, bytes: expect.any(Number), updates: 0, editors: 0, observers: 0, handles: 0, lastChange: null })
    expect(list.docs[0]!.name).toBe('live') // docs with people come first
    expect(list.totals).toEqual({ docs: 2, loaded: 1, stored: 2, editors: 2, observers: 1 })
    expect(list.truncated).toBe(false)

    const one = await (await fetch(`${server.url}/docs?limit=1&token=${ADMIN}`)).json() as { docs: unknown[], truncated: boolean }
    expect(one.docs).toHaveLength(1)
    expect(one.truncated).toBe(true)
    expect((await fetch(`${server.url}/docs?limit=0&token=${ADMIN}`)).status).toBe(400)

    // A peer leaving is reflected at once.
    watcher.destroy()
    await waitFor(async () => {
      const l = await (await fetch(`${server!.url}/docs?token=${ADMIN}`)).json() as { docs: Array<{ name: string, observers: number }> }
      return l.docs.find(d => d.name === 'live')?.observers === 0
    }, 'the observer to leave the list')
    await handle.release()
  })

  it('still lists loaded docs when storage cannot list, and says so', async () => {
    const storage = memoryStorage()
    storage.list = async () => { throw new Error('database is down') }
    server = await startServer({ storage })
    const handle = await server.weft.openDoc('live')
    const res = await fetch(`${server.url}/docs`)
    expect(res.status).toBe(200)
    const list = await res.json() as { docs: Array<{ name: string }>, storageError?: string }
    expect(list.docs.map(d => d.name)).toEqual(['live'])
    expect(list.storageError).toBe('database is down')
    await handle.release()
  })

  it('is open without auth and without an admin token (local use)', async () => {
    server = await startServer({ storage: memoryStorage() })
    const res = await fetch(`${server.url}/docs`)
    expect(res.status).toBe(200)
    expect(await res.json()).toEqual({ docs: [], totals: { docs: 0, loaded: 0, stored: 0, editors: 0, observers: 0 }, truncated: false })
  })

  it('needs the admin token when one is set: Bearer or ?token=, nothing else', async () => {
    server = await startServer({ storage: memoryStorage(), adminToken: ADMIN })
    const none = await fetch(`${server.url}/docs`)
    expect(none.status).toBe(401)
    expect(none.headers.get('www-authenticate')).toContain('Bearer')
    expect((await none.json() as { error: string }).error).toMatch(/admin/)
    expect((await fetch(`${server.url}/docs`, { headers: { Authorization: 'Bearer wrong-token-of-some-length' } })).status).toBe(401)
    expect((await fetch(`${server.url}/docs`, { headers: { Authorization: `Bearer ${ADMIN}x` } })).status).toBe(401)
    expect((await fetch(`${server.url}/docs`, { headers: { Authorization: `Bearer ${ADMIN}` } })).status).toBe(200)
    expect((await fetch(`${server.url}/docs?token=${ADMIN}`)).status).toBe(200)
    // The pages stay public; they hold no doc data (the list loads with the token, client-side).
    expect((await fetch(`${server.url}/`)).status).toBe(200)
  })

  it('with JWT auth: a doc token is refused (403), an admin JWT or the admin token pass', async () => {
    server = await startServer({ storage: memoryStorage(), auth: { secret: SECRET }, adminToken: ADMIN })
    const docToken = await hsToken({ docs: '*', access: 'write' })
    const adminJwt = await hsToken({ admin: true })
    const expiredAdmin = await hsToken({ admin: true }, -60)
    const forged = await hsToken({ admin: true }, 3600, 'another-secret-that-is-also-long-enough!!')
    const get = async (token?: string): Promise<number> =>
      (await fetch(`${server!.url}/docs`, token !== undefined ? { headers: { Authorization: `Bearer ${token}` } } : {})).status
    expect(await get()).toBe(401)
    expect(await get(docToken)).toBe(403)
    expect(await get(expiredAdmin)).toBe(401)
    expect(await get(forged)).toBe(401)
    expect(await get(adminJwt)).toBe(200)
    expect(await get(ADMIN)).toBe(200)
  })

  it('with an authenticate() callback and no admin token, refuses and says why', async () => {
    server = await startServer({ storage: memoryStorage(), authenticate: () => { throw new AuthError(401, 'nope') } })
    const res = await fetch(`${server.url}/docs?token=anything-at-all`)
    expect(res.status).toBe(401)
    expect((await res.json() as { error: string }).error).toMatch(/--admin-token/)
  })
})
