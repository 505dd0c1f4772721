/**
 * Hostile bytes over many WebSocket connections while well-behaved editors keep working.
 * A seeded generator (SEED=… to replay; the seed is in every failure message) sends random
 * frames, valid frames with flipped bytes, truncated varints and huge declared lengths.
 * The server must stay up with bounded heap, the editors must keep converging, and the doc's
 * text must be exactly what the editors wrote.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import WebSocket from 'ws'
import * as Y from 'yjs'
import * as encoding from 'lib0/encoding'
import * as awarenessProtocol from 'y-protocols/awareness'
import { startServer, type TestServer } from '../helpers/server.js'
import { stockClient, synced, type StockClient } from '../helpers/providers.js'
import { rawPeer } from '../helpers/raw-ws.js'
import { rng } from '../helpers/random.js'
import { waitFor, sleep } from '../helpers/wait.js'
import { memoryStorage } from '../../server/storage/memory.js'
import { Session } from '../../server/session.js'
import { silentLogger } from '../../server/logger.js'
import { ProtocolError } from '../../shared/protocol.js'
import { encodeAwarenessMessage, encodeQueryAwareness, encodeSyncStep1, encodeSyncUpdate, decodeMessage } from '../../shared/protocol.js'
import { encodeAwarenessEntries } from '../../shared/awareness.js'

const FRAMES = Number(process.env.FUZZ_FRAMES ?? 100_000)
/** Sockets are slow to open on a loaded 2-core box; after this, the session layer takes over. */
const SOCKET_PHASE_MS = Number(process.env.FUZZ_SOCKET_MS ?? 35_000)
const TIME_BUDGET_MS = 90_000
const PARALLEL = 12
const BURST = 48

type R = ReturnType<typeof rng>

/** Valid frames to send and to mutate, made once up front (generation must not be the bottleneck). */
class FramePool {
  readonly frames: Uint8Array[] = []
  constructor (r: R, size: number) {
    for (let i = 0; i < size; i++) {
      const maker = new FrameMaker(r)
      for (let j = 0; j < 4; j++) this.frames.push(maker.validFrame())
      maker.doc.destroy()
    }
  }

  validFrame (r: R): Uint8Array { return this.frames[r.int(this.frames.length)]! }
}

class FrameMaker {
  readonly doc = new Y.Doc()
  private sv = Y.encodeStateVector(this.doc)
  constructor (private readonly r: R) {}

  validFrame (): Uint8Array {
    switch (this.r.int(4)) {
      case 0: return encodeSyncStep1(Y.encodeStateVector(this.doc))
      case 1: {
        // Edits go to a root of their own ("fuzz"), never the editors' text.
        const m = this.doc.getMap('fuzz')
        if (this.r.int(3) === 0) this.doc.getText('fuzztext').insert(0, 'abc'.slice(this.r.int(3)))
        else m.set(`k${this.r.int(20)}`, this.r.int(2) === 0 ? this.r.next() : { a: [1, 'x'] })
        const u = Y.encodeStateAsUpdate(this.doc, this.sv)
        this.sv = Y.encodeStateVector(this.doc)
        return encodeSyncUpdate(u)
      }
      case 2: return encodeAwarenessMessage(encodeAwarenessEntries([{ clientID: this.doc.clientID, clock: this.r.int(1000), json: JSON.stringify({ n: this.r.int(9) }) }]))
      default: return encodeQueryAwareness()
    }
  }
}

function randomBytes (r: R, n: number): Uint8Array {
  const b = new Uint8Array(n)
  for (let i = 0; i < n; i++) b[i] = r.int(256)
  return b
}

/**
 * Structure-aware random frames: well-formed at the protocol level, random inside: state
 * vectors with random clients and clocks, awareness for random (and other peers') client ids
 * with random JSON, updates with random client ids, clocks, keys and content (most of them
 * pending: they depend on structs that never arrive). These reach deep into the server without
 * ending the connection, so each connection carries many frames.
 */
function grammarFrame (r: R): { bytes: Uint8Array, kind: string } {
  const e = encoding.createEncoder()
  // Awareness is rarer: every awareness frame is broadcast to the editors, and the stock
  // provider echoes every awareness change it hears back to the server (5× the work).
  const k = r.int(10)
  if (k < 1) {
    const n = r.int(5)
    const sv = encoding.createEncoder()
    encoding.writeVarUint(sv, n)
    for (let i = 0; i < n; i++) { encoding.writeVarUint(sv, r.int(2 ** 32)); encoding.writeVarUint(sv, r.int(2 ** 20)) }
    return { kind: 'random-step1', bytes: encodeSyncStep1(encoding.toUint8Array(sv)) }
  }
  if (k === 1) {
    const n = 1 + r.int(3)
    const entries = Array.from({ length: n }, () => ({ clientID: r.int(2 ** 32), clock: r.int(2 ** 20), json: r.int(5) === 0 ? 'null' : JSON.stringify({ x: r.next(), s: 'é'.repeat(r.int(8)) }) }))
    return { kind: 'random-awareness', bytes: encodeAwarenessMessage(encodeAwarenessEntries(entries)) }
  }
  if (k < 5) return { kind: 'query-awareness', bytes: encodeQueryAwareness() }
  // An update: one client, a few items in root map "fuzz" (random key), random clocks.
  const u = encoding.createEncoder()
  encoding.writeVarUint(u, 1)
  const structs = 1 + r.int(4)
  encoding.writeVarUint(u, structs)
  // Most start at clock 0 and integrate at once; some have gaps or unknown origins (pending).
  const dependent = r.int(8) === 0
  // A small set of client ids: a doc with ever more clients makes every step1 answer bigger,
  // which is legitimate work (and rate-limited in production), not what this test is about.
  encoding.writeVarUint(u, 1_000_000 + r.int(64))
  encoding.writeVarUint(u, dependent && r.int(2) === 0 ? r.int(2 ** 20) : 0)
  for (let i = 0; i < structs; i++) {
    const withOrigin = dependent && r.int(2) === 0
    if (withOrigin) {
      encoding.writeUint8(u, 0x80 | 4) // origin + ContentString
      encoding.writeVarUint(u, r.int(2 ** 32))
      encoding.writeVarUint(u, r.int(1000))
    } else {
      encoding.writeUint8(u, 0x20 | 8) // parentSub + ContentAny
      encoding.writeVarUint(u, 1)
      encoding.writeVarString(u, 'fuzz')
      encoding.writeVarString(u, `k${r.int(50)}`)
    }
    if (withOrigin) encoding.writeVarString(u, 'abcdef'.slice(r.int(5)))
    else { encoding.writeVarUint(u, 1); encoding.writeUint8(u, 125); encoding.writeVarInt(u, r.int(1000) - 500) }
  }
  encoding.writeVarUint(u, 0) // empty delete set
  encoding.writeVarUint(e, 0)
  encoding.writeVarUint(e, 2)
  encoding.writeVarUint8Array(e, encoding.toUint8Array(u))
  return { kind: 'random-update', bytes: encoding.toUint8Array(e) }
}

/** A frame the server must accept: structure-aware random (3/4) or valid (1/4). */
function goodFrame (r: R, peer: { validFrame: (r: R) => Uint8Array }): { bytes: Uint8Array, kind: string } {
  return r.int(4) === 0 ? { kind: 'valid', bytes: peer.validFrame(r) } : grammarFrame(r)
}

/** A hostile frame: random bytes, flipped bits, truncations, endless varints, huge lengths. */
function frame (r: R, peer: { validFrame: (r: R) => Uint8Array }): { bytes: Uint8Array, kind: string } {
  const k = r.int(7)
  switch (k) {
    case 0: return { kind: 'random', bytes: randomBytes(r, r.int(4) === 0 ? r.int(2048) : r.int(48)) }
    case 1: return { kind: 'random-after-header', bytes: new Uint8Array([r.int(4), r.int(3), ...randomBytes(r, r.int(64))]) }
    case 2: case 3: {
      const b = peer.validFrame(r).slice()
      for (let f = 1 + r.int(3); f > 0; f--) b[r.int(b.length)] ^= 1 << r.int(8)
      return { kind: 'flipped', bytes: b }
    }
    case 4: {
      const b = peer.validFrame(r)
      return { kind: 'truncated', bytes: b.slice(0, r.int(b.length)) }
    }
    case 5: {
      // A varint that never ends: continuation bits to the end of the frame.
      const b = new Uint8Array(2 + r.int(12)).fill(0x80 | r.int(128))
      b[0] = r.int(4)
      return { kind: 'truncated-varint', bytes: b }
    }
    case 6: {
      // Huge declared lengths: at the message level, or inside the update / awareness payload.
      const huge = [0xff, 0xff, 0xff, 0xff, 0x0f]
      const e = encoding.createEncoder()
      const where = r.int(4)
      if (where === 0) { encoding.writeVarUint(e, 0); encoding.writeVarUint(e, r.int(3)); huge.forEach(x => encoding.writeUint8(e, x)); encoding.writeUint8Array(e, randomBytes(r, r.int(16))) }
      else if (where === 1) { encoding.writeVarUint(e, 0); encoding.writeVarUint(e, 2); encoding.writeVarUint8Array(e, new Uint8Array([1, ...huge, r.int(256), 0, 4, 1, 1, 65, ...huge, 65])) }
      else if (where === 2) { encoding.writeVarUint(e, 1); encoding.writeVarUint8Array(e, new Uint8Array([...huge, 1, 1])) }
      else { encoding.writeVarUint(e, 0); encoding.writeVarUint(e, 0); encoding.writeVarUint8Array(e, new Uint8Array([...huge, 1, 2])) }
      return { kind: 'huge-length', bytes: encoding.toUint8Array(e) }
    }
    default: return goodFrame(r, peer)
  }
}

describe('fuzz: hostile frames over many connections', () => {
  let server: TestServer
  const editors: StockClient[] = []

  beforeAll(async () => {
    // Rate limits off here (test/transports/limits.test.ts covers them): we want every frame decoded.
    server = await startServer({ storage: memoryStorage(), maxMessagesPerSecond: 1e9, messageBurst: 1e9, unloadAfterMs: 200, maxMessageBytes: 1 << 20 })
  })
  afterAll(async () => {
    for (const e of editors) e.destroy()
    await server.close()
  })

  it(`survives ${FRAMES.toLocaleString('en')} fuzzed frames; editors converge on exactly what they wrote`, async () => {
    const seed = Number(process.env.SEED ?? Math.floor(Math.random() * 2 ** 31))
    const r = rng(seed)
    const tag = `seed ${seed} (replay with SEED=${seed})`
    const metrics = server.weft.context.metrics
    for (let i = 0; i < 4; i++) editors.push(stockClient(server.wsUrl, 'fuzz'))
    await synced(...editors)
    // Count what the editors send, to tell the fuzzers' frames apart in the server's count.
    let editorSent = 0
    for (const e of editors) {
      const ws = (e.provider as unknown as { ws: WebSocket }).ws
      const send = ws.send.bind(ws)
      ws.send = ((data: any, ...rest: any[]) => { editorSent++; return (send as any)(data, ...rest) }) as typeof ws.send
    }
    await sleep(100)
    const handledAtStart = metrics.get('ws_messages_total')
    const disconnects: string[] = []
    for (const e of editors) e.provider.on('status', ({ status }: { status: string }) => { if (status === 'disconnected') disconnects.push(status) })
    const editorIds = new Set(editors.map(e => e.doc.clientID))

    // Editors type the whole time, each its own letters.
    let typing = true
    let typed = 0
    const typer = (async () => {
      const tr = rng(seed + 1)
      while (typing) {
        const e = editors[tr.int(editors.length)]!
        e.text.insert(tr.int(e.text.length + 1), String.fromCharCode(97 + tr.int(26)))
        typed++
        await sleep(20)
      }
    })()

    const pool = new FramePool(r, 100)
    const heap = { start: process.memoryUsage().heapUsed, max: 0 }
    const kinds = new Map<string, number>()
    let sent = 0
    let connections = 0
    const started = Date.now()
    const deadline = started + TIME_BUDGET_MS
    // Messages the server decoded from fuzzers: all it decoded, minus what the editors sent.
    const handled = (): number => metrics.get('ws_messages_total') - handledAtStart - editorSent

    const socketDeadline = started + SOCKET_PHASE_MS
    async function fuzzer (id: number): Promise<void> {
      const fr = rng(seed * 31 + id)
      while (handled() < FRAMES && Date.now() < socketDeadline) {
        const doc = fr.int(10) === 0 ? `fuzz-${fr.int(5)}` : 'fuzz'
        const ws = new WebSocket(`${server.wsUrl}/${doc}`)
        connections++
        const closed = new Promise<void>(resolve => ws.once('close', () => resolve()))
        ws.on('error', () => {})
        const opened = await new Promise<boolean>(resolve => { ws.once('open', () => resolve(true)); ws.once('close', () => resolve(false)) })
        if (!opened) continue
        // A connection's frames are structure-aware random ones, then a hostile one at the end
        // (the server closes a connection on its first invalid frame and ignores what follows,
        // so a hostile frame earlier would waste the rest). 1 in 4 connections gets extra
        // hostile frames mixed in anyway, to show nothing after the first one is applied.
        const mixed = fr.int(4) === 0
        for (let i = 0; i < BURST && ws.readyState === WebSocket.OPEN; i++) {
          const f = i === BURST - 1 || (mixed && fr.int(8) === 0) ? frame(fr, pool) : goodFrame(fr, pool)
          kinds.set(f.kind, (kinds.get(f.kind) ?? 0) + 1)
          ws.send(f.bytes)
          sent++
        }
        // Wait for the server's verdict (a close) briefly; then half leave politely, half vanish.
        await Promise.race([closed, sleep(10)])
        if (fr.int(2) === 0) ws.terminate()
        else ws.close()
        await closed
        heap.max = Math.max(heap.max, process.memoryUsage().heapUsed)
      }
    }
    await Promise.all(Array.from({ length: PARALLEL }, (_, i) => fuzzer(i)))
    const overSockets = handled()

    // Phase 2, same generator, same doc, editors still typing: frames go straight into the
    // server's session layer (decodeMessage → Session.handle, exactly what the WebSocket
    // transport calls), a fresh session after each refusal as a reconnecting client would.
    const shared = server.weft.context.registry.get('fuzz')!
    const sr = rng(seed * 7 + 3)
    let viaSessions = 0
    let sessions = 0
    let refused = 0
    const opts = server.weft.context.options
    const newSession = (): Session => {
      sessions++
      const s = new Session(shared, { send () {}, close () {} }, 'write', { limits: { maxUpdateBytes: opts.maxMessageBytes, maxAwarenessStateBytes: opts.maxAwarenessStateBytes }, logger: silentLogger })
      s.join()
      s.greet()
      return s
    }
    let session = newSession()
    while (overSockets + viaSessions < FRAMES && Date.now() < deadline) {
      const mixed = sr.int(4) === 0
      for (let i = 0; i < BURST; i++) {
        const f = i === BURST - 1 || (mixed && sr.int(8) === 0) ? frame(sr, pool) : goodFrame(sr, pool)
        kinds.set(f.kind, (kinds.get(f.kind) ?? 0) + 1)
        viaSessions++
        try {
          session.handle(decodeMessage(f.bytes))
        } catch (err) {
          expect(err, `${tag}: only protocol errors`).toBeInstanceOf(ProtocolError)
          refused++
          break
        }
      }
      session.detach()
      session = newSession()
      if (viaSessions % 2000 < BURST) {
        heap.max = Math.max(heap.max, process.memoryUsage().heapUsed)
        await sleep(1) // let the editors and the write pipeline run
      }
    }
    session.detach()
    await shared.flushed()
    typing = false
    await typer
    const elapsed = Date.now() - started

    // eslint-disable-next-line no-console
    console.log(`fuzz ${tag}: ${sent} frames sent on ${connections} connections, ${overSockets} handled by the server; ` +
      `${viaSessions} more through ${sessions} sessions (${refused} refused); ${elapsed} ms; ` +
      `${typed} editor keystrokes; heap start ${(heap.start / 2 ** 20).toFixed(0)} MiB, max ${(heap.max / 2 ** 20).toFixed(0)} MiB; ` +
      `closes 4400: ${metrics.get('ws_closed_total{code="4400"}')}; kinds ${JSON.stringify(Object.fromEntries(kinds))}`)

    expect(overSockets, tag).toBeGreaterThan(1000)
    // The count is the goal and the time the bound: alone on this machine 100,000 frames take
    // about a minute, but next to other suites on two busy cores the budget can run out first.
    // Then say so loudly and still demand a substantial run.
    if (overSockets + viaSessions < FRAMES) {
      // eslint-disable-next-line no-console
      console.warn(`fuzz ${tag}: time budget of ${TIME_BUDGET_MS} ms ran out after ${overSockets + viaSessions} of ${FRAMES} frames (machine busy?)`)
    }
    expect(overSockets + viaSessions, tag).toBeGreaterThanOrEqual(Math.min(FRAMES, 30_000))
    // Heap bounded: a few hundred MiB of slack on top of where we started, whatever was sent.
    expect(heap.max - heap.start, tag).toBeLessThan(400 * 2 ** 20)
    expect(disconnects, `${tag}: editors were never disconnected`).toEqual([])

    // The server is up and the editors converge on the same text as the server's doc.
    const text = (): string => shared.ydoc.getText('text').toString()
    await waitFor(() => editors.every(e => e.text.toString() === text()), `${tag}: editors and server to converge`, 20_000)
    expect(text().length, tag).toBe(typed)
    // Exactly what the editors wrote: the merge of their docs, and only their client ids in the text.
    const reference = new Y.Doc()
    for (const e of editors) Y.applyUpdate(reference, Y.encodeStateAsUpdate(e.doc))
    expect(text(), tag).toBe(reference.getText('text').toString())
    const authors = new Set<number>()
    let item = server.weft.context.registry.get('fuzz')!.ydoc.getText('text')._start
    while (item != null) { authors.add(item.id.client); item = item.right }
    expect([...authors].filter(a => !editorIds.has(a)), tag).toEqual([])
    const res = await fetch(`${server.url}/healthz`)
    expect(res.status).toBe(200)
  }, 150_000)

  it('HTTP: 2,000 hostile POST bodies get 204 or a 4xx, never a 5xx, and the editors\' text is untouched', async () => {
    const seed = Number(process.env.SEED ?? Math.floor(Math.random() * 2 ** 31))
    const r = rng(seed)
    const pool = new FramePool(r, 20)
    const doc = server.weft.context.registry.get('fuzz')
    const before = doc?.ydoc.getText('text').toString()
    const statuses = new Map<number, number>()
    const session = `fuzz-${seed}`
    for (let i = 0; i < 2000; i++) {
      // The payload of a frame (drop the message header) or the raw frame itself.
      const f = r.int(2) === 0 ? frame(r, pool) : goodFrame(r, pool)
      const body = r.int(3) === 0 ? f.bytes : f.bytes.subarray(Math.min(f.bytes.length, 2 + r.int(3)))
      const route = r.int(4) === 0 ? 'awareness' : 'updates'
      const res = await fetch(`${server.url}/docs/fuzz/${route}?session=${session}`, { method: 'POST', body: Buffer.from(body), headers: { 'content-type': r.int(10) === 0 ? 'application/json' : 'application/octet-stream' } })
      await res.arrayBuffer()
      statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1)
    }
    // eslint-disable-next-line no-console
    console.log(`http fuzz seed ${seed}: statuses ${JSON.stringify(Object.fromEntries(statuses))}`)
    const seen = [...statuses.keys()].sort()
    expect(seen.filter(s => s >= 500), `seed ${seed}: statuses ${JSON.stringify(Object.fromEntries(statuses))}`).toEqual([])
    expect(seen.every(s => s === 204 || (s >= 400 && s < 500))).toBe(true)
    if (before !== undefined) expect(doc!.ydoc.getText('text').toString()).toBe(before)
    expect((await fetch(`${server.url}/healthz`)).status).toBe(200)
  }, 120_000)

  it('frames queued behind a bad one while the doc loads are not applied', async () => {
    const inner = memoryStorage()
    // Loading takes a while, so everything below arrives while the doc loads and is queued.
    const slow = { ...inner, load: async (doc: string) => { await sleep(300); return await inner.load(doc) } }
    const s = await startServer({ storage: slow })
    try {
      const peer = await rawPeer(`${s.wsUrl}/cold`)
      const d = new Y.Doc()
      d.getText('text').insert(0, 'after the bad frame')
      peer.send(new Uint8Array([0, 2, 0x80])) // truncated varint: 4400
      peer.send(encodeSyncUpdate(Y.encodeStateAsUpdate(d)))
      expect((await peer.closed).code).toBe(4400)
      const h = await s.weft.openDoc('cold')
      expect(h.doc.getText('text').toString()).toBe('')
      expect(await inner.load('cold')).toEqual([])
      await h.release()
    } finally {
      await s.close()
    }
  })

  it('refuses an awareness state nested too deep to re-encode (4400), and the doc stays usable', async () => {
    const p = await rawPeer(`${server.wsUrl}/deep`)
    p.send(encodeAwarenessMessage(encodeAwarenessEntries([{ clientID: 5, clock: 1, json: '['.repeat(30_000) + ']'.repeat(30_000) }])))
    expect((await p.closed).code).toBe(4400)
    const ok = stockClient(server.wsUrl, 'deep')
    try {
      await synced(ok)
      ok.provider.awareness.setLocalStateField('cursor', { anchor: { type: { client: 1, clock: 2 }, tname: null, item: null, assoc: 0 } })
      await waitFor(() => server.weft.context.registry.get('deep')?.awareness.getStates().has(ok.doc.clientID) === true, 'a normal state to be accepted')
    } finally { ok.destroy() }
  })

  it('a stale echo of a departed peer\'s presence does not claim its id: the peer can come back', async () => {
    const warnings: string[] = []
    const logger = { debug () {}, info () {}, error () {}, warn (...a: unknown[]) { warnings.push(a.map(x => typeof x === 'string' ? x : '').join(' ')) } }
    const s = await startServer({ storage: memoryStorage(), logger })
    const watcher = stockClient(s.wsUrl, 'echo-claim')
    try {
      await synced(watcher)
      const a = await rawPeer(`${s.wsUrl}/echo-claim`)
      a.send(encodeAwarenessMessage(encodeAwarenessEntries([{ clientID: 777, clock: 5, json: '{"user":"a"}' }])))
      await waitFor(() => watcher.provider.awareness.getStates().get(777)?.user === 'a', 'a to be seen')
      a.ws.terminate()
      await waitFor(() => !watcher.provider.awareness.getStates().has(777), 'a to be removed')
      // B replays a's last state (what a stock provider's echo looks like when it arrives late).
      const b = await rawPeer(`${s.wsUrl}/echo-claim`)
      b.send(encodeAwarenessMessage(encodeAwarenessEntries([{ clientID: 777, clock: 5, json: '{"user":"a"}' }])))
      // a reconnects with the same client id and a newer clock: it must be accepted.
      const a2 = await rawPeer(`${s.wsUrl}/echo-claim`)
      a2.send(encodeAwarenessMessage(encodeAwarenessEntries([{ clientID: 777, clock: 9, json: '{"user":"a again"}' }])))
      await waitFor(() => watcher.provider.awareness.getStates().get(777)?.user === 'a again', 'a to be back')
      // The watcher (a stock provider) echoed every change it heard; none of that counted as spoofing.
      expect(warnings.filter(w => w.includes('refused awareness'))).toEqual([])
      b.ws.terminate()
      await sleep(100)
      expect(watcher.provider.awareness.getStates().get(777)?.user).toBe('a again')
      a2.ws.terminate()
    } finally {
      watcher.destroy()
      await s.close()
    }
  })

  it('refuses awareness spoofing: nobody can set or remove another connection\'s presence', async () => {
    const a = stockClient(server.wsUrl, 'spoof')
    const b = stockClient(server.wsUrl, 'spoof')
    try {
      await synced(a, b)
      a.provider.awareness.setLocalStateField('user', 'alice')
      const aId = a.doc.clientID
      await waitFor(() => b.provider.awareness.getStates().get(aId)?.user === 'alice', 'b to see alice')

      const mallory = await rawPeer(`${server.wsUrl}/spoof`)
      // Claim alice's client id with a newer clock, then try to remove her (state null).
      const forged = new awarenessProtocol.Awareness(new Y.Doc())
      const fake = encodeAwarenessEntries([{ clientID: aId, clock: 1_000_000, json: JSON.stringify({ user: 'mallory' }) }])
      mallory.send(encodeAwarenessMessage(fake))
      mallory.send(encodeAwarenessMessage(encodeAwarenessEntries([{ clientID: aId, clock: 1_000_001, json: 'null' }])))
      // Mallory's own id works (so the connection was live and handled the frames).
      mallory.send(encodeAwarenessMessage(encodeAwarenessEntries([{ clientID: 4242, clock: 1, json: JSON.stringify({ user: 'mallory' }) }])))
      await waitFor(() => b.provider.awareness.getStates().get(4242)?.user === 'mallory', 'mallory\'s own presence to arrive')
      expect(b.provider.awareness.getStates().get(aId)?.user).toBe('alice')
      expect(server.weft.context.registry.get('spoof')!.awareness.getStates().get(aId)?.user).toBe('alice')
      expect(mallory.messages.some(m => decodeMessage(m).type === 'awareness')).toBe(true)
      forged.destroy()
      // When mallory leaves, only her own id goes.
      mallory.ws.terminate()
      await waitFor(() => !b.provider.awareness.getStates().has(4242), 'mallory\'s presence to be removed')
      expect(b.provider.awareness.getStates().get(aId)?.user).toBe('alice')
    } finally {
      a.destroy()
      b.destroy()
    }
  })
})
