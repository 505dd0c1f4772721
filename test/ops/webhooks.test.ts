/**
 * Webhooks (server/webhooks/): a real HTTP receiver on port 0 (helpers/webhook-receiver.ts),
 * stock providers typing, the real routes for delete and restore, a real CLI SIGKILLed with
 * deliveries pending (LevelDB in a temp dir). In a cluster: test/cluster/cluster-webhooks.test.ts.
 */
import type { IncomingMessage } from 'node:http'
import { spawnSync } from 'node:child_process'
import { createServer as createNetServer, type AddressInfo, type Socket } from 'node:net'
import { fileURLToPath } from 'node:url'
import { describe, expect, it } from 'vitest'
import { createWeft } from '../../server/weft.js'
import { memoryStorage } from '../../server/storage/memory.js'
import type { WeftOptions } from '../../server/options.js'
import type { WebhookOptions } from '../../server/webhooks/options.js'
import { parseCursor } from '../../shared/cursor.js'
import { cleanupAfterEach, startServer, tempDir, type TestServer } from '../helpers/server.js'
import { stockClient, synced, type StockClient } from '../helpers/providers.js'
import { eventsOf, startReceiver, verifyWeftSignature, type Receiver } from '../helpers/webhook-receiver.js'
import { startChildServer } from '../helpers/child-server.js'
import { hsToken, SECRET } from '../helpers/tokens.js'
import { sleep, waitFor } from '../helpers/wait.js'

const root = fileURLToPath(new URL('../..', import.meta.url))
const HOOK_SECRET = 'a-webhook-secret-for-the-tests'
const byQuery = (req: IncomingMessage): { access: 'write', user?: string } => ({ access: 'write', user: new URL(req.url ?? '/', 'http://x').searchParams.get('user') ?? undefined })
const of = eventsOf

describe('webhooks', () => {
  const cleanups = cleanupAfterEach()
  const receiver = async (respond?: Receiver['respond']): Promise<Receiver> => {
    const r = await startReceiver(respond)
    cleanups.push(() => r.close())
    return r
  }
  const serve = async (hooks: Partial<WebhookOptions> & { urls: string[] }, options: WeftOptions = {}): Promise<TestServer> => {
    const s = await startServer({ storage: memoryStorage(), authenticate: byQuery, webhooks: { secret: HOOK_SECRET, ...hooks }, ...options })
    cleanups.push(() => s.close())
    return s
  }
  const client = (s: TestServer, doc: string, params: Record<string, string>): StockClient => {
    const c = stockClient(s.wsUrl, doc, { params })
    cleanups.push(() => c.destroy())
    return c
  }

  it('continuous typing by a stock provider: one signed delivery per window (quiet period, longest delay), every record told once', async () => {
    const r = await receiver()
    const s = await serve({ urls: [r.url], quietMs: 300, maxDelayMs: 1000 })
    const alice = client(s, 'typed', { user: 'alice' })
    await synced(alice)
    const started = Date.now()
    let typed = 0
    while (Date.now() - started < 2600 && typed < 200) {
      alice.text.insert(alice.text.length, 'x')
      typed++
      await sleep(40)
    }
    const stopped = Date.now()
    await waitFor(() => of(r.requests, 'changed').reduce((n, q) => n + (q.json.updates as number), 0) >= typed, 'every record to be told', 10_000)
    await sleep(500)
    const changed = of(r.requests, 'changed')
    // While typing went on, the longest delay closed windows: more than one, at most one per maxDelayMs.
    expect(changed.length).toBeGreaterThanOrEqual(2)
    expect(changed.length).toBeLessThanOrEqual(Math.ceil((stopped - started) / 1000) + 1)
    expect(changed.filter(q => q.at < stopped).length).toBeGreaterThanOrEqual(1)
    // Windows follow each other without overlap; together they hold every record once.
    for (let i = 0; i < changed.length; i++) {
      const e = changed[i]!.json
      expect(e).toMatchObject({ event: 'changed', doc: 'typed', users: ['alice'] })
      expect(e.toSeq).toBeGreaterThanOrEqual(e.fromSeq)
      expect(parseCursor('typed', e.fromCursor)).toBe(e.fromSeq)
      expect(parseCursor('typed', e.toCursor)).toBe(e.toSeq)
      if (i > 0) expect(e.fromSeq).toBeGreaterThan(changed[i - 1]!.json.toSeq)
      expect(e.content).toBeUndefined()
    }
    expect(changed.reduce((n, q) => n + (q.json.updates as number), 0)).toBe(typed)
    // The first record made the doc: one `created`, before the first `changed`.
    expect(of(r.requests, 'created', 'typed')).toHaveLength(1)
    expect(r.requests.indexOf(of(r.requests, 'created')[0]!)).toBeLessThan(r.requests.indexOf(changed[0]!))
    // Signed: the README's snippet verifies every request; a wrong secret, a changed body or an old timestamp do not.
    for (const q of r.requests) {
      expect(q.headers['content-type']).toBe('application/json')
      expect(q.headers['weft-delivery']).toBe(q.json.id)
      expect(q.headers['weft-event']).toBe(q.json.event)
      expect(verifyWeftSignature(HOOK_SECRET, q.headers['weft-signature'] as string, q.body)).toBe(true)
    }
    const q = changed[0]!
    const sig = q.headers['weft-signature'] as string
    expect(sig).toMatch(/^t=\d+,v1=[0-9a-f]{64}$/)
    expect(verifyWeftSignature('another-secret-of-some-length', sig, q.body)).toBe(false)
    expect(verifyWeftSignature(HOOK_SECRET, sig, q.body.replace('"alice"', '"mallory"'))).toBe(false)
    expect(verifyWeftSignature(HOOK_SECRET, sig, q.body, 300)).toBe(true)
    const old = sig.replace(/t=(\d+)/, (_, t: string) => `t=${Number(t) - 600}`)
    expect(verifyWeftSignature(HOOK_SECRET, old, q.body)).toBe(false)
    await waitFor(() => s.weft.context.metrics.get('webhook_deliveries_total{outcome="ok"}') === r.requests.length, 'every delivery counted ok')
    await waitFor(async () => (await s.weft.context.options.storage.meta.list('webhooks')).length === 0, 'accepted deliveries (and closed windows) to leave storage')
  }, 30_000)

  it('content: true puts the doc\'s JSON view in changed events; ids are unique per event', async () => {
    const r = await receiver()
    const s = await serve({ urls: [r.url], quietMs: 100, content: true })
    const alice = client(s, 'with-content', { user: 'alice' })
    await synced(alice)
    alice.text.insert(0, 'hello webhooks')
    alice.doc.getMap('meta').set('title', 'A')
    await waitFor(() => of(r.requests, 'changed').length > 0, 'a changed event')
    const e = of(r.requests, 'changed')[0]!.json
    expect(e.content).toEqual({ text: 'hello webhooks', meta: { title: 'A' } })
    expect(e.types).toEqual({ text: 'text', meta: 'map' })
    expect(new Set(r.requests.map(q => q.json.id)).size).toBe(r.requests.length)
  })

  it('a receiver that fails the first three times gets the delivery on the fourth attempt: same id and body, backoff between', async () => {
    const attempts = new Map<string, number>()
    const r = await receiver((_, q) => {
      const n = (attempts.get(q.json.id) ?? 0) + 1
      attempts.set(q.json.id, n)
      return n <= 3 ? 500 : 204
    })
    const s = await serve({ urls: [r.url], quietMs: 50, retryMinMs: 100, retryMaxMs: 400 })
    const d = await s.weft.openDoc('retried')
    d.doc.getText('text').insert(0, 'x')
    await d.stored()
    await waitFor(() => r.accepted().length >= 2, 'created and changed to be accepted', 10_000)
    await d.release()
    // created and changed: each failed three times, then arrived on its fourth attempt.
    expect(r.accepted().map(q => q.json.event).sort()).toEqual(['changed', 'created'])
    for (const accepted of r.accepted()) {
      const same = r.requests.filter(q => q.headers['weft-delivery'] === accepted.headers['weft-delivery'])
      expect(same.map(q => q.status)).toEqual([500, 500, 500, 204])
      expect(same.map(q => q.headers['weft-attempt'])).toEqual(['1', '2', '3', '4'])
      expect(new Set(same.map(q => q.body)).size).toBe(1)
      expect(same.every(q => verifyWeftSignature(HOOK_SECRET, q.headers['weft-signature'] as string, q.body))).toBe(true)
      // Equal jitter: each wait is at least half its step (100, 200, 400 ms).
      for (let i = 1; i < same.length; i++) expect(same[i]!.at - same[i - 1]!.at).toBeGreaterThanOrEqual(Math.min(400, 100 * 2 ** (i - 1)) / 2 - 10)
    }
    const m = s.weft.context.metrics
    // The receiver answered; the sender counts once it has read the answer.
    await waitFor(() => m.get('webhook_deliveries_total{outcome="ok"}') === 2, 'two deliveries counted ok')
    expect(m.get('webhook_deliveries_total{outcome="retry"}')).toBe(6)
    expect(await m.render()).toMatch(/weft_webhook_pending 0/)
    await waitFor(async () => (await s.weft.context.options.storage.meta.list('webhooks')).length === 0, 'accepted deliveries to leave storage')
  })

  it('a delivery that keeps failing is dropped after maxAttempts: logged, counted, removed from storage', async () => {
    const r = await receiver(() => 503)
    const errors: string[] = []
    const logger = { debug () {}, info () {}, warn () {}, error (_o: unknown, msg?: string) { errors.push(msg ?? '') } }
    const s = await serve({ urls: [r.url], quietMs: 50, retryMinMs: 20, retryMaxMs: 40, maxAttempts: 3 }, { logger })
    const d = await s.weft.openDoc('dropped')
    d.doc.getText('text').insert(0, 'x')
    await d.stored()
    await d.release()
    const m = s.weft.context.metrics
    await waitFor(() => m.get('webhook_deliveries_total{outcome="dropped"}') === 2, 'created and changed to be dropped')
    expect(r.requests).toHaveLength(6)
    expect(errors.filter(e => /webhook delivery dropped: 3 attempts failed/.test(e))).toHaveLength(2)
    await waitFor(async () => (await s.weft.context.options.storage.meta.list('webhooks')).length === 0, 'dropped deliveries to leave storage')
    expect(s.weft.webhooks!.pending).toBe(0)
  })

  it('a receiver that never answers is cut at timeoutMs and retried; refused connections are retried too', async () => {
    const sockets: Socket[] = []
    const silent = createNetServer(socket => { sockets.push(socket) })
    await new Promise<void>(resolve => silent.listen(0, '127.0.0.1', resolve))
    cleanups.push(() => new Promise<void>(resolve => { for (const so of sockets) so.destroy(); silent.close(() => resolve()) }))
    const errors: string[] = []
    const logger = { debug () {}, info () {}, warn () {}, error (o: any, msg?: string) { errors.push(`${msg ?? ''} ${o?.url ?? ''}`) } }
    const silentUrl = `http://127.0.0.1:${(silent.address() as AddressInfo).port}/hook`
    // A port that was just free: nothing listens there.
    const closed = createNetServer()
    await new Promise<void>(resolve => closed.listen(0, '127.0.0.1', resolve))
    const refusedUrl = `http://127.0.0.1:${(closed.address() as AddressInfo).port}/hook`
    await new Promise<void>(resolve => closed.close(() => resolve()))
    const s = await serve({ urls: [silentUrl, refusedUrl], timeoutMs: 200, retryMinMs: 20, retryMaxMs: 40, maxAttempts: 2 }, { logger })
    const started = Date.now()
    s.weft.context.session.hooks!.deleted({ doc: 'nobody-listens' })
    await waitFor(() => errors.length === 2, 'both deliveries to be dropped', 10_000)
    expect(Date.now() - started).toBeGreaterThanOrEqual(2 * 200)
    expect(errors.find(e => e.includes(silentUrl))).toMatch(/2 attempts failed \(maxAttempts\), the last: timed out/)
    expect(errors.find(e => e.includes(refusedUrl))).toMatch(/2 attempts failed \(maxAttempts\), the last: ECONNREFUSED/)
    expect(sockets.length).toBe(2)
  })

  it('nothing is sent for a read-only client\'s refused write; a writer\'s write is told with its sub', async () => {
    const r = await receiver()
    const s = await serve({ urls: [r.url], quietMs: 100, maxDelayMs: 200 }, { authenticate: undefined, auth: { secret: SECRET } })
    const readToken = await hsToken({ docs: 'guarded', access: 'read', sub: 'reader' })
    const writeToken = await hsToken({ docs: 'guarded', access: 'write', sub: 'writer' })
    const reader = client(s, 'guarded', { token: readToken })
    await synced(reader)
    for (let i = 0; i < 5; i++) reader.text.insert(0, 'nope ')
    await sleep(800)
    expect(r.requests).toEqual([])
    expect(s.weft.context.registry.get('guarded')?.ydoc.getText('text').toString() ?? '').toBe('')
    const writer = client(s, 'guarded', { token: writeToken })
    await synced(writer)
    writer.text.insert(0, 'yes')
    await waitFor(() => of(r.requests, 'changed').length === 1, 'the writer\'s change')
    expect(of(r.requests, 'changed')[0]!.json).toMatchObject({ doc: 'guarded', users: ['writer'], updates: 1 })
    expect(r.requests.every(q => q.json.doc === 'guarded')).toBe(true)
  })

  it('created, restored and deleted through the real routes, in order; the changes before a delete are told before it; a new doc of the name is created again', async () => {
    const r = await receiver()
    const adminToken = 'an-admin-token-of-16+'
    const s = await serve({ urls: [r.url], quietMs: 60_000, maxDelayMs: 60_000 }, { adminToken })
    const alice = client(s, 'lifecycle', { user: 'alice' })
    await synced(alice)
    alice.text.insert(0, 'one')
    await waitFor(() => of(r.requests, 'created').length === 1, 'created')
    const taken = await fetch(`${s.url}/docs/lifecycle/versions?user=alice`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ name: 'v1' }) })
    expect(taken.status).toBe(201)
    const version = (await taken.json() as { id: string }).id
    alice.text.insert(3, ' two')
    await waitFor(() => alice.text.toString() === 'one two', 'the edit')
    await sleep(100)
    const restored = await fetch(`${s.url}/docs/lifecycle/versions/${version}/restore?user=bob`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' })
    expect(restored.status).toBe(200)
    const { seq } = await restored.json() as { seq: number }
    await waitFor(() => of(r.requests, 'restored').length === 1, 'restored')
    expect(of(r.requests, 'restored')[0]!.json).toMatchObject({ doc: 'lifecycle', version, name: 'v1', seq, user: 'bob' })
    expect(parseCursor('lifecycle', of(r.requests, 'restored')[0]!.json.cursor)).toBe(seq)
    // The window is long: nothing `changed` yet. The delete tells it first.
    expect(of(r.requests, 'changed')).toEqual([])
    const deleted = await fetch(`${s.url}/docs/lifecycle`, { method: 'DELETE', headers: { authorization: `Bearer ${adminToken}` } })
    expect(deleted.status).toBe(200)
    await waitFor(() => of(r.requests, 'deleted').length === 1, 'deleted')
    const changed = of(r.requests, 'changed')
    expect(changed).toHaveLength(1)
    expect(changed[0]!.json).toMatchObject({ doc: 'lifecycle', users: ['alice', 'bob'] })
    expect(changed[0]!.json.toSeq).toBe(seq)
    expect(r.requests.map(q => q.json.event)).toEqual(['created', 'restored', 'changed', 'deleted'])
    // The name again: a new doc, created again.
    alice.destroy()
    const d = await s.weft.openDoc('lifecycle')
    d.doc.getText('text').insert(0, 'again')
    await d.stored()
    await d.release()
    await waitFor(() => of(r.requests, 'created').length === 2, 'the new doc\'s created')
  })

  it('the Hooks methods the routes call (deleted, restored) become events too', async () => {
    const r = await receiver()
    const s = await serve({ urls: [r.url] })
    const hooks = (s.weft as unknown as { hooks: { deleted: (e: object) => void, restored: (e: object) => void } }).hooks
    hooks.restored({ doc: 'direct', version: 'v-1', seq: 42, user: 'carol' })
    hooks.deleted({ doc: 'direct', user: 'dave' })
    await waitFor(() => r.requests.length === 2, 'two events')
    expect(r.requests.map(q => q.json)).toMatchObject([
      { event: 'restored', doc: 'direct', version: 'v-1', seq: 42, user: 'carol' },
      { event: 'deleted', doc: 'direct', user: 'dave' }
    ])
  })

  it('a graceful close tells an open window at once (drain), and what is still failing waits in storage for the next start', async () => {
    const r = await receiver(() => 503)
    // Two stores over the same maps: the first is closed with its server, as a process would be.
    const docs = new Map()
    const meta = new Map()
    const s = await startServer({ storage: memoryStorage(docs, meta), webhooks: { urls: [r.url], quietMs: 60_000, maxDelayMs: 60_000, drainMs: 300, retryMinMs: 10_000 } })
    const d = await s.weft.openDoc('closing')
    d.doc.getText('text').insert(0, 'x')
    await d.stored()
    await d.release()
    await s.close()
    // created was tried; the window was closed by the shutdown and its changed tried during the drain.
    expect(of(r.requests, 'changed', 'closing')).toHaveLength(1)
    const storage = memoryStorage(docs, meta)
    await storage.open()
    const kept = await storage.meta.list('webhooks')
    expect(kept.map(e => e.key.slice(0, 2))).toEqual(['d.', 'd.'])
    r.respond = () => 204
    const again = await startServer({ storage, webhooks: { urls: [r.url] } })
    cleanups.push(() => again.close())
    await waitFor(() => r.accepted().length === 2, 'both deliveries after the restart')
    expect(r.accepted().map(q => q.json.event).sort()).toEqual(['changed', 'created'])
    await waitFor(async () => (await storage.meta.list('webhooks')).length === 0, 'storage to be empty')
  })

  it('a server SIGKILLed with deliveries pending and a window open sends both after its restart (LevelDB)', async () => {
    const r = await receiver(() => 503)
    const dir = tempDir()
    cleanups.push(dir.remove)
    const args = ['--data', dir.path, '--webhook', r.url, '--webhook-secret', HOOK_SECRET, '--webhook-quiet-ms', '60000', '--webhook-max-delay-ms', '60000', '--unload-after-ms', '100']
    const first = await startChildServer(args)
    cleanups.push(() => { first.proc.kill('SIGKILL') })
    // Doc "open": its window stays open (60 s). Doc "closed": unloaded, so its window closed and
    // its changed event is a pending delivery the receiver refuses.
    const open = stockClient(first.wsUrl, 'open')
    await synced(open)
    open.text.insert(0, 'still typing')
    const closed = stockClient(first.wsUrl, 'closed')
    await synced(closed)
    closed.text.insert(0, 'done')
    await sleep(200)
    closed.destroy()
    await waitFor(() => of(r.requests, 'changed', 'closed').length > 0, 'the closed doc\'s changed to be tried', 10_000)
    const triedIds = new Set(r.requests.map(q => q.json.id as string))
    expect(of(r.requests, 'created').map(q => q.json.doc).sort()).toEqual(['closed', 'open'])
    open.destroy()
    first.proc.kill('SIGKILL')
    await first.exited
    r.respond = () => 204
    const second = await startChildServer(args)
    cleanups.push(() => { second.proc.kill('SIGKILL') })
    await waitFor(() => [...triedIds].every(id => r.accepted().some(q => q.json.id === id)) && of(r.accepted(), 'changed', 'open').length > 0, 'the pending deliveries and the open window after the restart', 15_000)
    const recovered = of(r.accepted(), 'changed', 'open')[0]!
    expect(recovered.json).toMatchObject({ doc: 'open', recovered: true })
    expect(recovered.json.toSeq).toBeGreaterThanOrEqual(recovered.json.fromSeq)
    expect(verifyWeftSignature(HOOK_SECRET, recovered.headers['weft-signature'] as string, recovered.body)).toBe(true)
    // Told once each: nothing is pending any more.
    await sleep(300)
    expect(new Set(r.accepted().map(q => q.json.id)).size).toBe(r.accepted().length)
    second.proc.kill('SIGTERM')
    expect(await second.exited).toBe(0)
  }, 60_000)

  it('bad options are refused at start with a message naming the field; the CLI exits 2 naming the flag', async () => {
    const bad: Array<[unknown, RegExp]> = [
      [{ urls: ['ftp://example.com/x'] }, /"webhooks\.urls" must be http\(s\) URLs, got "ftp:\/\/example\.com\/x"/],
      [{ urls: [] }, /"webhooks\.urls" must hold at least one URL/],
      [{}, /"webhooks\.urls"/],
      [{ urls: ['http://127.0.0.1:9/'], secret: 'short' }, /"webhooks\.secret" must be at least 16 characters/],
      [{ urls: ['http://127.0.0.1:9/'], quietMs: 5000, maxDelayMs: 1000 }, /"webhooks\.maxDelayMs" \(1000\) must be at least "webhooks\.quietMs" \(5000\)/],
      [{ urls: ['http://127.0.0.1:9/'], timeoutMs: 0 }, /"webhooks\.timeoutMs" must be at least 1/],
      [{ urls: ['http://127.0.0.1:9/'], retries: 3 }, /unknown key "retries"/],
      ['http://127.0.0.1:9/', /option "webhooks" must be an object/]
    ]
    for (const [webhooks, message] of bad) {
      await expect(createWeft({ storage: memoryStorage(), webhooks: webhooks as WebhookOptions })).rejects.toThrow(message)
    }
    const cli = (args: string[], env: NodeJS.ProcessEnv = {}): ReturnType<typeof spawnSync> =>
      spawnSync(process.execPath, ['--import', 'tsx', 'server/cli.ts', '--memory', '--port', '0', ...args], { cwd: root, env: { ...process.env, ...env }, encoding: 'utf8', timeout: 20_000 })
    const flag = cli(['--webhook', 'https://ok.example/a', '--webhook', 'file:///etc/passwd'])
    expect(flag.status).toBe(2)
    expect(flag.stderr).toMatch(/--webhook must be http\(s\) URLs/)
    const env = cli([], { WEFT_WEBHOOK: 'https://ok.example/a gopher://x' })
    expect(env.status).toBe(2)
    expect(env.stderr).toMatch(/WEFT_WEBHOOK must be http\(s\) URLs/)
    const orphan = cli(['--webhook-secret', HOOK_SECRET])
    expect(orphan.status).toBe(2)
    expect(orphan.stderr).toMatch(/need --webhook URL/)
  }, 60_000)
})
