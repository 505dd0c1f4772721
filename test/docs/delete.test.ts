/**
 * `DELETE /docs/:doc` with an editor, an observer and a poller attached: each gets its
 * documented end (WebSocket 4410, SSE `deleted` then the end of the stream, a held poll 410);
 * the stored bytes are gone (read from PostgreSQL's tables and from the LevelDB files
 * themselves); the name is a new, empty doc; a cursor from before the delete gets a reset with
 * the new content only; and a stale editor sending the old content is refused (410 / 4410)
 * without changing the new doc. Plus who may delete (admin only).
 */
import { describe, expect, it } from 'vitest'
import * as Y from 'yjs'
import pg from 'pg'
import { Level } from 'level'
import WebSocket from 'ws'
import { WebsocketProvider as ReferenceProvider } from 'y-websocket-ref'
import * as encoding from 'lib0/encoding'
import { cleanupAfterEach, startServer, tempDir, type TestServer } from '../helpers/server.js'
import { stockClient, synced } from '../helpers/providers.js'
import { openSse } from '../helpers/sse.js'
import { hsToken, SECRET } from '../helpers/tokens.js'
import { sleep, waitFor } from '../helpers/wait.js'
import { dropWeftTables, haveService, postgresUrl } from '../helpers/services.js'
import { rawPeer } from '../helpers/raw-ws.js'
import { leveldbStorage } from '../../server/storage/leveldb.js'
import { postgresStorage } from '../../server/storage/postgres.js'
import { memoryStorage } from '../../server/storage/memory.js'
import type { Storage } from '../../server/storage/types.js'
import { CloseCode } from '../../shared/close-codes.js'
import { observe, WeftProvider } from '../../client/index.js'

const ADMIN = 'the-admin-token-for-tests'
const admin = { authorization: `Bearer ${ADMIN}` }

async function del (server: TestServer, doc: string, headers: Record<string, string> = admin): Promise<{ status: number, body: any }> {
  const res = await fetch(`${server.url}/docs/${encodeURIComponent(doc)}`, { method: 'DELETE', headers })
  return { status: res.status, body: await res.json().catch(() => null) }
}

async function snapshotText (server: TestServer, doc: string, token?: string): Promise<{ text: string, cursor: string }> {
  const res = await fetch(`${server.url}/docs/${encodeURIComponent(doc)}${token === undefined ? '' : `?token=${token}`}`)
  const body = await res.json() as { content: { text?: string }, cursor: string }
  return { text: body.content.text ?? '', cursor: body.cursor }
}

/** The sync-step-2 message of y-websocket carrying `update`. */
function step2 (update: Uint8Array): Uint8Array {
  const e = encoding.createEncoder()
  encoding.writeVarUint(e, 0)
  encoding.writeVarUint(e, 1)
  encoding.writeVarUint8Array(e, update)
  return encoding.toUint8Array(e)
}

describe('DELETE /docs/:doc', () => {
  const cleanups = cleanupAfterEach()

  async function scenario (storage: Storage, doc: string, storedKeys: () => Promise<string[]>): Promise<void> {
    const server = await startServer({ storage, adminToken: ADMIN, unloadAfterMs: 60_000 })
    cleanups.push(() => server.close())
    const editor = stockClient(server.wsUrl, doc)
    cleanups.push(() => editor.destroy())
    let closedWith: number | null = null
    editor.provider.on('connection-close', (e: CloseEvent | null) => { if (e != null) closedWith ??= e.code })
    await synced(editor)
    editor.text.insert(0, 'old secret content')
    await waitFor(async () => (await snapshotText(server, doc)).text === 'old secret content', 'the edit to be stored')
    const { cursor: oldCursor } = await snapshotText(server, doc)
    const stale = Y.encodeStateAsUpdate(editor.doc)

    const sse = await openSse(`${server.url}/docs/${encodeURIComponent(doc)}/events`)
    cleanups.push(() => sse.close())
    await sse.next(e => e.event === 'snapshot', 'the snapshot')
    const poll = fetch(`${server.url}/docs/${encodeURIComponent(doc)}/poll?cursor=${encodeURIComponent(oldCursor)}&timeout=20`)
    await waitFor(async () => /^weft_polls_pending 1$/m.test(await (await fetch(`${server.url}/metrics`)).text()), 'the poll to be held')

    expect(await del(server, doc)).toEqual({ status: 200, body: { doc, deleted: true } })

    // Each peer's documented end.
    await waitFor(() => closedWith !== null, 'the editor to be closed')
    expect(closedWith).toBe(CloseCode.docDeleted)
    await sleep(700) // past the stock provider's backoff cap: it must have stopped (4410 is permanent)
    expect(editor.provider.shouldConnect).toBe(false)
    const deleted = await sse.next(e => e.event === 'deleted', 'the deleted event')
    expect(JSON.parse(deleted.data)).toEqual({ doc })
    await waitFor(() => sse.ended, 'the stream to end')
    const polled = await poll
    expect(polled.status).toBe(410)
    expect(await polled.json()).toEqual({ error: 'doc deleted', deleted: true })

    // Storage holds nothing of it but the tombstone.
    expect(await storedKeys()).toEqual([])
    expect(await storage.load(doc)).toEqual([])

    // The name is a new, empty doc.
    expect((await snapshotText(server, doc)).text).toBe('')
    const fresh = stockClient(server.wsUrl, doc)
    cleanups.push(() => fresh.destroy())
    await synced(fresh)
    expect(fresh.text.toString()).toBe('')
    fresh.text.insert(0, 'new life')
    await waitFor(async () => (await snapshotText(server, doc)).text === 'new life', 'the new doc to be stored')

    // A cursor from before the delete: a reset with the new content, never the old.
    const resumed = await openSse(`${server.url}/docs/${encodeURIComponent(doc)}/events`, { lastEventId: oldCursor })
    cleanups.push(() => resumed.close())
    const reset = await resumed.next(e => e.event === 'reset' || e.event === 'snapshot', 'the resumed stream to start')
    expect(reset.event).toBe('reset')
    const seen = new Y.Doc()
    Y.applyUpdate(seen, Buffer.from(JSON.parse(reset.data).update, 'base64'))
    expect(seen.getText('text').toString()).toBe('new life')

    // A stale editor cannot bring the old content back: by POST (410) and by WebSocket (4410).
    const post = await fetch(`${server.url}/docs/${encodeURIComponent(doc)}/updates`, { method: 'POST', body: Buffer.from(stale), headers: { 'content-type': 'application/octet-stream' } })
    expect(post.status).toBe(410)
    expect((await post.json() as { error: string }).error).toMatch(/was deleted/)
    const raw = await rawPeer(`${server.wsUrl}/${encodeURIComponent(doc)}`)
    raw.send(step2(stale))
    expect((await raw.closed).code).toBe(CloseCode.docDeleted)
    expect((await snapshotText(server, doc)).text).toBe('new life')
    expect(fresh.text.toString()).toBe('new life')
  }

  it('ends each peer as documented, leaves no stored bytes, and the name starts over empty (LevelDB)', async () => {
    const dir = tempDir()
    cleanups.push(dir.remove)
    const doc = 'to-delete/level'
    const storage = leveldbStorage(dir.path)
    await scenario(storage, doc, async () => {
      // Read the LevelDB files themselves, beside the server's handle (a second reader of a
      // LevelDB is not allowed: copy the directory first).
      const { cpSync } = await import('node:fs')
      const copy = tempDir()
      try {
        cpSync(dir.path, copy.path, { recursive: true })
        const { rmSync } = await import('node:fs')
        rmSync(`${copy.path}/LOCK`, { force: true })
        const db = new Level<string, Uint8Array>(copy.path, { keyEncoding: 'utf8', valueEncoding: 'view' })
        await db.open()
        const keys: string[] = []
        for await (const key of db.keys()) if (key.includes(doc) && !key.startsWith('m\u0000tombstones\u0000')) keys.push(key)
        await db.close()
        return keys
      } finally { copy.remove() }
    })
  })

  it('ends each peer as documented, leaves no stored bytes, and the name starts over empty (PostgreSQL)', async () => {
    if (!(await haveService('postgres'))) return
    const prefix = `weft_del${process.pid}`
    const client = new pg.Client({ connectionString: postgresUrl })
    await client.connect()
    await dropWeftTables(prefix)
    cleanups.push(async () => { await dropWeftTables(prefix); await client.end() })
    const doc = 'to-delete/pg'
    const storage = postgresStorage(postgresUrl, { tablePrefix: prefix, poolSize: 4 })
    await scenario(storage, doc, async () => {
      const rows: string[] = []
      for (const table of ['updates', 'quarantine', 'heads']) {
        const { rows: found } = await client.query(`SELECT doc FROM ${prefix}_${table} WHERE doc = $1`, [doc])
        rows.push(...found.map(() => table))
      }
      const { rows: meta } = await client.query(`SELECT ns FROM ${prefix}_meta WHERE (ns LIKE '%' || $1 OR key = $1) AND ns <> 'tombstones'`, [doc])
      rows.push(...meta.map(r => `meta ${r.ns as string}`))
      return rows
    })
  })

  it('a reference (1.x) provider, which reconnects after any close, cannot restore the deleted content', async () => {
    const server = await startServer({ storage: memoryStorage(), adminToken: ADMIN })
    cleanups.push(() => server.close())
    const doc = 'zombie'
    const ydoc = new Y.Doc()
    const old = new ReferenceProvider(server.wsUrl, doc, ydoc, { WebSocketPolyfill: WebSocket as never, maxBackoffTime: 200 } as never)
    cleanups.push(() => { old.destroy(); ydoc.destroy() })
    let reconnects = 0
    old.on('status', (e: { status: string }) => { if (e.status === 'connected') reconnects++ })
    await waitFor(() => old.synced, 'the reference provider to sync')
    ydoc.getText('text').insert(0, 'must not come back')
    await waitFor(async () => (await snapshotText(server, doc)).text === 'must not come back', 'the edit to be stored')
    expect((await del(server, doc)).status).toBe(200)
    await waitFor(() => reconnects >= 3, 'the reference provider to keep reconnecting', 10_000)
    expect((await snapshotText(server, doc)).text).toBe('')
    expect(await server.weft.context.options.storage.load(doc)).toEqual([])
  })

  it('needs the admin credential: none 401, a doc token (read or write) 403, an admin JWT 200; 404 for no such doc', async () => {
    const server = await startServer({ storage: memoryStorage(), auth: { secret: SECRET } })
    cleanups.push(() => server.close())
    const doc = 'guarded'
    const write = await hsToken({ docs: doc, access: 'write' })
    const h = await server.weft.openDoc(doc)
    h.doc.getText('text').insert(0, 'x')
    await h.stored()
    await h.release()
    const bearer = (t: string): Record<string, string> => ({ authorization: `Bearer ${t}` })
    const none = await del(server, doc, {})
    expect(none.status).toBe(401)
    const challenged = await fetch(`${server.url}/docs/${doc}`, { method: 'DELETE' })
    expect(challenged.headers.get('www-authenticate')).toBe('Bearer realm="weft-admin"')
    const listed = await fetch(`${server.url}/docs`)
    expect([listed.status, listed.headers.get('www-authenticate')]).toEqual([401, 'Bearer realm="weft-admin"'])
    expect((await del(server, doc, bearer(await hsToken({ docs: doc, access: 'read' })))).status).toBe(403)
    expect((await del(server, doc, bearer(write))).status).toBe(403)
    expect((await del(server, doc, bearer(await hsToken({ docs: 'other', access: 'write' })))).status).toBe(403)
    expect((await del(server, doc, bearer('not-a-jwt'))).status).toBe(401)
    expect((await snapshotText(server, doc, write)).text).toBe('x')
    const adminJwt = await hsToken({ admin: true, sub: 'ops' })
    expect(await del(server, doc, bearer(adminJwt))).toEqual({ status: 200, body: { doc, deleted: true } })
    expect(await del(server, doc, bearer(adminJwt))).toEqual({ status: 404, body: { error: `no doc named "${doc}"` } })
    expect((await del(server, '', bearer(adminJwt))).status).toBe(404) // no route: /docs/
    expect((await del(server, 'x'.repeat(2000), bearer(adminJwt))).status).toBe(400)
  })

  it('weft.deleteDoc() tells the onDelete hook, and a doc deleted twice keeps refusing both past lives', async () => {
    const deletedEvents: unknown[] = []
    const server = await startServer({ storage: memoryStorage(), hooks: [{ onDelete: e => { deletedEvents.push(e) } }] })
    cleanups.push(() => server.close())
    const doc = 'twice'
    const lives: Uint8Array[] = []
    for (const text of ['first', 'second']) {
      const h = await server.weft.openDoc(doc)
      h.doc.getText('text').insert(0, text)
      await h.stored()
      lives.push(Y.encodeStateAsUpdate(h.doc))
      await h.release()
      expect(await server.weft.deleteDoc(doc, { user: 'u1' })).toBe(true)
    }
    expect(deletedEvents).toEqual([{ doc, user: 'u1' }, { doc, user: 'u1' }])
    for (const life of lives) {
      const res = await fetch(`${server.url}/docs/${doc}/updates`, { method: 'POST', body: Buffer.from(life), headers: { 'content-type': 'application/octet-stream' } })
      expect(res.status).toBe(410)
    }
    expect(await server.weft.deleteDoc(doc)).toBe(false)
  })
})

describe('DELETE /docs/:doc and Weft\'s own clients', () => {
  const cleanups = cleanupAfterEach()

  it('a WeftProvider stops with 4410 on every tier, and observe() reports 4410 and stops', async () => {
    const server = await startServer({ storage: memoryStorage(), adminToken: ADMIN })
    cleanups.push(() => server.close())
    const doc = 'weft-clients'
    const providers = (['websocket', 'sse', 'poll'] as const).map(tier => {
      const ydoc = new Y.Doc()
      const provider = new WeftProvider(server.wsUrl, doc, ydoc, {
        WebSocketPolyfill: WebSocket as unknown as typeof globalThis.WebSocket,
        transports: [tier],
        maxBackoffTime: 300,
        pollTimeoutS: 5
      })
      cleanups.push(() => { provider.destroy(); ydoc.destroy() })
      return { tier, ydoc, provider }
    })
    await waitFor(() => providers.every(p => p.provider.synced), 'the providers to sync')
    providers[0]!.ydoc.getText('text').insert(0, 'hello')
    await waitFor(() => providers.every(p => p.ydoc.getText('text').toString() === 'hello'), 'every tier to see the edit')
    const observer = observe(server.url, doc)
    cleanups.push(() => observer.close())
    const errors: number[] = []
    observer.on('error', e => { errors.push(e.code) })
    await waitFor(() => observer.synced, 'the observer to sync')

    expect((await del(server, doc)).status).toBe(200)
    await waitFor(() => providers.every(p => p.provider.stopped !== null), 'every provider to stop')
    expect(providers.map(p => [p.tier, p.provider.stopped?.code])).toEqual([['websocket', 4410], ['sse', 4410], ['poll', 4410]])
    await waitFor(() => errors.length > 0, 'the observer to report the delete')
    expect(errors).toEqual([CloseCode.docDeleted])
    await sleep(500)
    // Nobody came back with the old content.
    expect((await snapshotText(server, doc)).text).toBe('')
  })
})

describe('a deleted doc\'s records arriving from another node', () => {
  const cleanups = cleanupAfterEach()

  it('are left out by integrate (the bus could not drop the stream): the tombstone keeps them out of memory too', async () => {
    const server = await startServer({ storage: memoryStorage() })
    cleanups.push(() => server.close())
    const doc = 'bus-ghost'
    const h = await server.weft.openDoc(doc)
    h.doc.getText('text').insert(0, 'old life')
    await h.stored()
    const old = await server.weft.context.options.storage.load(doc)
    await h.release()
    expect(await server.weft.deleteDoc(doc)).toBe(true)
    const lease = await server.weft.context.registry.lease(doc)
    cleanups.push(() => lease.release())
    expect(lease.doc.tombstone).not.toBeNull()
    await lease.doc.integrate(old.map(r => ({ seq: r.seq, update: r.update })))
    expect(lease.doc.ydoc.getText('text').toString()).toBe('')
  })
})
