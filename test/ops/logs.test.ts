/**
 * Log lines an operator can act on: every refusal (upgrade, HTTP route) and every close with one
 * of Weft's codes is exactly one line carrying the doc, transport, remote address, user (`sub`)
 * and status or code. And the library prints nothing of its own when embedded.
 */
import { describe, expect, it } from 'vitest'
import WebSocket from 'ws'
import { CloseCode } from '../../shared/close-codes.js'
import { memoryStorage } from '../../server/storage/memory.js'
import type { Logger } from '../../server/logger.js'
import { cleanupAfterEach, startServer } from '../helpers/server.js'
import { stockClient, synced } from '../helpers/providers.js'
import { hsToken, SECRET } from '../helpers/tokens.js'
import { waitFor } from '../helpers/wait.js'

interface Line { level: string, msg: string, fields: Record<string, unknown> }

function capture (): { logger: Logger, lines: Line[] } {
  const lines: Line[] = []
  const at = (level: string) => (a: object | string, msg?: string): void => {
    lines.push(typeof a === 'string' ? { level, msg: a, fields: {} } : { level, msg: msg ?? '', fields: a as Record<string, unknown> })
  }
  return { logger: { debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') }, lines }
}

/** Opens a raw WebSocket; resolves with the upgrade's HTTP status (101 when it opened) and the socket. */
function upgrade (url: string): Promise<{ status: number, ws: WebSocket }> {
  return new Promise(resolve => {
    const ws = new WebSocket(url)
    ws.once('open', () => resolve({ status: 101, ws }))
    ws.once('unexpected-response', (_req, res) => { resolve({ status: res.statusCode ?? 0, ws }); res.resume() })
    ws.once('error', () => {})
  })
}

describe('log lines', () => {
  const cleanups = cleanupAfterEach()

  it('each refusal and each close with a Weft code is one line with doc, transport, address, user and code', async () => {
    const { logger, lines } = capture()
    const s = await startServer({ storage: memoryStorage(), logger, auth: { secret: SECRET }, maxConnectionsPerDoc: 1 })
    cleanups.push(() => s.close())
    const refusals = (): Line[] => lines.filter(l => l.msg === 'upgrade refused' || l.msg === 'request refused' || l.msg === 'closing connection')
    const writer = await hsToken({ docs: 'logged/*', access: 'write', sub: 'ada' })
    const reader = await hsToken({ docs: 'logged/*', access: 'read', sub: 'bob' })

    // 1. An upgrade without a token: 401 before the socket opens.
    expect((await upgrade(`${s.wsUrl}/logged%2Fa`)).status).toBe(401)
    // 2. One connection too many on a doc: 429.
    const first = await upgrade(`${s.wsUrl}/logged%2Fa?token=${writer}`)
    cleanups.push(() => first.ws.terminate())
    expect((await upgrade(`${s.wsUrl}/logged%2Fa?token=${writer}`)).status).toBe(429)
    // 3. A malformed message: closed 4400.
    first.ws.send(Buffer.from([0xff, 0xff, 0xff]))
    await new Promise(resolve => first.ws.once('close', resolve))
    // 4. A read token POSTing an update: 403.
    const post = await fetch(`${s.url}/docs/logged%2Fb/updates?token=${reader}`, { method: 'POST', headers: { 'content-type': 'application/octet-stream' }, body: new Uint8Array([0, 0]) })
    expect(post.status).toBe(403)
    // 5. An event stream for another doc's token: 403.
    const sse = await fetch(`${s.url}/docs/other/events?token=${reader}`)
    expect(sse.status).toBe(403)
    await sse.body?.cancel()

    await waitFor(() => refusals().length >= 5, 'five refusal lines')
    const got = refusals().map(l => l.fields)
    expect(got).toHaveLength(5)
    expect(got[0]).toMatchObject({ doc: 'logged/a', transport: 'websocket', ip: '127.0.0.1', status: 401 })
    expect(got[1]).toMatchObject({ doc: 'logged/a', transport: 'websocket', ip: '127.0.0.1', status: 429 })
    expect(got[2]).toMatchObject({ doc: 'logged/a', transport: 'websocket', ip: '127.0.0.1', user: 'ada', code: CloseCode.malformed })
    expect(got[3]).toMatchObject({ doc: 'logged/b', transport: 'http', ip: '127.0.0.1', user: 'bob', status: 403 })
    expect(got[4]).toMatchObject({ doc: 'other', transport: 'sse', ip: '127.0.0.1', status: 403 })
    for (const f of got) expect(typeof f.err).toBe('string')
    // …and counted by reason (the POST's 403 is a read-only grant, not an auth failure).
    const { metrics } = s.weft.context
    expect(metrics.get('auth_failures_total{reason="missing"}')).toBe(1)
    expect(metrics.get('auth_failures_total{reason="forbidden"}')).toBe(1)
  })

  it('the library prints nothing when embedded (no logger given)', async () => {
    const written: string[] = []
    const out = process.stdout.write.bind(process.stdout)
    const err = process.stderr.write.bind(process.stderr)
    process.stdout.write = ((chunk: string) => { written.push(String(chunk)); return true }) as typeof process.stdout.write
    process.stderr.write = ((chunk: string) => { written.push(String(chunk)); return true }) as typeof process.stderr.write
    try {
      const s = await startServer({ storage: memoryStorage() })
      const a = stockClient(s.wsUrl, 'quiet')
      await synced(a)
      a.text.insert(0, 'shh')
      const bad = await upgrade(`${s.wsUrl}/${'x'.repeat(600)}`) // refused: name too long
      expect(bad.status).toBe(400)
      a.destroy()
      await s.close()
    } finally {
      process.stdout.write = out
      process.stderr.write = err
    }
    expect(written.join('')).toBe('')
  })
})
