/**
 * Server hooks (server/hooks.ts) and weft.disconnect(): a real server, stock providers and HTTP
 * clients, users named by an authenticate() callback (`?user=`).
 */
import type { IncomingMessage } from 'node:http'
import { describe, expect, it } from 'vitest'
import * as Y from 'yjs'
import { memoryStorage } from '../../server/storage/memory.js'
import type { WeftHooks, ChangeEvent, SessionEvent } from '../../server/hooks.js'
import type { WeftOptions } from '../../server/options.js'
import { CloseCode } from '../../shared/close-codes.js'
import { cleanupAfterEach, startServer, type TestServer } from '../helpers/server.js'
import { stockClient, synced, type StockClient } from '../helpers/providers.js'
import { openSse } from '../helpers/sse.js'
import { sleep, waitFor } from '../helpers/wait.js'

const byQuery = (req: IncomingMessage): { access: 'write', user?: string } => ({ access: 'write', user: new URL(req.url ?? '/', 'http://x').searchParams.get('user') ?? undefined })

describe('server hooks', () => {
  const cleanups = cleanupAfterEach()
  const serve = async (options: WeftOptions): Promise<TestServer> => {
    const s = await startServer({ storage: memoryStorage(), authenticate: byQuery, ...options })
    cleanups.push(() => s.close())
    return s
  }
  const client = (s: TestServer, doc: string, user: string): StockClient => {
    const c = stockClient(s.wsUrl, doc, { params: { user } })
    cleanups.push(() => c.destroy())
    return c
  }
  const textOf = async (s: TestServer, doc: string): Promise<string> => {
    const res = await fetch(`${s.url}/docs/${doc}?user=reader`, { headers: { accept: 'application/octet-stream' } })
    const y = new Y.Doc()
    Y.applyUpdate(y, new Uint8Array(await res.arrayBuffer()))
    return y.getText('text').toString()
  }

  it('beforeUpdate refuses an update on every pipe: WebSocket 4403, HTTP 403, the doc unchanged; others write on', async () => {
    const refuseMallory: WeftHooks = { beforeUpdate (e) { if (e.user === 'mallory') throw new Error('mallory may not write') } }
    const s = await serve({ hooks: [refuseMallory] })
    const alice = client(s, 'guarded', 'alice')
    const mallory = client(s, 'guarded', 'mallory')
    await synced(alice, mallory)
    const closes: number[] = []
    mallory.provider.on('connection-close', (e: CloseEvent | null) => { if (e != null) closes.push(e.code) })
    alice.text.insert(0, 'alice ')
    mallory.text.insert(0, 'MALLORY ')
    await waitFor(() => closes.includes(CloseCode.forbidden), 'mallory to be closed with 4403')
    await sleep(100)
    expect(await textOf(s, 'guarded')).toBe('alice ')
    // Over HTTP: 403, nothing stored.
    const other = new Y.Doc()
    other.getText('text').insert(0, 'POSTED ')
    const post = await fetch(`${s.url}/docs/guarded/updates?user=mallory`, { method: 'POST', headers: { 'content-type': 'application/octet-stream' }, body: Buffer.from(Y.encodeStateAsUpdate(other)) })
    expect(post.status).toBe(403)
    expect(((await post.json()) as { error: string }).error).toMatch(/mallory may not write/)
    expect(await textOf(s, 'guarded')).toBe('alice ')
    const ok = await fetch(`${s.url}/docs/guarded/updates?user=alice`, { method: 'POST', headers: { 'content-type': 'application/octet-stream' }, body: Buffer.from(Y.encodeStateAsUpdate(other)) })
    expect(ok.status).toBe(204)
  })

  it('observers hear connects, disconnects, loads, unloads and debounced changes, in list order; a throwing hook changes nothing', async () => {
    const calls: string[] = []
    const changes: ChangeEvent[] = []
    const sessions: SessionEvent[] = []
    const first: WeftHooks = {
      onConnect (e) { calls.push('first:connect'); sessions.push(e) },
      onDisconnect (e) { calls.push(`first:disconnect:${e.user}`) },
      onLoad (e) { calls.push(`first:load:${e.doc}`) },
      onUnload (e) { calls.push(`first:unload:${e.doc}`) },
      onChange (e) { changes.push(e) }
    }
    const second: WeftHooks = {
      onConnect () { calls.push('second:connect'); throw new Error('a broken hook') },
      async onChange () { throw new Error('a broken async hook') }
    }
    const s = await serve({ hooks: [first, second], changeDebounceMs: 150, unloadAfterMs: 50 })
    const alice = client(s, 'watched', 'alice')
    await synced(alice)
    for (let i = 0; i < 20; i++) alice.text.insert(alice.text.length, 'x')
    await waitFor(() => changes.length > 0, 'onChange', 5000)
    await sleep(300)
    // One event for the burst (debounced), naming the writer and the cursor range.
    expect(changes).toHaveLength(1)
    expect(changes[0]).toMatchObject({ doc: 'watched', users: ['alice'] })
    expect(changes[0]!.toSeq).toBeGreaterThanOrEqual(changes[0]!.fromSeq)
    expect(changes[0]!.updates).toBeGreaterThan(0)
    expect(sessions[0]).toMatchObject({ doc: 'watched', user: 'alice', access: 'write', transport: 'websocket' })
    // An HTTP editor's session is a session too.
    const post = new Y.Doc()
    post.getText('text').insert(0, 'y')
    await fetch(`${s.url}/docs/watched/updates?user=bob&session=bobs-session-1`, { method: 'POST', headers: { 'content-type': 'application/octet-stream' }, body: Buffer.from(Y.encodeStateAsUpdate(post)) })
    await waitFor(() => sessions.some(e => e.user === 'bob' && e.transport === 'http'), 'bob\'s HTTP session to connect')
    await fetch(`${s.url}/docs/watched/session?user=bob&session=bobs-session-1`, { method: 'DELETE' })
    alice.provider.disconnect()
    await waitFor(() => calls.includes('first:unload:watched'), 'the doc to unload', 5000)
    expect(calls.slice(0, 3)).toEqual(['first:load:watched', 'first:connect', 'second:connect'])
    expect(calls).toContain('first:disconnect:alice')
    expect(calls).toContain('first:disconnect:bob')
    expect(calls.indexOf('first:unload:watched')).toBeGreaterThan(calls.indexOf('first:disconnect:alice'))
    // The server works on after the broken hooks.
    const again = client(s, 'watched', 'carol')
    await synced(again)
    expect(again.text.toString()).toContain('x'.repeat(20))
  })

  it('weft.disconnect() ends a user\'s sessions on every pipe (WebSocket 4401, SSE stream ended), and no one else\'s', async () => {
    const s = await serve({})
    const alice = client(s, 'kick', 'alice')
    const bob = client(s, 'kick', 'bob')
    await synced(alice, bob)
    const stream = await openSse(`${s.url}/docs/kick/events?user=alice`)
    cleanups.push(() => stream.close())
    await stream.next(e => e.event === 'snapshot', 'snapshot')
    const closes: number[] = []
    alice.provider.on('connection-close', (e: CloseEvent | null) => { if (e != null) closes.push(e.code) })
    expect(s.weft.disconnect({ user: 'alice' })).toBe(2)
    await waitFor(() => closes.includes(CloseCode.unauthorized) && stream.ended, 'alice\'s socket and stream to end')
    expect(bob.provider.wsconnected).toBe(true)
    expect(s.weft.disconnect({ doc: 'nobody-here' })).toBe(0)
    expect(() => s.weft.disconnect({})).toThrow(/doc, a user or both/)
  })

  it('POST /admin/disconnect does the same for an operator with the admin token (401 without, 400 with nothing to match)', async () => {
    const adminToken = 'an-admin-token-of-16+'
    const s = await serve({ adminToken })
    const bob = client(s, 'kick-http', 'bob')
    await synced(bob)
    const closes: number[] = []
    bob.provider.on('connection-close', (e: CloseEvent | null) => { if (e != null) closes.push(e.code) })
    const kick = async (query: string, token?: string): Promise<Response> => await fetch(`${s.url}/admin/disconnect?${query}`, { method: 'POST', headers: token === undefined ? {} : { authorization: `Bearer ${token}` } })
    const anonymous = await kick('user=bob')
    expect(anonymous.status).toBe(401)
    expect(anonymous.headers.get('www-authenticate')).toMatch(/Bearer/)
    expect((await kick('', adminToken)).status).toBe(400)
    expect(bob.provider.wsconnected).toBe(true)
    const ok = await kick('user=bob&doc=kick-http', adminToken)
    expect(ok.status).toBe(200)
    expect(await ok.json()).toEqual({ ended: 1 })
    await waitFor(() => closes.includes(CloseCode.unauthorized), 'bob to be disconnected')
  })
})
