/**
 * JWT access over WebSocket: every way of carrying a token, every way a token can be wrong,
 * RS256/ES256 from a JWKS file, origins, expiry mid-session, and read-only sessions.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import WebSocket from 'ws'
import { WebsocketProvider } from 'y-websocket'
import * as Y from 'yjs'
import { startServer, tempDir, type TestServer } from '../helpers/server.js'
import { rawPeer, upgradeStatus } from '../helpers/raw-ws.js'
import { stockClient, synced, type StockClient } from '../helpers/providers.js'
import { hsToken, keySigner, SECRET, type KeyPairSigner } from '../helpers/tokens.js'
import { waitFor, sleep } from '../helpers/wait.js'
import { memoryStorage } from '../../server/storage/memory.js'
import { leveldbStorage } from '../../server/storage/leveldb.js'
import { AuthError } from '../../server/options.js'
import { CloseCode } from '../../shared/close-codes.js'
import { decodeMessage, encodeSyncUpdate } from '../../shared/protocol.js'

const textUpdate = (text: string): Uint8Array => {
  const d = new Y.Doc()
  d.getText('text').insert(0, text)
  return Y.encodeStateAsUpdate(d)
}

describe('JWT auth on WebSocket upgrades (HS256)', () => {
  let server: TestServer
  const clients: StockClient[] = []
  beforeAll(async () => {
    server = await startServer({ storage: memoryStorage(), auth: { secret: SECRET }, allowedOrigins: ['https://app.example'] })
  })
  afterEach(() => { for (const c of clients.splice(0)) c.destroy() })
  afterAll(async () => { await server.close() })

  const url = (doc: string, token?: string): string =>
    `${server.wsUrl}/${encodeURIComponent(doc)}${token !== undefined ? `?token=${encodeURIComponent(token)}` : ''}`

  it('answers 401/403 before the socket opens, and 101 for a matching token', async () => {
    const write = await hsToken({ docs: 'notes', access: 'write' })
    const cases: Array<[string, () => Promise<number>, number]> = [
      ['no token', async () => await upgradeStatus(url('notes')), 401],
      ['garbage token', async () => await upgradeStatus(url('notes', 'not-a-jwt')), 401],
      ['wrong secret', async () => await upgradeStatus(url('notes', await hsToken({ docs: 'notes', access: 'write' }, 3600, 'another-secret-that-is-long-enough-too!!'))), 401],
      ['expired', async () => await upgradeStatus(url('notes', await hsToken({ docs: 'notes', access: 'write' }, -10))), 401],
      ['no docs claim', async () => await upgradeStatus(url('notes', await hsToken({ access: 'write' }))), 401],
      ['bad access claim', async () => await upgradeStatus(url('notes', await hsToken({ docs: 'notes', access: 'admin' }))), 401],
      ['alg none', async () => await upgradeStatus(url('notes', unsigned({ docs: 'notes', access: 'write' }))), 401],
      ['other doc', async () => await upgradeStatus(url('other', write)), 403],
      ['right doc', async () => await upgradeStatus(url('notes', write)), 101],
      ['glob team-a/* on team-a/x', async () => await upgradeStatus(url('team-a/x', await hsToken({ docs: 'team-a/*', access: 'read' }))), 101],
      ['glob team-a/* on team-a/x/y', async () => await upgradeStatus(url('team-a/x/y', await hsToken({ docs: 'team-a/*', access: 'read' }))), 403],
      ['glob team-a/** on team-a/x/y', async () => await upgradeStatus(url('team-a/x/y', await hsToken({ docs: 'team-a/**', access: 'read' }))), 101],
      ['glob team-a/* on team-b/x', async () => await upgradeStatus(url('team-b/x', await hsToken({ docs: 'team-a/*', access: 'read' }))), 403],
      ['list, second entry', async () => await upgradeStatus(url('b', await hsToken({ docs: ['a', 'b'], access: 'read' }))), 101],
      ['list, no entry', async () => await upgradeStatus(url('c', await hsToken({ docs: ['a', 'b'], access: 'read' }))), 403],
      ['Authorization: Bearer', async () => await upgradeStatus(url('notes'), { authorization: `Bearer ${write}` }), 101],
      ['weft_token cookie', async () => await upgradeStatus(url('notes'), { cookie: `theme=dark; weft_token=${write}` }), 101],
      ['allowed origin', async () => await upgradeStatus(url('notes', write), { origin: 'https://app.example' }), 101],
      ['other origin, good token', async () => await upgradeStatus(url('notes', write), { origin: 'https://evil.example' }), 403],
      ['same-origin request', async () => await upgradeStatus(url('notes', write), { origin: server.url }), 101]
    ]
    const got: string[] = []
    for (const [what, run, expected] of cases) got.push(`${what}: ${await run()} (want ${expected})`)
    expect(got).toEqual(cases.map(([what, , expected]) => `${what}: ${expected} (want ${expected})`))
    expect(server.weft.context.metrics.get('ws_upgrades_refused_total{status="401"}')).toBeGreaterThanOrEqual(7)
  })

  it('takes the token from Sec-WebSocket-Protocol and echoes that entry back', async () => {
    const token = await hsToken({ docs: 'notes', access: 'write' })
    const ws = new WebSocket(url('notes'), ['y-protocol', token])
    await new Promise<void>((resolve, reject) => { ws.once('open', () => resolve()); ws.once('unexpected-response', (_q, res) => reject(new Error(`HTTP ${res.statusCode}`))) })
    expect(ws.protocol).toBe(token)
    ws.close()
  })

  it('gives the stock provider a session with ?token= via params', async () => {
    const token = await hsToken({ docs: 'params', access: 'write', sub: 'ada' })
    const a = stockClient(server.wsUrl, 'params', { params: { token } })
    const b = stockClient(server.wsUrl, 'params', { params: { token } })
    clients.push(a, b)
    await synced(a, b)
    a.text.insert(0, 'hi')
    await waitFor(() => b.text.toString() === 'hi', 'b to see the edit')
  })

  it('lets the stock provider pass the token as a subprotocol (protocols: [token]), as a browser would', async () => {
    const token = await hsToken({ docs: 'subproto', access: 'write' })
    const docA = new Y.Doc()
    const docB = new Y.Doc()
    const opts = { WebSocketPolyfill: WebSocket as unknown as typeof globalThis.WebSocket, disableBc: true, protocols: [token] }
    const a = new WebsocketProvider(server.wsUrl, 'subproto', docA, opts)
    const b = new WebsocketProvider(server.wsUrl, 'subproto', docB, opts)
    try {
      await waitFor(() => a.synced && b.synced, 'subprotocol providers to sync')
      docA.getText('text').insert(0, 'via subprotocol')
      await waitFor(() => docB.getText('text').toString() === 'via subprotocol', 'b to see the edit')
    } finally {
      a.destroy()
      b.destroy()
    }
  })

  it('closes with 4401 when the token expires mid-session', async () => {
    const token = await hsToken({ docs: 'expiring', access: 'write' }, 2)
    const peer = await rawPeer(url('expiring', token))
    const closed = await peer.closed
    expect(closed.code).toBe(CloseCode.unauthorized)
  })
})

describe('a read token over WebSocket', () => {
  it('syncs and sees awareness, but its edits are dropped, answered once, never stored or seen, not even after a restart', async () => {
    const dir = tempDir()
    // Read tokens' presence is off by default (readOnlyPresence); this test is about their edits.
    let server = await startServer({ storage: leveldbStorage(dir.path), auth: { secret: SECRET }, readOnlyPresence: true })
    const writeToken = await hsToken({ docs: 'ro', access: 'write' })
    const readToken = await hsToken({ docs: 'ro', access: 'read' })
    const writer = stockClient(server.wsUrl, 'ro', { params: { token: writeToken } })
    const reader = stockClient(server.wsUrl, 'ro', { params: { token: readToken } })
    try {
      await synced(writer, reader)
      writer.text.insert(0, 'base')
      await waitFor(() => reader.text.toString() === 'base', 'reader to receive the writer\'s edit')
      reader.provider.awareness.setLocalStateField('user', 'reader')
      await waitFor(() => writer.provider.awareness.getStates().get(reader.doc.clientID)?.user === 'reader', 'reader presence to reach the writer')

      // The stock provider edits locally and sends the update; the server must drop it.
      reader.text.insert(0, 'EVIL ')
      const raw = await rawPeer(`${server.wsUrl}/ro?token=${readToken}`)
      raw.send(encodeSyncUpdate(textUpdate('RAW ')))
      raw.send(encodeSyncUpdate(textUpdate('RAW2 ')))
      await waitFor(() => raw.messages.some(m => decodeMessage(m).type === 'auth-denied'), 'permission denied')
      await sleep(300)
      expect(raw.messages.filter(m => decodeMessage(m).type === 'auth-denied')).toHaveLength(1)
      expect(writer.text.toString()).toBe('base')
      expect(server.weft.context.registry.get('ro')!.ydoc.getText('text').toString()).toBe('base')
      raw.ws.close()
    } finally {
      writer.destroy()
      reader.destroy()
      await server.close()
    }
    server = await startServer({ storage: leveldbStorage(dir.path), auth: { secret: SECRET } })
    const again = stockClient(server.wsUrl, 'ro', { params: { token: readToken } })
    try {
      await synced(again)
      expect(again.text.toString()).toBe('base')
    } finally {
      again.destroy()
      await server.close()
      dir.remove()
    }
  })
})

describe('JWKS (RS256 / ES256) and embedder authenticate()', () => {
  let rs: KeyPairSigner
  let es: KeyPairSigner
  let server: TestServer
  const dir = tempDir()
  beforeAll(async () => {
    rs = await keySigner('RS256', 'rs-1')
    es = await keySigner('ES256', 'es-1')
    const file = join(dir.path, 'jwks.json')
    writeFileSync(file, JSON.stringify({ keys: [...rs.jwks.keys, ...es.jwks.keys] }))
    server = await startServer({ storage: memoryStorage(), auth: { jwks: file } })
  })
  afterAll(async () => { await server.close(); dir.remove() })

  it('accepts RS256 and ES256 tokens from the key set and refuses HS256 and foreign keys', async () => {
    const foreign = await keySigner('ES256', 'es-1')
    const at = (t: string): string => `${server.wsUrl}/k?token=${t}`
    expect(await upgradeStatus(at(await rs.sign({ docs: 'k', access: 'write' })))).toBe(101)
    expect(await upgradeStatus(at(await es.sign({ docs: 'k', access: 'read' })))).toBe(101)
    expect(await upgradeStatus(at(await es.sign({ docs: 'other', access: 'read' })))).toBe(403)
    expect(await upgradeStatus(at(await rs.sign({ docs: 'k', access: 'write' }, -5)))).toBe(401)
    expect(await upgradeStatus(at(await foreign.sign({ docs: 'k', access: 'write' })))).toBe(401)
    expect(await upgradeStatus(at(await hsToken({ docs: 'k', access: 'write' })))).toBe(401)
  })

  it('uses authenticate(req, doc) instead when given: null → 401, AuthError(403) → 403', async () => {
    const s = await startServer({
      storage: memoryStorage(),
      authenticate: (req, doc) => {
        const user = req.headers['x-user']
        if (user === undefined) return null
        if (doc !== 'mine') throw new AuthError(403, 'not yours')
        return { access: 'write', user: String(user) }
      }
    })
    try {
      expect(await upgradeStatus(`${s.wsUrl}/mine`)).toBe(401)
      expect(await upgradeStatus(`${s.wsUrl}/theirs`, { 'x-user': 'bo' })).toBe(403)
      expect(await upgradeStatus(`${s.wsUrl}/mine`, { 'x-user': 'bo' })).toBe(101)
    } finally {
      await s.close()
    }
  })

  it('refuses a bad configuration at start with a clear message', async () => {
    await expect(startServer({ auth: { secret: 'short' } })).rejects.toThrow(/at least 32/)
    await expect(startServer({ auth: { jwks: join(dir.path, 'missing.json') } })).rejects.toThrow(/cannot read a JWKS/)
    await expect(startServer({ auth: { secret: SECRET }, authenticate: () => ({ access: 'read' }) })).rejects.toThrow(/either/)
  })
})

/** An unsigned token (`alg: none`): must never be accepted. */
function unsigned (claims: object): string {
  const b64 = (o: object): string => Buffer.from(JSON.stringify(o)).toString('base64url')
  return `${b64({ alg: 'none', typ: 'JWT' })}.${b64({ ...claims, exp: Math.floor(Date.now() / 1000) + 3600 })}.`
}
