/**
 * The HTTP routes under abuse (issue 12, defects 6, 7 and 12): read-only clients cannot fill
 * `maxDocs` with made-up names, every doc route has request budgets (per address and per HTTP
 * session, 429 + Retry-After), one address cannot take the HTTP session table, snapshot spam
 * of an unchanged doc is served from a cache while `/healthz` and an editor stay fast, and a
 * POST body past the limit is answered 413 at once instead of being drained.
 */
import { describe, expect, it } from 'vitest'
import { request as httpRequest, Agent } from 'node:http'
import { connect } from 'node:net'
import { spawn } from 'node:child_process'
import * as Y from 'yjs'
import { cleanupAfterEach, startServer, tempDir, type TestServer } from '../helpers/server.js'
import { stockClient, synced } from '../helpers/providers.js'
import { MAX_STALL_MS, watchLoop } from '../helpers/loop-delay.js'
import { sleep, waitFor } from '../helpers/wait.js'
import { leveldbStorage } from '../../server/storage/leveldb.js'
import WebSocket from 'ws'
import { hsToken, SECRET } from '../helpers/tokens.js'
import type { WeftOptions } from '../../server/options.js'
import { appendAt } from '../helpers/append-at.js'

const cleanups = cleanupAfterEach()

async function start (opts: WeftOptions = {}): Promise<TestServer> {
  const dir = tempDir()
  const server = await startServer({ storage: leveldbStorage(dir.path), ...opts })
  cleanups.push(() => dir.remove(), () => server.close())
  return server
}

/** A GET from a given loopback source address (Linux routes all of 127/8 locally). */
function getFrom (url: string, localAddress: string, agent?: Agent, headers: Record<string, string> = {}): Promise<{ status: number, headers: Record<string, string | string[] | undefined>, body: Buffer }> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(url, { localAddress, agent, headers }, res => {
      const chunks: Buffer[] = []
      res.on('data', (c: Buffer) => chunks.push(c))
      res.once('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }))
      res.once('error', reject)
    })
    req.once('error', reject)
    req.end()
  })
}

function textUpdate (text: string, doc = new Y.Doc()): Uint8Array {
  const before = Y.encodeStateVector(doc)
  doc.getText('text').insert(doc.getText('text').length, text)
  return Y.encodeStateAsUpdate(doc, before)
}

describe('defect 12: a POST body past the limit', { timeout: 60_000 }, () => {
  it('an endless chunked POST gets its 413 as soon as it passes the limit, and the connection closes', async () => {
    const limit = 64 * 1024
    const server = await start({ maxMessageBytes: limit })
    const sock = connect(server.port, '127.0.0.1')
    sock.on('error', () => {})
    await new Promise<void>(resolve => sock.once('connect', () => resolve()))
    let answer = ''
    let closedAt = 0
    sock.on('data', (d: Buffer) => { answer += d.toString('latin1') })
    sock.once('close', () => { closedAt = performance.now() })
    sock.write(`POST /docs/endless/updates HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/octet-stream\r\nTransfer-Encoding: chunked\r\n\r\n`)
    const chunk = Buffer.alloc(16 * 1024, 1)
    const frame = Buffer.concat([Buffer.from(`${chunk.byteLength.toString(16)}\r\n`), chunk, Buffer.from('\r\n')])
    // Send up to 64 MiB for at most 10 s, stopping once answered.
    let sent = 0
    const t0 = performance.now()
    let pastLimitAt = 0
    while (answer === '' && closedAt === 0 && sent < 64 * 2 ** 20 && performance.now() - t0 < 10_000) {
      if (!sock.write(frame)) await new Promise(resolve => setTimeout(resolve, 5))
      sent += chunk.byteLength
      if (pastLimitAt === 0 && sent > limit) pastLimitAt = performance.now()
      await new Promise(resolve => setImmediate(resolve))
    }
    await waitFor(() => answer.includes('\r\n\r\n'), 'an answer', 5000)
    const answeredMs = performance.now() - pastLimitAt
    expect(answer).toMatch(/^HTTP\/1\.1 413 /)
    expect(answer.toLowerCase()).toContain('connection: close')
    await waitFor(() => closedAt !== 0, 'the server to close the connection', 5000)
    console.info(`[413] answered ${answeredMs.toFixed(0)} ms after the limit; ${(sent / 2 ** 20).toFixed(1)} MiB sent in all`)
    expect(sent).toBeLessThan(16 * 2 ** 20)
    sock.destroy()

    // A body declared too large is refused before it is sent; one at the limit still works.
    const big = await fetch(`${server.url}/docs/endless/updates`, { method: 'POST', headers: { 'content-type': 'application/octet-stream' }, body: new Uint8Array(limit + 1) })
    expect(big.status).toBe(413)
    const ok = await fetch(`${server.url}/docs/endless/updates`, { method: 'POST', headers: { 'content-type': 'application/octet-stream' }, body: textUpdate('fine') as Uint8Array<ArrayBuffer> })
    expect(ok.status).toBe(204)
    const json = await fetch(`${server.url}/docs/endless/updates`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"update":' })
    expect(json.status).toBe(400)
  })
})

interface SpamResult { served: number, statuses: number[], healthMs: number[] }

/**
 * `n` readers in a child process, each from its own loopback address (127.0.0.2…), fetching
 * `url` back to back over keep-alive for `ms`, and/or a health checker timing `healthUrl`
 * (unless '') every 50 ms. Outside the server's process, as in production: in the test's own
 * process their client side would compete with the server they measure, and the checker gets a
 * process of its own so that it does not queue behind the readers' answers.
 */
function spawnReaders (url: string, healthUrl: string, n: number, ms: number): { result: Promise<SpamResult>, kill: () => void } {
  const script = `
    const http = require('node:http')
    const [url, healthUrl, n, ms] = [process.argv[1], process.argv[2], Number(process.argv[3]), Number(process.argv[4])]
    const stop = Date.now() + ms
    let served = 0
    const statuses = new Set()
    const healthMs = []
    const health = healthUrl === '' ? Promise.resolve() : new Promise(resolve => {
      const agent = new http.Agent({ keepAlive: true, maxSockets: 1 })
      const probe = () => {
        if (Date.now() > stop) { agent.destroy(); return resolve() }
        const t = performance.now()
        http.get(healthUrl, { agent }, res => {
          res.resume()
          res.on('end', () => { healthMs.push(performance.now() - t); setTimeout(probe, 50) })
        }).on('error', () => { healthMs.push(Infinity); setTimeout(probe, 50) })
      }
      setTimeout(probe, 50)
    })
    const reader = i => new Promise(resolve => {
      const agent = new http.Agent({ keepAlive: true, maxSockets: 1 })
      const next = () => {
        if (Date.now() > stop) { agent.destroy(); return resolve() }
        http.get(url, { agent, localAddress: '127.0.0.' + (i + 2) }, res => {
          statuses.add(res.statusCode)
          res.resume()
          res.on('end', () => { served++; next() })
        }).on('error', () => { statuses.add(0); next() })
      }
      next()
    })
    Promise.all([health, ...Array.from({ length: n }, (_, i) => reader(i))]).then(() => {
      process.stdout.write(JSON.stringify({ served, statuses: [...statuses], healthMs }))
    })`
  const child = spawn(process.execPath, ['-e', script, url, healthUrl, String(n), String(ms)], { stdio: ['ignore', 'pipe', 'inherit'] })
  let out = ''
  child.stdout.setEncoding('utf8').on('data', (c: string) => { out += c })
  const result = new Promise<SpamResult>((resolve, reject) => {
    child.once('exit', code => code === 0 ? resolve(JSON.parse(out) as SpamResult) : reject(new Error(`readers exited ${code}`)))
  })
  return { result, kill: () => { if (child.exitCode === null) child.kill() } }
}

interface Stream { status: number, retryAfter: string | undefined, text: () => string, close: () => void }

/** Opens an SSE stream from a given loopback source address; resolves once the headers arrive. */
function openStream (url: string, localAddress: string): Promise<Stream> {
  return new Promise((resolve, reject) => {
    let text = ''
    const req = httpRequest(url, { localAddress }, res => {
      res.setEncoding('utf8')
      res.on('data', (c: string) => { text += c })
      res.on('error', () => {})
      resolve({ status: res.statusCode ?? 0, retryAfter: res.headers['retry-after'] as string | undefined, text: () => text, close: () => req.destroy() })
    })
    req.once('error', reject)
    req.end()
  })
}

describe('defect 6: read-only clients and maxDocs', { timeout: 60_000 }, () => {
  it('snapshots and polls of made-up names load nothing: everyone can still open new docs', async () => {
    const server = await start({ maxDocs: 20 })
    const registry = server.weft.context.registry
    const t0 = performance.now()
    for (let i = 0; i < 300 && performance.now() - t0 < 20_000; i++) {
      const path = `${server.url}/docs/made-up-${i}`
      const res = i % 3 === 0
        ? await fetch(path)
        : i % 3 === 1
          ? await fetch(path, { headers: { accept: 'application/octet-stream' } })
          : await fetch(`${path}/poll?timeout=0`)
      expect(res.status).toBe(200)
      await res.arrayBuffer()
    }
    expect(registry.size).toBe(0)
    expect(registry.loads).toBe(0)
    // The answers are those of an empty doc, and their cursor stays valid: a poll held on it
    // waits for the first write and then gets exactly that write.
    const snap = await (await fetch(`${server.url}/docs/made-up-0`)).json() as { content: unknown, cursor: string }
    expect(snap.content).toEqual({})
    expect((await fetch(`${server.url}/docs/made-up-0/poll?cursor=${snap.cursor}&timeout=0`)).status).toBe(204)
    expect(registry.size).toBe(0)
    const held = fetch(`${server.url}/docs/made-up-0/poll?cursor=${snap.cursor}&timeout=20`).then(async r => await r.json() as { update: string, reset?: boolean })
    await waitFor(() => registry.has('made-up-0'), 'the held poll to load the doc')
    // A new editor is not refused (before the fix: 4529 / 429 for 30 s).
    const editor = stockClient(server.wsUrl, 'made-up-0')
    cleanups.push(() => editor.destroy())
    await synced(editor)
    editor.text.insert(0, 'first')
    const got = await held
    expect(got.reset).toBeUndefined()
    const mirror = new Y.Doc()
    Y.applyUpdate(mirror, Buffer.from(got.update, 'base64'))
    expect(mirror.getText('text').toString()).toBe('first')
    const post = await fetch(`${server.url}/docs/brand-new/updates`, { method: 'POST', headers: { 'content-type': 'application/octet-stream' }, body: textUpdate('x') as Uint8Array<ArrayBuffer> })
    expect(post.status).toBe(204)
  })

  it('streams of docs nobody wrote count against a per-address budget; a dashboard opened before the first editor works', async () => {
    const server = await start({ maxDocs: 50, maxEmptyDocsPerIp: 5, unloadAfterMs: 30_000 })
    const { registry, limits, metrics } = server.weft.context
    const streams: Stream[] = []
    cleanups.push(() => { for (const s of streams) s.close() })
    for (let i = 0; i < 5; i++) streams.push(await openStream(`${server.url}/docs/ghost-${i}/events`, '127.0.0.1'))
    expect(streams.map(s => s.status)).toEqual([200, 200, 200, 200, 200])
    // More viewers of a doc already counted cost nothing more (many dashboards behind one proxy).
    for (let i = 0; i < 3; i++) streams.push(await openStream(`${server.url}/docs/ghost-0/events`, '127.0.0.1'))
    expect(streams.slice(5).map(s => s.status)).toEqual([200, 200, 200])
    // A sixth made-up name is refused (before the fix: 200, up to maxDocs, and held for as long as the streams stay).
    const sixth = await openStream(`${server.url}/docs/ghost-5/events`, '127.0.0.1')
    expect(sixth.status).toBe(429)
    expect(sixth.retryAfter).toBe('1')
    sixth.close()
    expect(metrics.get('limit_refused_total{limit="empty_docs_per_ip"}')).toBe(1)
    expect(registry.has('ghost-5')).toBe(false)
    // Another address has its own budget, and editors still open new docs.
    const other = await openStream(`${server.url}/docs/ghost-5/events`, '127.0.0.2')
    streams.push(other)
    expect(other.status).toBe(200)
    const editor = stockClient(server.wsUrl, 'ghost-1')
    cleanups.push(() => editor.destroy())
    await synced(editor)
    // The dashboard opened before the first editor sees the first edit.
    editor.text.insert(0, 'hello')
    await waitFor(() => streams[1]!.text().includes('event: update'), 'the early viewer to get the first edit')
    // Once its readers leave, a doc nobody wrote is unloaded at once (not after unloadAfterMs)
    // and the address's budget is back.
    streams[0]!.close()
    for (const s of streams.slice(5, 8)) s.close()
    const closedAt = performance.now()
    await waitFor(() => !registry.has('ghost-0'), 'the blank doc to unload', 5000)
    console.info(`[blank] unloaded ${(performance.now() - closedAt).toFixed(0)} ms after its last stream closed (unloadAfterMs 30000)`)
    expect(registry.has('ghost-1')).toBe(true) // written: kept for unloadAfterMs as before
    const again = await openStream(`${server.url}/docs/ghost-6/events`, '127.0.0.1')
    streams.push(again)
    expect(again.status).toBe(200)
    for (const s of streams) s.close()
    await waitFor(() => limits.stats().emptyDocIps === 0 && limits.stats().observers === 0, 'every slot back')
  })

  it('read-only WebSocket clients on made-up names share the same budget (429 before the socket opens); writers do not', async () => {
    const server = await start({ auth: { secret: SECRET }, maxDocs: 50, maxEmptyDocsPerIp: 3 })
    const { registry, limits } = server.weft.context
    const reader = await hsToken({ docs: '**', access: 'read' })
    const writer = await hsToken({ docs: '**', access: 'write' })
    const upgrade = (doc: string, token: string): Promise<{ status: number, ws: WebSocket | null }> => new Promise(resolve => {
      const ws = new WebSocket(`${server.wsUrl}/${doc}?token=${token}`)
      ws.once('open', () => resolve({ status: 101, ws }))
      ws.once('unexpected-response', (_req, res) => { resolve({ status: res.statusCode ?? 0, ws: null }); res.resume() })
      ws.once('error', () => {})
    })
    const open: WebSocket[] = []
    cleanups.push(() => { for (const ws of open) ws.terminate() })
    for (let i = 0; i < 3; i++) {
      const r = await upgrade(`ws-ghost-${i}`, reader)
      expect(r.status).toBe(101)
      open.push(r.ws!)
    }
    // Before: a fourth (and the 10,000th) made-up name opened and loaded a doc.
    expect((await upgrade('ws-ghost-3', reader)).status).toBe(429)
    expect(registry.has('ws-ghost-3')).toBe(false)
    // A writer names the doc it is about to create: not counted.
    const w = await upgrade('ws-ghost-4', writer)
    expect(w.status).toBe(101)
    open.push(w.ws!)
    for (const ws of open) ws.close()
    await waitFor(() => limits.stats().emptyDocIps === 0, 'the readers\' slots back')
    const again = await upgrade('ws-ghost-3', reader)
    expect(again.status).toBe(101)
    again.ws!.close()
  })
})

describe('defect 7: request budgets on the HTTP routes', { timeout: 90_000 }, () => {
  it('a session past maxMessagesPerSecond gets 429 with Retry-After, as a WebSocket would be held', async () => {
    const server = await start({ maxMessagesPerSecond: 10, messageBurst: 30 })
    const writer = new Y.Doc()
    const session = { 'x-weft-session': 'fast-session-01' }
    const statuses: number[] = []
    let retryAfter: string | null = null
    const t0 = performance.now()
    for (let i = 0; i < 200 && performance.now() - t0 < 15_000; i++) {
      const res = await fetch(`${server.url}/docs/rate/updates`, { method: 'POST', headers: { 'content-type': 'application/octet-stream', ...session }, body: textUpdate('x', writer) as Uint8Array<ArrayBuffer> })
      statuses.push(res.status)
      if (res.status === 429) retryAfter ??= res.headers.get('retry-after')
      await res.arrayBuffer()
    }
    const seconds = (performance.now() - t0) / 1000
    const accepted = statuses.filter(s => s === 204).length
    console.info(`[rate] session: ${accepted} of ${statuses.length} POSTs accepted in ${seconds.toFixed(2)} s (budget 30 + 10/s)`)
    // Before the fix every one was 204. The first request of a session is free (it creates it).
    expect(accepted).toBeLessThanOrEqual(31 + Math.ceil(10 * seconds))
    expect(statuses.filter(s => s === 429).length).toBeGreaterThan(0)
    expect(Number(retryAfter)).toBeGreaterThanOrEqual(1)
    expect(new Set(statuses)).toEqual(new Set([204, 429]))
    // Refused requests were not applied: the doc holds exactly the accepted ones.
    const stored = server.weft.context.registry.get('rate')!.ydoc.getText('text').length
    expect(stored).toBeLessThanOrEqual(accepted)
    // Another session is not affected.
    const other = await fetch(`${server.url}/docs/rate/poll?timeout=0`, { headers: { 'x-weft-session': 'calm-session-01' } })
    expect(other.status).toBe(200)
  })

  it('one address past maxRequestsPerSecondPerIp gets 429 on every doc route; other addresses and /healthz do not', async () => {
    const server = await start({ maxRequestsPerSecondPerIp: 20 })
    const agent = new Agent({ keepAlive: true })
    cleanups.push(() => agent.destroy())
    const routes = ['/docs/ip', '/docs/ip/poll?timeout=0', '/view/ip']
    const statuses: number[] = []
    const t0 = performance.now()
    let refused: Awaited<ReturnType<typeof getFrom>> | undefined
    for (let i = 0; i < 150 && performance.now() - t0 < 15_000; i++) {
      const r = await getFrom(server.url + routes[i % 3]!, '127.0.0.1', agent)
      statuses.push(r.status)
      if (r.status === 429) refused ??= r
    }
    const seconds = (performance.now() - t0) / 1000
    const ok = statuses.filter(s => s === 200).length
    console.info(`[rate] address: ${ok} of ${statuses.length} requests accepted in ${seconds.toFixed(2)} s (budget 60 + 20/s)`)
    // Before the fix all 150 were 200.
    expect(ok).toBeLessThanOrEqual(60 + Math.ceil(20 * seconds))
    expect(new Set(statuses)).toEqual(new Set([200, 429]))
    if (refused === undefined) throw new Error('never refused')
    expect(Number(refused.headers['retry-after'])).toBeGreaterThanOrEqual(1)
    expect(JSON.parse(refused.body.toString()).error).toMatch(/too many requests/)
    expect((await getFrom(`${server.url}/docs/ip`, '127.0.0.2')).status).toBe(200)
    expect((await getFrom(`${server.url}/healthz`, '127.0.0.1')).status).toBe(200)
    expect(server.weft.context.metrics.get('limit_refused_total{limit="requests_per_second"}')).toBeGreaterThan(0)
  })

  it('one address cannot take the HTTP session table: maxHttpSessionsPerIp', async () => {
    const server = await start({ maxHttpSessionsPerIp: 5, maxHttpSessions: 100 })
    const { limits } = server.weft.context
    const session = (i: number): Record<string, string> => ({ 'x-weft-session': `filler-session-${i}` })
    const statuses: number[] = []
    for (let i = 0; i < 5; i++) statuses.push((await getFrom(`${server.url}/docs/s${i}/poll?timeout=0`, '127.0.0.1', undefined, session(i))).status)
    expect(statuses).toEqual([200, 200, 200, 200, 200])
    // Before the fix: 200 until the global table (10,000) was full, then 429 for every HTTP editor.
    const sixth = await getFrom(`${server.url}/docs/s5/poll?timeout=0`, '127.0.0.1', undefined, session(5))
    expect(sixth.status).toBe(429)
    expect(sixth.headers['retry-after']).toBe('1')
    // The same sessions keep working; an editor from another address is not refused.
    expect((await getFrom(`${server.url}/docs/s0/poll?timeout=0`, '127.0.0.1', undefined, session(0))).status).toBe(200)
    expect((await getFrom(`${server.url}/docs/s5/poll?timeout=0`, '127.0.0.2', undefined, session(5))).status).toBe(200)
    // A session that ends gives its slot back.
    const bye = await fetch(`${server.url}/docs/s1/session`, { method: 'DELETE', headers: session(1) })
    expect(bye.status).toBe(204)
    expect((await getFrom(`${server.url}/docs/s6/poll?timeout=0`, '127.0.0.1', undefined, session(6))).status).toBe(200)
    expect(server.weft.context.metrics.get('limit_refused_total{limit="http_sessions_per_ip"}')).toBe(1)
    for (const [doc, i] of [['s0', 0], ['s2', 2], ['s3', 3], ['s4', 4], ['s6', 6]] as const) {
      await fetch(`${server.url}/docs/${doc}/session`, { method: 'DELETE', headers: session(i) })
    }
    await fetch(`${server.url}/docs/s5/session`, { method: 'DELETE', headers: session(5) })
    await waitFor(() => limits.stats().httpSessionIps === 0, 'every session slot back')
  })

  it('eight readers spamming snapshots while an editor types: served from a cache, /healthz and the loop stay fast', async () => {
    const server = await start()
    // A doc that is costly to encode: many small inserts at scattered places.
    const seedDoc = new Y.Doc()
    const text = seedDoc.getText('text')
    let seed = 7
    const rnd = (): number => (seed = (seed * 16807) % 2147483647) / 2147483647
    for (let i = 0; i < 8000; i++) text.insert(Math.floor(rnd() * text.length), 'abcdefgh')
    const map = seedDoc.getMap('map')
    for (let i = 0; i < 2000; i++) map.set(`k${i}`, { v: i })
    await appendAt(server.weft.context.options.storage, 'big', [{ seq: 1, update: Y.encodeStateAsUpdate(seedDoc) }])
    const editor = stockClient(server.wsUrl, 'big')
    cleanups.push(() => editor.destroy())
    await synced(editor)
    expect((await fetch(`${server.url}/docs/big`)).status).toBe(200) // loaded and warm

    // Readers and health checker in a process of their own (see spawnReaders).
    const spam = spawnReaders(`${server.url}/docs/big`, '', 8, 4000)
    const checker = spawnReaders('', `${server.url}/healthz`, 0, 4000)
    cleanups.push(() => spam.kill(), () => checker.kill())
    const stop = performance.now() + 4000
    let typed = 0
    const typing = (async () => {
      while (performance.now() < stop) {
        editor.text.insert(0, 'k')
        typed++
        await sleep(100)
      }
    })()
    const loop = watchLoop()
    await typing
    const { served, statuses } = await spam.result
    const { healthMs } = await checker.result
    const worst = loop.stop('snapshot spam (8 readers) while an editor types')
    const worstHealth = Math.max(...healthMs)
    const hits = server.weft.context.metrics.get('http_snapshot_cache_hits_total')
    console.info(`[snapshot] ${served} snapshots (${hits} from the cache) while ${typed} keystrokes; /healthz worst ${worstHealth.toFixed(1)} ms of ${healthMs.length}`)
    expect(statuses).toEqual([200])
    await waitFor(() => server.weft.context.registry.get('big')!.ydoc.getText('text').toString().startsWith('k'.repeat(typed)), 'every keystroke stored')
    expect(hits).toBeGreaterThan(served / 2)
    expect(worstHealth).toBeLessThan(MAX_STALL_MS)
    expect(worst).toBeLessThan(MAX_STALL_MS)
  })
})
