/**
 * A `weft_token` cookie is an ambient credential: the browser attaches it to requests another
 * site's page makes. So a cookie token is accepted only from the server's own origin (or one in
 * `allowedOrigins`) — on the upgrade (HTTP 403 before the socket opens) and on every HTTP
 * route, writes and streams alike — while tokens a page must put in the request itself
 * (`?token=`, `Authorization`, `Sec-WebSocket-Protocol`) stay usable from any origin.
 * Requests without `Origin` (non-browser clients, which cannot be made to send a victim's
 * cookie) are accepted.
 */
import { afterEach, describe, expect, it } from 'vitest'
import * as Y from 'yjs'
import { startServer, tempDir, type TestServer } from '../helpers/server.js'
import { upgradeStatus } from '../helpers/raw-ws.js'
import { hsToken, SECRET } from '../helpers/tokens.js'
import { leveldbStorage } from '../../server/storage/leveldb.js'
import type { WeftOptions } from '../../server/options.js'

const EVIL = 'https://evil.example'

function update (text: string): Uint8Array {
  const d = new Y.Doc()
  d.getText('text').insert(0, text)
  return Y.encodeStateAsUpdate(d)
}

async function status (url: string, init: RequestInit = {}): Promise<number> {
  const ac = new AbortController()
  const res = await fetch(url, { ...init, signal: ac.signal })
  ac.abort() // a stream never ends by itself: its status is all we want
  return res.status
}

describe('cookie tokens and Origin', () => {
  let server: TestServer
  let dir: { path: string, remove: () => void }
  afterEach(async () => { await server.close(); dir.remove() })
  const start = async (options: WeftOptions = {}): Promise<void> => {
    dir = tempDir()
    server = await startServer({ storage: leveldbStorage(dir.path), auth: { secret: SECRET }, ...options })
  }
  const stored = async (doc: string): Promise<number> => server.weft.context.registry.get(doc)?.ydoc.getText('text').length ?? 0

  it('refuses an upgrade with a cookie token from another origin (403 before the socket opens)', async () => {
    await start()
    const token = await hsToken({ docs: '*', access: 'write' })
    const cookie = { cookie: `theme=dark; weft_token=${token}` }
    const url = `${server.wsUrl}/victim`
    const cases: Array<[string, Record<string, string>, string[] | undefined, number]> = [
      ['cookie, foreign origin', { ...cookie, origin: EVIL }, undefined, 403],
      ['cookie, origin "null" (sandboxed page)', { ...cookie, origin: 'null' }, undefined, 403],
      ['cookie, same origin', { ...cookie, origin: server.url }, undefined, 101],
      ['cookie, no Origin (not a browser)', cookie, undefined, 101],
      // Not ambient: the foreign page had to hold the token itself.
      ['?token=, foreign origin', { origin: EVIL }, undefined, -1],
      ['Authorization, foreign origin', { authorization: `Bearer ${token}`, origin: EVIL }, undefined, 101],
      ['subprotocol, foreign origin', { origin: EVIL }, [token], 101],
      // A page that sends its own token is judged by that token, not by a cookie it cannot drop.
      ['subprotocol and cookie, foreign origin', { ...cookie, origin: EVIL }, [token], 101]
    ]
    const got: string[] = []
    for (const [what, headers, protocols, want] of cases) {
      const target = want === -1 ? `${url}?token=${token}` : url
      got.push(`${what}: ${await upgradeStatus(target, headers, protocols)}`)
    }
    expect(got).toEqual(cases.map(([what, , , want]) => `${what}: ${want === -1 ? 101 : want}`))
    expect(server.weft.context.metrics.get('ws_upgrades_refused_total{status="403"}')).toBe(2)
  })

  it('refuses cookie-authenticated writes and streams from another origin over HTTP; same origin works', async () => {
    await start()
    const token = await hsToken({ docs: '*', access: 'write' })
    const base = `${server.url}/docs/victim`
    const cookie = `weft_token=${token}`
    const post = (path: string, origin?: string): RequestInit => ({
      method: 'POST',
      body: Buffer.from(update('EVIL')),
      headers: { cookie, 'content-type': 'application/octet-stream', 'x-weft-session': 'session-0001', ...(origin != null ? { origin } : {}) }
    })
    expect(await status(`${base}/updates`, post('updates', EVIL))).toBe(403)
    expect(await status(`${base}/awareness`, post('awareness', EVIL))).toBe(403)
    expect(await status(`${base}/session?session=session-0001`, { method: 'DELETE', headers: { cookie, origin: EVIL } })).toBe(403)
    expect(await status(`${base}/events`, { headers: { cookie, origin: EVIL } })).toBe(403)
    expect(await status(`${base}/poll?timeout=0`, { headers: { cookie, origin: EVIL } })).toBe(403)
    expect(await stored('victim')).toBe(0)
    // The same requests from the server's own pages, and from a non-browser client, go through.
    expect(await status(`${base}/events`, { headers: { cookie, origin: server.url } })).toBe(200)
    expect(await status(`${base}/updates`, post('updates', server.url))).toBe(204)
    expect(await stored('victim')).toBe(4)
    expect(await status(`${base}/updates`, { ...post('updates'), body: Buffer.from(update('ok')) })).toBe(204)
    // A foreign page with its own token may write (CORS decides whether it can read answers).
    expect(await status(`${base}/updates?token=${token}`, { ...post('updates', EVIL), headers: { 'content-type': 'application/octet-stream', origin: EVIL } })).toBe(204)
  })

  it('allowedOrigins admits listed pages with a cookie; "*" never admits a cookie', async () => {
    await start({ allowedOrigins: ['https://app.example'] })
    const token = await hsToken({ docs: '*', access: 'write' })
    expect(await upgradeStatus(`${server.wsUrl}/d`, { cookie: `weft_token=${token}`, origin: 'https://app.example' })).toBe(101)
    expect(await upgradeStatus(`${server.wsUrl}/d`, { cookie: `weft_token=${token}`, origin: EVIL })).toBe(403)
    await server.close(); dir.remove()

    await start({ allowedOrigins: ['*'] })
    expect(await upgradeStatus(`${server.wsUrl}/d`, { cookie: `weft_token=${token}`, origin: EVIL })).toBe(403)
    expect(await upgradeStatus(`${server.wsUrl}/d?token=${token}`, { origin: EVIL })).toBe(101)
  })

  it('without access control a cookie means nothing and is not checked', async () => {
    dir = tempDir()
    server = await startServer({ storage: leveldbStorage(dir.path) })
    expect(await upgradeStatus(`${server.wsUrl}/d`, { cookie: 'weft_token=anything', origin: EVIL })).toBe(101)
  })
})
