/** observe(): a read-only mirror from the SSE stream, resuming by cursor after a drop. */
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { startServer, type TestServer } from '../helpers/server.js'
import { startProxy, type HostileProxy } from '../helpers/hostile-proxy.js'
import { waitFor as waitUntil } from '../helpers/wait.js'

// A shared 2-core machine can be slow: generous waits (they end as soon as the condition holds).
const waitFor = (check: () => boolean | Promise<boolean>, what: string, timeoutMs = 20_000): Promise<void> => waitUntil(check, what, timeoutMs)
import { memoryStorage } from '../../server/storage/memory.js'
import { observe, type Observer } from '../../client/index.js'

describe('observe()', { timeout: 90_000 }, () => {
  let server: TestServer
  let proxy: HostileProxy | null = null
  const observers: Observer[] = []
  const watch = (url: string, doc: string, opts: Parameters<typeof observe>[2] = {}): Observer => {
    const o = observe(url, doc, { backoff: { baseMs: 50, maxMs: 300 }, ...opts })
    observers.push(o)
    return o
  }
  const edit = async (doc: string, fn: (d: import('yjs').Doc) => void): Promise<void> => {
    const h = await server.weft.openDoc(doc)
    fn(h.doc)
    await h.stored()
    await h.release()
  }

  beforeEach(async () => { server = await startServer({ storage: memoryStorage() }) })
  afterEach(async () => {
    for (const o of observers.splice(0)) o.close()
    await proxy?.close()
    proxy = null
    await server.close()
  })

  it('mirrors a doc and resumes from its cursor after the stream is cut', async () => {
    await edit('obs', d => d.getText('text').insert(0, 'one '))
    proxy = await startProxy(server.port, { upgrades: false, sse: true })
    const o = watch(proxy.url, 'obs')
    await waitFor(() => o.doc?.getText('text').toString() === 'one ', 'the snapshot')
    const first = o.cursor
    expect(first).toMatch(/\./)
    await edit('obs', d => d.getText('text').insert(4, 'two '))
    await waitFor(() => o.doc?.getText('text').toString() === 'one two ', 'a live update')
    expect(o.cursor).not.toBe(first)

    // Cut the stream and edit while the observer is away: it resumes with exactly what it missed.
    const statuses: string[] = []
    o.on('status', e => statuses.push(e.status))
    const mirror = o.doc!
    proxy.cutAll()
    await edit('obs', d => d.getText('text').insert(8, 'three'))
    await waitFor(() => o.doc?.getText('text').toString() === 'one two three', 'the missed update after resuming')
    expect(statuses).toContain('disconnected')
    // Resumed, not reset: still the same Y.Doc instance.
    expect(o.doc).toBe(mirror)
  })

  it('view: json gives the server-rendered content without a Y.Doc', async () => {
    await edit('json', d => { d.getText('body').insert(0, 'hello'); d.getMap('meta').set('title', 'T') })
    const o = watch(server.url, 'json', { view: 'json' })
    await waitFor(() => (o.content as any)?.body === 'hello', 'the JSON content')
    expect(o.doc).toBeNull()
    expect((o.content as any).meta).toEqual({ title: 'T' })
    await edit('json', d => d.getText('body').insert(5, ' world'))
    await waitFor(() => (o.content as any)?.body === 'hello world', 'content after an update')
  })

  it('a garbage start cursor gets a reset, and a refused stream stops the observer', async () => {
    await edit('reset', d => d.getText('text').insert(0, 'state'))
    const o = watch(server.url, 'reset', { cursor: 'garbage' })
    await waitFor(() => o.doc?.getText('text').toString() === 'state', 'the reset state')
    const bad = watch(server.url, 'bad\u0001name')
    const errors: number[] = []
    bad.on('error', e => errors.push(e.code))
    await waitFor(() => errors.length === 1, 'the observer to give up on a 400')
  })
})
