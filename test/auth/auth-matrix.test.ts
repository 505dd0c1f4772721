/**
 * The access matrix over every transport: WebSocket, SSE, snapshot, POST, long poll and the
 * viewer page, each with no token, an expired one, one for another doc, a glob that matches,
 * one that does not, a read token and a write token. Then: a read token's edit is never
 * visible, an expiring token ends streams and held polls, and `allowedOrigins` covers HTTP.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import * as Y from 'yjs'
import { startServer, type TestServer } from '../helpers/server.js'
import { upgradeStatus } from '../helpers/raw-ws.js'
import { accessMatrix, hsToken, SECRET } from '../helpers/tokens.js'
import { waitFor } from '../helpers/wait.js'
import { memoryStorage } from '../../server/storage/memory.js'
import type { Storage } from '../../server/storage/types.js'

const update = (text: string): Uint8Array => {
  const d = new Y.Doc()
  d.getText('text').insert(0, text)
  return Y.encodeStateAsUpdate(d)
}

/** The status of a GET; for a stream, as soon as the headers arrive (then it is cut). */
async function getStatus (url: string, headers: Record<string, string> = {}): Promise<number> {
  const ac = new AbortController()
  const res = await fetch(url, { headers, signal: ac.signal })
  ac.abort()
  return res.status
}

async function postStatus (url: string, body: Uint8Array, headers: Record<string, string> = {}): Promise<number> {
  const res = await fetch(url, { method: 'POST', body: Buffer.from(body), headers: { 'content-type': 'application/octet-stream', ...headers } })
  await res.arrayBuffer()
  return res.status
}

describe('auth matrix over every transport', () => {
  let server: TestServer
  let storage: Storage
  beforeAll(async () => {
    storage = memoryStorage()
    server = await startServer({ storage, auth: { secret: SECRET }, allowedOrigins: ['https://app.example'] })
  })
  afterAll(async () => { await server.close() })

  it('answers each token kind on each transport exactly as documented', async () => {
    const tokens: Record<string, string | null> = {
      none: null,
      expired: await hsToken({ docs: 'team-a/x', access: 'write' }, -30),
      'other doc': await hsToken({ docs: 'team-b/y', access: 'write' }),
      'glob match (write)': await hsToken({ docs: 'team-a/*', access: 'write' }),
      'glob miss': await hsToken({ docs: 'team-a/*/z', access: 'write' }),
      read: await hsToken({ docs: 'team-a/x', access: 'read' }),
      write: await hsToken({ docs: ['other', 'team-a/x'], access: 'write' })
    }
    const doc = 'team-a/x'
    const seg = encodeURIComponent(doc)
    const q = (t: string | null): string => t == null ? '' : `?token=${t}`
    const qa = (t: string | null): string => t == null ? '?' : `?token=${t}&`
    const transports: Record<string, (t: string | null) => Promise<number>> = {
      websocket: async t => await upgradeStatus(`${server.wsUrl}/${seg}${q(t)}`),
      sse: async t => await getStatus(`${server.url}/docs/${seg}/events${q(t)}`),
      snapshot: async t => await getStatus(`${server.url}/docs/${seg}${q(t)}`),
      post: async t => await postStatus(`${server.url}/docs/${seg}/updates${q(t)}`, update('x')),
      poll: async t => await getStatus(`${server.url}/docs/${seg}/poll${qa(t)}timeout=0`),
      viewer: async t => await getStatus(`${server.url}/view/${seg}${q(t)}`)
    }
    const ok: Record<string, number> = { websocket: 101, sse: 200, snapshot: 200, post: 204, poll: 200, viewer: 200 }
    const expected = (transport: string, kind: string): number => {
      if (kind === 'none' || kind === 'expired') return 401
      if (kind === 'other doc' || kind === 'glob miss') return 403
      if (kind === 'read' && transport === 'post') return 403
      return ok[transport]!
    }
    const { got, want } = await accessMatrix(transports, tokens, expected)
    expect(got).toEqual(want)
    // eslint-disable-next-line no-console
    console.log(`auth matrix: ${got.length} cases (${Object.keys(transports).length} transports × ${Object.keys(tokens).length} token kinds)`)
  })

  it('never stores or shows a read token\'s POST, and 204s a write token\'s only once stored', async () => {
    const doc = 'ro-post'
    const read = await hsToken({ docs: doc, access: 'read' })
    const write = await hsToken({ docs: doc, access: 'write' })
    expect(await postStatus(`${server.url}/docs/${doc}/updates?token=${write}`, update('kept'))).toBe(204)
    expect((await storage.load(doc)).length).toBe(1)
    expect(await postStatus(`${server.url}/docs/${doc}/updates?token=${read}`, update('EVIL'))).toBe(403)
    expect(await postStatus(`${server.url}/docs/${doc}/updates`, update('EVIL'), { authorization: `Bearer ${read}` })).toBe(403)
    const snap = await (await fetch(`${server.url}/docs/${doc}?token=${read}`)).json() as { content: Record<string, unknown> }
    expect(JSON.stringify(snap.content)).not.toContain('EVIL')
    expect((await storage.load(doc)).length).toBe(1)
  })

  it('checks Origin on SSE and POST as on upgrades', async () => {
    const write = await hsToken({ docs: 'o', access: 'write' })
    const evil = { origin: 'https://evil.example' }
    const good = { origin: 'https://app.example' }
    expect(await getStatus(`${server.url}/docs/o/events?token=${write}`, evil)).toBe(403)
    expect(await getStatus(`${server.url}/docs/o/events?token=${write}`, good)).toBe(200)
    expect(await postStatus(`${server.url}/docs/o/updates?token=${write}`, update('o'), evil)).toBe(403)
    expect(await postStatus(`${server.url}/docs/o/updates?token=${write}`, update('o'), good)).toBe(204)
    expect(await upgradeStatus(`${server.wsUrl}/o?token=${write}`, evil)).toBe(403)
  })

  it('ends an SSE stream and answers a held poll when the token expires', async () => {
    const token = await hsToken({ docs: 'exp', access: 'read' }, 3)
    const started = Date.now()
    const sse = await fetch(`${server.url}/docs/exp/events?token=${token}`)
    expect(sse.status).toBe(200)
    const first = await (await fetch(`${server.url}/docs/exp/poll?token=${token}&timeout=0`)).json() as { cursor: string }
    // Nothing changes on the doc: only the token's expiry can end this 50 s poll early.
    const poll = fetch(`${server.url}/docs/exp/poll?token=${token}&timeout=50&cursor=${encodeURIComponent(first.cursor)}`)
    // The stream ends (the body completes) at expiry, not after the 15 s keepalive or ever.
    await sse.text()
    const held = await poll
    expect(held.status).toBe(204)
    expect(Date.now() - started).toBeLessThan(20_000)
    // The client's next attempt is refused.
    await waitFor(async () => await getStatus(`${server.url}/docs/exp/events?token=${token}`) === 401, 'expired token to get 401')
  })
})
