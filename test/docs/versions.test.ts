/**
 * Versions and restore over real sockets (docs/versions.ts, http/versions.ts; the restore update
 * itself is restore-update.test.ts): two stock editors, an SSE observer and a long-poller all end
 * with the version's content without reconnecting, typing during a restore converges, and
 * restoring a later version brings the edits back; after a restart and a compaction, on LevelDB
 * and PostgreSQL; automatic checkpoints after a quiet period and at the maximum interval, pruned;
 * the routes' access and hostile bodies.
 */
import vm from 'node:vm'
import { describe, expect, it } from 'vitest'
import * as Y from 'yjs'
import { cleanupAfterEach, startServer, tempDir, type TestServer } from '../helpers/server.js'
import { stockClient, synced, type StockClient } from '../helpers/providers.js'
import { mirrorReady, sseMirror } from '../helpers/sse.js'
import { sleep, waitFor } from '../helpers/wait.js'
import { accessMatrix, hsToken, SECRET } from '../helpers/tokens.js'
import { dropWeftTables, haveService, postgresUrl } from '../helpers/services.js'
import { contentOf, contentString, longPoller, paragraph, versionsApi } from '../helpers/versions-clients.js'
import { leveldbStorage } from '../../server/storage/leveldb.js'
import { memoryStorage } from '../../server/storage/memory.js'
import { postgresStorage } from '../../server/storage/postgres.js'
import type { Storage } from '../../server/storage/types.js'
import type { WeftOptions } from '../../server/options.js'
import type { RestoreEvent } from '../../server/hooks.js'

const cleanups = cleanupAfterEach()
/** Automatic checkpoints off, unless a test turns them on. */
const manualOnly: WeftOptions = { versionQuietMs: 0, versionIntervalMs: 0 }

async function server (options: WeftOptions): Promise<TestServer> {
  const s = await startServer(options)
  cleanups.push(() => s.close())
  return s
}

function editor (s: TestServer, doc: string): StockClient {
  const c = stockClient(s.wsUrl, doc)
  cleanups.push(() => c.destroy())
  return c
}

/** Counts a provider's disconnects from now on (a reconnect starts with one). */
function disconnects (c: StockClient): () => number {
  let n = 0
  c.provider.on('status', ({ status }: { status: string }) => { if (status === 'disconnected') n++ })
  return () => n
}

const sharedDoc = (s: TestServer, doc: string): Y.Doc => s.weft.context.registry.get(doc)!.ydoc

describe('restoring a version over the network', () => {
  it('reaches both editors, an SSE observer and a long-poller without reconnecting; typing during a restore converges; a later restore brings the edits back', async () => {
    const dir = tempDir()
    cleanups.push(dir.remove)
    const events: RestoreEvent[] = []
    const s = await server({ ...manualOnly, storage: leveldbStorage(dir.path), hooks: [{ onRestore: e => { events.push(e) } }] })
    const doc = 'team/plan'
    const api = versionsApi(s.url, doc)
    const a = editor(s, doc)
    const b = editor(s, doc)
    await synced(a, b)
    a.doc.transact(() => {
      a.text.insert(0, 'The plan, first draft.')
      a.doc.getMap('meta').set('title', 'Plan')
    })
    b.doc.getXmlFragment('prose').insert(0, [paragraph('Step one')])
    const roots = ['text', 'meta', 'prose']
    await waitFor(() => s.weft.context.registry.get(doc) !== undefined && contentOf(sharedDoc(s, doc)) === contentOf(a.doc) && contentOf(a.doc) === contentOf(b.doc), 'the first edits to arrive everywhere')

    const v1 = await api.take('first draft')
    expect(v1.status).toBe(201)
    expect(v1.body).toMatchObject({ name: 'first draft', auto: false, seq: s.weft.context.registry.get(doc)!.seq })
    const shown = await api.show(v1.body.id)
    expect(shown.status).toBe(200)
    expect(shown.body.cursor).toBe(v1.body.cursor)
    const want = contentString(shown.body.content, roots)
    expect(want).toBe(contentOf(a.doc, roots))

    const sse = await sseMirror(`${s.url}/docs/${encodeURIComponent(doc)}/events`)
    cleanups.push(() => sse.close())
    await mirrorReady(sse)
    const poller = await longPoller(s.url, doc)
    cleanups.push(() => poller.close())
    const aDrops = disconnects(a)
    const bDrops = disconnects(b)

    // More edits by both editors, a new root among them.
    a.doc.transact(() => {
      a.text.delete(0, 4)
      a.text.insert(a.text.length, ' Revised by A.')
      a.doc.getMap('meta').set('title', 'Plan (revised)')
      a.doc.getMap('meta').set('owner', 'a')
    })
    b.doc.transact(() => {
      const prose = b.doc.getXmlFragment('prose')
      prose.delete(0, 1)
      prose.insert(0, [paragraph('Step zero'), paragraph('Step two')])
      b.doc.getText('notes').insert(0, 'B was here')
    })
    const replicas = (): Y.Doc[] => [a.doc, b.doc, sse.doc, poller.doc, sharedDoc(s, doc)]
    const allAt = (content: string, only?: string[]) => () => replicas().every(d => contentOf(d, only) === content)
    const converged = (): boolean => new Set(replicas().map(d => contentOf(d))).size === 1
    await waitFor(() => converged() && a.doc.getText('notes').length > 0 && a.doc.getMap('meta').get('owner') === 'a', 'the later edits to reach every replica')
    const edited = contentOf(a.doc)
    expect(contentOf(a.doc, roots)).not.toBe(want)

    const restored = await api.restore(v1.body.id)
    expect(restored.status).toBe(200)
    expect(restored.body.version.id).toBe(v1.body.id)
    expect(restored.body.seq).toBeGreaterThan(v1.body.seq)
    await waitFor(allAt(want, roots), 'every replica to show the version')
    // The root born after the version is emptied, not removed (a Yjs root cannot be).
    expect(a.doc.getText('notes').toString()).toBe('')
    expect(sharedDoc(s, doc).getText('notes').toString()).toBe('')
    expect(events).toEqual([expect.objectContaining({ doc, version: v1.body.id, name: 'first draft', seq: restored.body.seq })])

    // The content it replaced was kept as a version: restoring it brings the edits back.
    expect(restored.body.before.name).toBe('Before restoring "first draft"')
    const back = await api.restore(restored.body.before.id)
    expect(back.status).toBe(200)
    await waitFor(allAt(edited), 'every replica to show the later edits again')

    // Typing during a restore: every replica converges (on the version plus what was typed).
    const typing = (async () => {
      for (let i = 0; i < 40; i++) {
        b.text.insert(b.text.length, String(i % 10))
        await sleep(5)
      }
    })()
    await sleep(30)
    const during = await api.restore(v1.body.id)
    await typing
    expect(during.status).toBe(200)
    await waitFor(converged, 'every replica to converge after typing during a restore')
    // What B typed after the restore was applied is kept after the version's text.
    expect(a.text.toString().startsWith('The plan, first draft.')).toBe(true)

    // Nobody reconnected or started over.
    expect(aDrops()).toBe(0)
    expect(bDrops()).toBe(0)
    expect(sse.snapshots + sse.resets).toBe(1)
    expect(sse.client.ended).toBe(false)
    expect(poller.resets).toBe(1)
    const metrics = s.weft.context.metrics
    expect(metrics.get('versions_restored_total')).toBe(3)
    expect(metrics.get('versions_taken_total{kind="manual"}')).toBeGreaterThanOrEqual(2)
  })

  it('answers 404 for an unknown version, on every route, and loads nothing', async () => {
    const s = await server({ ...manualOnly, storage: memoryStorage() })
    const api = versionsApi(s.url, 'ghost')
    expect((await api.restore('0000000000abcde')).status).toBe(404)
    expect((await api.restore('../../etc')).status).toBe(404)
    expect((await api.show('0000000000abcde')).status).toBe(404)
    expect((await fetch(`${s.url}/view/ghost?version=0000000000abcde`)).status).toBe(404)
    expect(await api.list()).toEqual({ status: 200, body: { doc: 'ghost', versions: [] } })
    expect(s.weft.context.registry.loads).toBe(0)
  })
})

describe('around a version', () => {
  it('the viewer page shows a version: 200 with the version list and a script that parses', async () => {
    const s = await server({ ...manualOnly, storage: memoryStorage() })
    const a = editor(s, 'seen')
    await synced(a)
    a.text.insert(0, 'worth keeping')
    await waitFor(() => s.weft.context.registry.get('seen')?.ydoc.getText('text').length === 13, 'the edit to be stored')
    const v = await versionsApi(s.url, 'seen').take('kept')
    const res = await fetch(`${s.url}/view/seen?version=${v.body.id}`)
    expect(res.status).toBe(200)
    const html = await res.text()
    expect(html).toContain('id="versions-toggle"')
    expect(html).toContain('id="banner"')
    const script = /<script nonce="[^"]+">([\s\S]*)<\/script>/.exec(html)?.[1]
    expect(script).toBeDefined()
    expect(() => new vm.Script(script!)).not.toThrow()
  })

  it('a delete takes the versions with it, and a checkpoint pending for the old doc does not bring one back', async () => {
    const adminToken = 'an-admin-token-of-some-length'
    const s = await server({ storage: memoryStorage(), adminToken, versionQuietMs: 200, versionIntervalMs: 0 })
    const a = editor(s, 'gone')
    await synced(a)
    a.text.insert(0, 'soon deleted')
    const api = versionsApi(s.url, 'gone')
    await waitFor(() => s.weft.context.registry.get('gone')?.ydoc.getText('text').length === 12, 'the edit to be stored')
    expect((await api.take('named')).status).toBe(201)
    a.text.insert(0, 'more ')
    await waitFor(() => s.weft.context.registry.get('gone')?.ydoc.getText('text').length === 17, 'the next edit to be stored')
    const del = await fetch(`${s.url}/docs/gone`, { method: 'DELETE', headers: { authorization: `Bearer ${adminToken}` } })
    expect(del.status).toBe(200)
    await sleep(400)
    expect((await api.list()).body.versions).toEqual([])
    expect(await s.weft.context.options.storage.meta.list('version-states:gone')).toEqual([])
  })
})

// ---- restart and compaction, on LevelDB and PostgreSQL -----------------------------------

const pgAvailable = await haveService('postgres')
let pgTables = 0

interface Backend { name: string, make (): Promise<{ open: () => Storage, drop: () => Promise<void> }> }
const backends: Backend[] = [
  {
    name: 'LevelDB',
    async make () {
      const dir = tempDir()
      return { open: () => leveldbStorage(dir.path), drop: async () => dir.remove() }
    }
  },
  ...(pgAvailable
    ? [{
        name: 'PostgreSQL',
        async make () {
          const prefix = `weft_versions${process.pid}_${pgTables++}`
          return {
            open: () => postgresStorage(postgresUrl, { tablePrefix: prefix, poolSize: 4 }),
            drop: async () => { await dropWeftTables(prefix) }
          }
        }
      }]
    : [])
]

describe.each(backends)('versions on $name', backend => {
  it('survive compaction and a restart, and a restore after both gives the version\'s content', async () => {
    const store = await backend.make()
    cleanups.push(store.drop)
    const doc = 'kept'
    const options = { ...manualOnly, compactAfterRecords: 5 }
    let s = await server({ ...options, storage: store.open() })
    let a = editor(s, doc)
    await synced(a)
    for (let i = 0; i < 12; i++) {
      a.text.insert(a.text.length, `line ${i}\n`)
      a.doc.getMap('meta').set('lines', i + 1)
      await sleep(2)
    }
    await waitFor(() => contentOf(sharedDoc(s, doc)) === contentOf(a.doc), 'the edits to be stored')
    const api = versionsApi(s.url, doc)
    const v1 = await api.take('twelve lines')
    expect(v1.status).toBe(201)
    const want = contentOf(a.doc)
    // Edits after the version, deleting most of what it holds, then a compaction of the log.
    a.text.delete(0, a.text.length - 8)
    a.doc.getMap('meta').set('lines', 1)
    for (let i = 0; i < 8; i++) { a.text.insert(0, `new ${i} `); await sleep(2) }
    const edited = contentOf(a.doc)
    await waitFor(() => contentOf(sharedDoc(s, doc)) === edited, 'the later edits to be stored')
    // Compacted: the log no longer holds the records the version was taken from.
    const shared = s.weft.context.registry.get(doc)!
    await waitFor(async () => {
      await shared.flushed()
      await shared.compact()
      return (await s.weft.context.options.storage.load(doc)).length === 1
    }, 'the log to be compacted into one record')
    expect((await s.weft.context.options.storage.load(doc))[0]!.seq).toBeGreaterThan(v1.body.seq)
    a.destroy()
    await s.close()

    // A new process over the same store.
    s = await server({ ...options, storage: store.open() })
    const again = versionsApi(s.url, doc)
    const listed = await again.list()
    expect(listed.body.versions.map(v => v.id)).toEqual([v1.body.id])
    expect(contentString((await again.show(v1.body.id)).body.content)).toBe(want)
    a = editor(s, doc)
    await synced(a)
    expect(contentOf(a.doc)).toBe(edited)
    const r = await again.restore(v1.body.id)
    expect(r.status).toBe(200)
    await waitFor(() => contentOf(a.doc) === want && contentOf(sharedDoc(s, doc)) === want, 'the editor to show the version')
    // And back to the later content, through the version the restore kept.
    expect((await again.restore(r.body.before.id)).status).toBe(200)
    await waitFor(() => contentOf(a.doc) === edited, 'the editor to show the later edits again')
  })
})

// ---- automatic checkpoints --------------------------------------------------------------

describe('automatic checkpoints', () => {
  const autos = async (s: TestServer, doc: string): Promise<number> => (await versionsApi(s.url, doc).list()).body.versions.filter(v => v.auto).length

  it('are taken once a burst of edits goes quiet, and not again without edits', async () => {
    const s = await server({ storage: memoryStorage(), versionQuietMs: 150, versionIntervalMs: 0 })
    const a = editor(s, 'q')
    await synced(a)
    for (let i = 0; i < 5; i++) a.text.insert(i, 'x')
    await waitFor(async () => await autos(s, 'q') === 1, 'a checkpoint after the burst went quiet')
    const [v] = (await versionsApi(s.url, 'q').list()).body.versions
    expect(v).toMatchObject({ auto: true, seq: s.weft.context.registry.get('q')!.seq })
    expect(v!.by).toBeUndefined()
    await sleep(400)
    expect(await autos(s, 'q')).toBe(1)
    expect(s.weft.context.metrics.get('versions_taken_total{kind="auto"}')).toBe(1)
  })

  it('are skipped when the content equals the newest version\'s', async () => {
    const s = await server({ storage: memoryStorage(), versionQuietMs: 150, versionIntervalMs: 0 })
    const a = editor(s, 'same')
    await synced(a)
    a.text.insert(0, 'abc')
    await waitFor(() => s.weft.context.registry.get('same')?.ydoc.getText('text').toString() === 'abc', 'the edit to be stored')
    expect((await versionsApi(s.url, 'same').take('by hand')).status).toBe(201)
    await sleep(400)
    const versions = (await versionsApi(s.url, 'same').list()).body.versions
    expect(versions.map(v => v.name)).toEqual(['by hand'])
  })

  it('are taken at the maximum interval while edits go on, and pruned to maxAutoVersions; named ones are kept', async () => {
    const s = await server({ storage: memoryStorage(), versionQuietMs: 60_000, versionIntervalMs: 250, maxAutoVersions: 2 })
    const a = editor(s, 'busy')
    await synced(a)
    const api = versionsApi(s.url, 'busy')
    let named = false
    const started = Date.now()
    for (let i = 0; i < 80 && Date.now() - started < 1500; i++) {
      a.text.insert(a.text.length, 'y')
      if (i === 10) named = (await api.take('milestone')).status === 201
      await sleep(20)
    }
    expect(named).toBe(true)
    await waitFor(() => s.weft.context.metrics.get('versions_taken_total{kind="auto"}') >= 4, 'checkpoints while typing never pauses')
    const versions = (await api.list()).body.versions
    expect(versions.filter(v => v.auto)).toHaveLength(2)
    expect(versions.filter(v => !v.auto).map(v => v.name)).toEqual(['milestone'])
    // Newest first, ids in time order.
    expect(versions.map(v => v.id)).toEqual([...versions.map(v => v.id)].sort().reverse())
  })

  it('are taken when a doc unloads with edits pending, and not at all when turned off', async () => {
    const s = await server({ storage: memoryStorage(), versionQuietMs: 60_000, versionIntervalMs: 0, unloadAfterMs: 50 })
    const a = editor(s, 'leaving')
    await synced(a)
    a.text.insert(0, 'written just before leaving')
    await waitFor(() => s.weft.context.registry.get('leaving')?.ydoc.getText('text').length === 27, 'the edit to be stored')
    a.destroy()
    await waitFor(async () => await autos(s, 'leaving') === 1, 'a checkpoint as the doc unloads')
    expect(s.weft.context.registry.has('leaving')).toBe(false)

    const off = await server({ ...manualOnly, storage: memoryStorage(), unloadAfterMs: 50 })
    const b = editor(off, 'leaving')
    await synced(b)
    b.text.insert(0, 'no versions here')
    await sleep(100)
    b.destroy()
    await waitFor(() => !off.weft.context.registry.has('leaving'), 'the doc to unload')
    expect((await versionsApi(off.url, 'leaving').list()).body.versions).toEqual([])
  })
})

// ---- access and hostile input -----------------------------------------------------------

describe('the version routes', () => {
  it('answer each credential as documented', async () => {
    const adminToken = 'an-admin-token-of-some-length'
    const s = await server({ ...manualOnly, storage: memoryStorage(), auth: { secret: SECRET }, adminToken })
    const doc = 'team-a/x'
    const seg = encodeURIComponent(doc)
    const tokens: Record<string, string | null> = {
      none: null,
      read: await hsToken({ docs: doc, access: 'read', sub: 'reader' }),
      write: await hsToken({ docs: doc, access: 'write', sub: 'writer' }),
      'other doc': await hsToken({ docs: 'team-b/y', access: 'write' }),
      'admin token': adminToken,
      'admin JWT': await hsToken({ admin: true, sub: 'ops' })
    }
    const api = versionsApi(s.url, doc)
    const first = await api.take('seed', tokens.write!)
    expect(first.status).toBe(201)
    expect(first.body.by).toBe('writer')
    const h = (t: string | null): Record<string, string> => t === null ? {} : { authorization: `Bearer ${t}` }
    const routes: Record<string, (t: string | null) => Promise<number>> = {
      list: async t => (await fetch(`${s.url}/docs/${seg}/versions`, { headers: h(t) })).status,
      take: async t => (await fetch(`${s.url}/docs/${seg}/versions`, { method: 'POST', headers: h(t) })).status,
      restore: async t => (await fetch(`${s.url}/docs/${seg}/versions/${first.body.id}/restore`, { method: 'POST', headers: h(t) })).status,
      show: async t => (await fetch(`${s.url}/docs/${seg}?version=${first.body.id}`, { headers: h(t) })).status,
      view: async t => (await fetch(`${s.url}/view/${seg}?version=${first.body.id}${t === null ? '' : `&token=${t}`}`)).status
    }
    const ok: Record<string, number> = { list: 200, take: 201, restore: 200, show: 200, view: 200 }
    const expected = (route: string, kind: string): number => {
      if (kind === 'none') return 401
      if (kind === 'other doc') return 403
      if (kind === 'read') return route === 'take' || route === 'restore' ? 403 : 200
      // The admin credential works on the version routes; showing a version is a doc read.
      if (kind.startsWith('admin')) return route === 'show' || route === 'view' ? 401 : ok[route]!
      return ok[route]!
    }
    const { got, want } = await accessMatrix(routes, tokens, expected)
    expect(got).toEqual(want)
    const byWho = (await api.list(tokens.read!)).body.versions.map(v => v.by ?? '-')
    expect(byWho).toContain('ops')
  })

  it('refuse hostile bodies with a 4xx and change nothing', async () => {
    const s = await server({ ...manualOnly, storage: memoryStorage() })
    const doc = 'h'
    const api = versionsApi(s.url, doc)
    const a = editor(s, doc)
    await synced(a)
    a.text.insert(0, 'steady')
    await waitFor(() => s.weft.context.registry.get(doc)?.ydoc.getText('text').toString() === 'steady', 'the edit to be stored')
    const v = await api.take('only')
    const before = { versions: JSON.stringify((await api.list()).body), seq: s.weft.context.registry.get(doc)!.seq, content: contentOf(sharedDoc(s, doc)) }
    const nested = '['.repeat(1500) + ']'.repeat(1500)
    const post = async (path: string, body: string | Uint8Array, type = 'application/json'): Promise<number> => {
      const res = await fetch(`${s.url}/docs/${doc}${path}`, { method: 'POST', body: typeof body === 'string' ? body : Buffer.from(body), headers: { 'content-type': type } })
      await res.arrayBuffer()
      return res.status
    }
    const cases: Array<[string, string, string | Uint8Array, string?]> = [
      ['huge', '/versions', JSON.stringify({ name: 'x'.repeat(1 << 20) })],
      ['nested', '/versions', nested],
      ['nested name', '/versions', `{"name":${nested}}`],
      ['number name', '/versions', '{"name":5}'],
      ['unknown field', '/versions', '{"name":"a","extra":1}'],
      ['empty name', '/versions', '{"name":""}'],
      ['blank name', '/versions', '{"name":"   "}'],
      ['long name', '/versions', JSON.stringify({ name: 'n'.repeat(201) })],
      ['control characters', '/versions', JSON.stringify({ name: 'a\u0000b' })],
      ['null', '/versions', 'null'],
      ['array', '/versions', '[]'],
      ['not JSON', '/versions', '{"name":'],
      ['text/plain', '/versions', 'name=a', 'text/plain'],
      ['restore with fields', `/versions/${v.body.id}/restore`, '{"force":true}'],
      ['restore huge', `/versions/${v.body.id}/restore`, new Uint8Array(1 << 20).fill(32)]
    ]
    const statuses = Object.fromEntries(await Promise.all(cases.map(async ([what, path, body, type]) => [what, await post(path, body, type)] as const)))
    expect(statuses).toEqual({
      huge: 413,
      nested: 400,
      'nested name': 400,
      'number name': 400,
      'unknown field': 400,
      'empty name': 400,
      'blank name': 400,
      'long name': 400,
      'control characters': 400,
      null: 400,
      array: 400,
      'not JSON': 400,
      'text/plain': 415,
      'restore with fields': 400,
      'restore huge': 413
    })
    expect(JSON.stringify((await api.list()).body)).toBe(before.versions)
    expect(s.weft.context.registry.get(doc)!.seq).toBe(before.seq)
    expect(contentOf(sharedDoc(s, doc))).toBe(before.content)
  })
})

describe('versions from an embedder', () => {
  it('weft.takeVersion / listVersions / restoreVersion work without HTTP, and an unknown id rejects with VersionNotFound', async () => {
    const s = await server({ storage: memoryStorage(), ...manualOnly })
    const h = await s.weft.openDoc('embedded')
    cleanups.push(() => h.release())
    h.doc.getText('text').insert(0, 'first')
    await h.stored()
    const v = await s.weft.takeVersion('embedded', { name: 'v1', user: 'svc' })
    expect(v).toMatchObject({ name: 'v1', by: 'svc', auto: false })
    h.doc.getText('text').insert(5, ' and more')
    await h.stored()
    expect((await s.weft.listVersions('embedded')).map(x => x.id)).toEqual([v.id])
    const r = await s.weft.restoreVersion('embedded', v.id, { user: 'svc' })
    expect(r.version.id).toBe(v.id)
    await waitFor(() => h.doc.getText('text').toString() === 'first', 'the handle to receive the restore')
    const { VersionNotFound } = await import('../../server/index.js')
    await expect(s.weft.restoreVersion('embedded', 'nosuchversion00')).rejects.toBeInstanceOf(VersionNotFound)
  })
})
