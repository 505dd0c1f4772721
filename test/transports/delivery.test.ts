/**
 * The shared delivery suite (test/helpers/delivery-suite.ts) over the three pipes a doc reaches
 * its editors by: WebSocket, SSE + POST, long poll. Each pipe below says how to talk to the
 * server on it without any client library (so the cases see what the wire carries: an echo
 * would be visible here, where a Y.Doc would swallow it) and which server counters are its own.
 */
import { expect } from 'vitest'
import * as Y from 'yjs'
import WebSocket from 'ws'
import { deliverySuite, absorb, mirrorOf, type DeliveryPipe, type RawSession } from '../helpers/delivery-suite.js'
import { openSse } from '../helpers/sse.js'
import { upgradeStatus } from '../helpers/raw-ws.js'
import type { TestServer } from '../helpers/server.js'
import { base64ToBytes } from '../../shared/base64.js'
import { CloseCode } from '../../shared/close-codes.js'
import type { PollBody } from '../../shared/poll.js'
import { decodeMessage, encodeAwarenessMessage, encodeSyncStep1, encodeSyncUpdate } from '../../shared/protocol.js'

type Raw = RawSession & { sessionId?: string }

const sessionId = (): string => `raw-${Buffer.from(crypto.getRandomValues(new Uint8Array(12))).toString('base64url')}`

function blank (mirror: Y.Doc, sid?: string): Raw {
  return {
    mirror, sessionId: sid, updates: [], fullStates: 0, duplicates: 0, ids: [], end: { ended: false },
    position: () => '', joined: Promise.resolve(), send: async () => {}, sendAwareness: async () => 0, close () {}
  }
}

/** POSTs as an HTTP session (`X-Weft-Session`): the up direction of both HTTP pipes. */
async function post (s: TestServer, doc: string, route: 'updates' | 'awareness', body: Uint8Array, sid?: string, token?: string): Promise<number> {
  const headers: Record<string, string> = { 'content-type': 'application/octet-stream' }
  if (sid !== undefined) headers['x-weft-session'] = sid
  const res = await fetch(`${s.url}/docs/${doc}/${route}${token === undefined ? '' : `?token=${token}`}`, { method: 'POST', headers, body: body as Uint8Array<ArrayBuffer> })
  await res.arrayBuffer()
  return res.status
}

/** Both HTTP pipes send up the same way. */
function httpUp (r: Raw, s: TestServer, doc: string, token?: string): void {
  r.send = async update => {
    const status = await post(s, doc, 'updates', update, r.sessionId, token)
    if (status !== 204) throw new Error(`POST /updates answered ${status}`)
    Y.applyUpdate(r.mirror, update, 'local')
  }
  r.sendAwareness = async update => await post(s, doc, 'awareness', update, r.sessionId, token)
}

/** Gauges from GET /metrics, as a scraper reads them. */
async function gauges (s: TestServer, names: Record<string, string>): Promise<Record<string, number>> {
  const text = await (await fetch(`${s.url}/metrics`)).text()
  const out: Record<string, number> = {}
  for (const [key, metric] of Object.entries(names)) {
    const m = new RegExp(`^weft_${metric} (\\d+)$`, 'm').exec(text)
    if (m === null) throw new Error(`weft_${metric} is not in /metrics`)
    out[key] = Number(m[1])
  }
  return out
}

const websocket: DeliveryPipe = {
  name: 'websocket',
  async raw (s, doc, opts = {}) {
    const r = blank(mirrorOf(opts.resume))
    const fresh = opts.resume === undefined
    const ws = new WebSocket(`${s.wsUrl}/${doc}${opts.token === undefined ? '' : `?token=${opts.token}`}`)
    ws.on('close', code => { r.end.ended = true; r.end.closeCode = code })
    r.joined = new Promise((resolve, reject) => {
      ws.once('error', reject)
      ws.once('unexpected-response', (_q, res) => reject(new Error(`HTTP ${res.statusCode}`)))
      // Resuming is by state vector: the mirror's (empty for a fresh session).
      ws.once('open', () => ws.send(encodeSyncStep1(Y.encodeStateVector(r.mirror))))
      let answered = false
      ws.on('message', data => {
        const m = decodeMessage(new Uint8Array(data as Buffer))
        if (m.type === 'sync-step2') {
          absorb(r, m.update, fresh && !answered ? 'full' : 'update')
          answered = true
          resolve()
        } else if (m.type === 'sync-update') {
          absorb(r, m.update, 'update')
        }
      })
    })
    r.send = async update => { ws.send(encodeSyncUpdate(update)); Y.applyUpdate(r.mirror, update, 'local') }
    r.sendAwareness = async update => { ws.send(encodeAwarenessMessage(update)); return 0 }
    r.close = () => { if (ws.readyState <= WebSocket.OPEN) ws.close() }
    return r
  },
  tryOpen: async (s, doc) => await upgradeStatus(`${s.wsUrl}/${doc}`),
  onePerIp: { maxConnectionsPerIp: 1 },
  inUse: async s => ({ connections: s.weft.stats().connections }),
  expectShutdownAnswer: end => { expect(end.closeCode).toBe(CloseCode.serviceRestart) },
  shutdownCloseCode: CloseCode.serviceRestart,
  perRecord: false,
  notApplicable: {
    'no-echo-on-rejoin': 'a WebSocket has no cursor to rejoin from: a reconnect is a new session whose step2 is the diff against ' +
      'the state vector it sends, which already holds its own edits (no duplicates: the resume case)',
    'slot-late-goodbye': 'a WebSocket\'s goodbye and its close travel in order on one connection, and nothing re-creates a closed connection'
  }
}

const sse: DeliveryPipe = {
  name: 'sse',
  async raw (s, doc, opts = {}) {
    const r = blank(mirrorOf(opts.resume), opts.resume?.sessionId ?? (opts.editor === true ? sessionId() : undefined))
    const q = new URLSearchParams({ awareness: '0' })
    if (r.sessionId !== undefined) q.set('session', r.sessionId)
    if (opts.token !== undefined) q.set('token', opts.token)
    const client = await openSse(`${s.url}/docs/${doc}/events?${q}`, opts.resume === undefined ? {} : { lastEventId: opts.resume.position() })
    if (client.status !== 200) throw new Error(`SSE answered ${client.status}: ${client.body}`)
    r.end.status = client.status
    client.res.on('end', () => { r.end.clean = true })
    client.res.on('close', () => { r.end.ended = true })
    const on = (e: { event: string, data: string, id: string }): void => {
      if (e.event !== 'snapshot' && e.event !== 'reset' && e.event !== 'update') return
      absorb(r, base64ToBytes((JSON.parse(e.data) as { update: string }).update), e.event === 'update' ? 'update' : 'full', e.id)
    }
    for (const e of client.events) on(e)
    client.onEvent(on)
    // A fresh stream starts with a snapshot; a resumed one with the missed records (maybe none).
    r.joined = opts.resume === undefined ? client.next(e => e.event === 'snapshot', 'the snapshot', 3000).then(() => {}) : Promise.resolve()
    r.position = () => client.lastEventId
    httpUp(r, s, doc, opts.token)
    r.close = () => client.close()
    return r
  },
  async tryOpen (s, doc) {
    const c = await openSse(`${s.url}/docs/${doc}/events?awareness=0`)
    c.close()
    return c.status
  },
  onePerIp: { maxObserversPerIp: 1, maxHttpSessionsPerIp: 1 },
  inUse: async s => await gauges(s, { streams: 'sse_observers', sessions: 'http_sessions' }),
  expectShutdownAnswer: end => { expect(end).toMatchObject({ status: 200, ended: true, clean: true }) },
  // The stream ended by the server: the client reports 1001 and reconnects (sse-post.ts).
  shutdownCloseCode: CloseCode.goingAway,
  perRecord: true,
}

const poll: DeliveryPipe = {
  name: 'poll',
  async raw (s, doc, opts = {}) {
    const r = blank(mirrorOf(opts.resume), opts.resume?.sessionId ?? (opts.editor === true ? sessionId() : undefined))
    let cursor = opts.resume?.position() ?? ''
    const abort = new AbortController()
    /** One poll; false when the pipe ended (a status other than 200/204, or aborted). */
    const once = async (timeoutS: number): Promise<boolean> => {
      const q = new URLSearchParams({ timeout: String(timeoutS) })
      if (cursor !== '') q.set('cursor', cursor)
      if (r.sessionId !== undefined) q.set('session', r.sessionId)
      if (opts.token !== undefined) q.set('token', opts.token)
      const res = await fetch(`${s.url}/docs/${doc}/poll?${q}`, { signal: abort.signal })
      r.end.status = res.status
      if (res.status === 204) { await res.arrayBuffer(); return true }
      if (res.status !== 200) { await res.arrayBuffer(); r.end.ended = true; return false }
      const body = await res.json() as PollBody
      if (body.update !== undefined) absorb(r, base64ToBytes(body.update), body.reset === true ? 'full' : 'update', body.cursor)
      cursor = body.cursor
      return true
    }
    // The first poll answers at once (a reset for a fresh session, the missed records for a
    // resumed one); then one poll held at a time, as the client's long-poll tier does.
    r.joined = once(0).then(ok => {
      if (!ok) throw new Error(`the first poll answered ${r.end.status}`)
      void (async () => { while (await once(10).catch(() => false)); })()
    })
    r.position = () => cursor
    httpUp(r, s, doc, opts.token)
    r.close = () => abort.abort()
    return r
  },
  async tryOpen (s, doc) {
    const res = await fetch(`${s.url}/docs/${doc}/poll?timeout=0`)
    await res.arrayBuffer()
    return res.status
  },
  onePerIp: { maxObserversPerIp: 1, maxHttpSessionsPerIp: 1 },
  inUse: async s => await gauges(s, { polls: 'polls_pending', sessions: 'http_sessions' }),
  expectShutdownAnswer: end => { expect(end).toMatchObject({ status: 503, ended: true }) },
  shutdownCloseCode: CloseCode.serviceRestart,
  perRecord: false,
}

for (const pipe of [websocket, sse, poll]) deliverySuite(pipe)
