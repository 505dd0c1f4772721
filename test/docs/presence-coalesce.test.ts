/**
 * Coalesced presence (issue 16): awareness changes of one doc that arrive within
 * `presenceCoalesceMs` go out as one message with each changed client's newest state, encoded
 * once; edits never wait for it; removals go out at once. Real server on port 0, stock
 * y-websocket providers, raw WebSocket peers where the frames themselves are the point.
 */
import { describe, expect, it } from 'vitest'
import { decodeAwarenessEntries } from '../../shared/awareness.js'
import * as encoding from 'lib0/encoding'
import { decodeMessage, encodeAwarenessMessage } from '../../shared/protocol.js'
import type { WeftOptions } from '../../server/options.js'
import { memoryStorage } from '../../server/storage/memory.js'
import { cleanupAfterEach, startServer, type TestServer } from '../helpers/server.js'
import { stockClient, synced, type StockClient } from '../helpers/providers.js'
import { rawPeer, type RawPeer } from '../helpers/raw-ws.js'
import { ECHO_AFTER_MS } from '../../server/docs/doc-presence.js'
import { Ticks, windowTicks } from '../../server/docs/presence-window.js'
import { openSse } from '../helpers/sse.js'
import { sleep, waitFor } from '../helpers/wait.js'

const cleanups = cleanupAfterEach()

async function server (opts: WeftOptions = {}): Promise<TestServer> {
  const s = await startServer({ storage: memoryStorage(), ...opts })
  cleanups.push(() => s.close())
  return s
}

function clients (s: TestServer, doc: string, n: number): StockClient[] {
  const list = Array.from({ length: n }, () => stockClient(s.wsUrl, doc))
  cleanups.push(() => { for (const c of list) c.destroy() })
  return list
}

/** A y-codemirror.next-like state: user name and colour, anchor/head relative positions. */
function cursorState (i: number, n: number): Record<string, unknown> {
  return {
    user: { name: `user ${i}`, color: '#30bced', colorLight: '#30bced33' },
    cursor: { anchor: { type: null, tname: 'text', item: { client: 1000 + i, clock: n }, assoc: 0 }, head: { type: null, tname: 'text', item: { client: 1000 + i, clock: n + 3 }, assoc: 0 } }
  }
}

/** Every client moves its cursor `moves` times at `hz`, each with its own phase. */
async function moveCursors (list: StockClient[], moves: number, hz: number): Promise<void> {
  const period = 1000 / hz
  await Promise.all(list.map(async (c, i) => {
    await sleep(Math.random() * period)
    for (let n = 0; n < moves; n++) {
      c.provider.awareness.setLocalState(cursorState(i, n))
      await sleep(period)
    }
  }))
}

/** Awareness frames a raw peer received: entries (client id, clock) per frame, and when. */
interface Frame { at: number, entries: Array<{ clientID: number, clock: number, isNull: boolean }> }
function awarenessFrames (peer: RawPeer): Frame[] {
  const frames: Frame[] = []
  peer.ws.on('message', (data: Buffer) => {
    const m = decodeMessage(new Uint8Array(data))
    if (m.type !== 'awareness') return
    frames.push({ at: performance.now(), entries: decodeAwarenessEntries(m.update).map(e => ({ clientID: e.clientID, clock: e.clock, isNull: e.isNull })) })
  })
  return frames
}

/** One client's state as an awareness update (y-protocols encoding). */
function awarenessUpdate (clientID: number, clock: number, state: unknown): Uint8Array {
  const e = encoding.createEncoder()
  encoding.writeVarUint(e, 1)
  encoding.writeVarUint(e, clientID)
  encoding.writeVarUint(e, clock)
  encoding.writeVarString(e, JSON.stringify(state))
  return encoding.toUint8Array(e)
}

const awarenessMessage = (clientID: number, clock: number, state: unknown): Uint8Array => encodeAwarenessMessage(awarenessUpdate(clientID, clock, state))

function presenceView (c: StockClient): string {
  return JSON.stringify([...c.provider.awareness.getStates()].filter(([, s]) => Object.keys(s).length > 0).sort(([a], [b]) => a - b))
}

describe('coalesced presence', () => {
  it('20 stock providers moving cursors at 10 Hz converge on one presence view, in far fewer messages', async () => {
    const s = await server({ presenceCoalesceMs: 20 })
    const flushes: number[] = []
    s.weft.on('awareness', e => { if (e.doc === 'crowd') flushes.push(e.added.length + e.updated.length + e.removed.length) })
    const list = clients(s, 'crowd', 20)
    await synced(...list)
    const observer = await rawPeer(`${s.wsUrl}/crowd`)
    cleanups.push(() => observer.ws.terminate())
    const frames = awarenessFrames(observer)
    await moveCursors(list, 10, 10)
    const expected = presenceView(list[0]!)
    await waitFor(() => list.every(c => presenceView(c) === presenceView(list[0]!) && c.provider.awareness.getStates().size === 20), 'every provider to see the same 20 states')
    // Each provider shows every other's newest state.
    for (const [i, c] of list.entries()) {
      expect(c.provider.awareness.getStates().get(list[(i + 1) % 20]!.doc.clientID)).toEqual(cursorState((i + 1) % 20, 9))
    }
    expect(presenceView(list[0]!)).not.toBe('')
    expect(expected.length).toBeGreaterThan(0)
    // 200 changes (plus the providers' first states) went out in far fewer messages, several
    // states each: with coalescing off this is one message per change (see the last test).
    const changes = frames.reduce((n, f) => n + f.entries.length, 0)
    expect(changes).toBeGreaterThanOrEqual(200)
    expect(frames.length).toBeLessThan(changes / 2)
    expect(Math.max(...frames.map(f => f.entries.length))).toBeGreaterThan(1)
    // 21 peers: each window is 3 ticks of 20 ms (windowTicks), so flushes come ~60 ms apart, not
    // 20 (a late tick only spreads them further; 40 ms leaves room for the leading edge).
    expect(windowTicks(21)).toBe(3)
    const spanMs = frames.at(-1)!.at - frames[0]!.at
    expect(frames.length).toBeLessThanOrEqual(spanMs / 40 + 3)
    expect(flushes.length).toBeLessThan(flushes.reduce((a, b) => a + b, 0) / 2)
    const metrics = await (await fetch(`${s.url}/metrics`)).text()
    expect(Number(/^weft_presence_flushes_total (\d+)/m.exec(metrics)?.[1])).toBe(flushes.length)
    expect(Number(/^weft_presence_states_total (\d+)/m.exec(metrics)?.[1])).toBe(flushes.reduce((a, b) => a + b, 0))
  }, 30_000)

  it('a client\'s own state reaches its peers within one window however busy the doc, and never comes back alone while it hears others', async () => {
    const tickMs = 40
    // 20 providers, the probe and the peer: the window of a room of 22 is 3 ticks (presence-window.ts).
    const windowMs = windowTicks(22) * tickMs
    expect(windowMs).toBe(120)
    const s = await server({ presenceCoalesceMs: tickMs })
    const list = clients(s, 'own', 20)
    await synced(...list)
    const probe = await rawPeer(`${s.wsUrl}/own`)
    const peer = await rawPeer(`${s.wsUrl}/own`)
    cleanups.push(() => { probe.ws.terminate(); peer.ws.terminate() })
    const heard = awarenessFrames(probe)
    const seen = awarenessFrames(peer)
    const flood = moveCursors(list, 30, 10)
    const id = 424242
    const delays: number[] = []
    const later: number[] = []
    for (let clock = 1; clock <= 10; clock++) {
      await sleep(30 + Math.random() * 100)
      const sent = performance.now()
      const before = seen.length
      probe.send(awarenessMessage(id, clock, cursorState(99, clock)))
      const has = (f: Frame): boolean => f.entries.some(e => e.clientID === id && e.clock === clock)
      await waitFor(() => seen.some(has), `state ${clock} to reach a peer`)
      delays.push(seen.find(has)!.at - sent)
      // Frames the peer got between the send and the one with this state: at most a frame
      // already on its way and the tick's flush that may run before the server reads the
      // message; never a later window's (timing-free: a stalled machine delays frames, it does
      // not reorder them).
      later.push(seen.findIndex(has) - before)
    }
    await flood
    expect(Math.max(...later)).toBeLessThanOrEqual(2)
    // One window, plus scheduling slack on a shared machine (the median: one GC pause or a busy
    // neighbour may stall a single frame for longer).
    expect(delays.sort((a, b) => a - b)[5]!).toBeLessThan(windowMs + 60)
    // The probe heard the others all along, so no message of nothing but its own state came back
    // (the keep-alive echo is for a client that hears nothing: see the next test); its state may
    // ride along in a message with others' changes.
    expect(heard.length).toBeGreaterThan(10)
    expect(heard.some(f => f.entries.every(e => e.clientID === id))).toBe(false)
  }, 30_000)

  it('a client that hears no one is sent its own change back, at most once per ECHO_AFTER_MS (the stock provider\'s keep-alive)', { timeout: 20_000 }, async () => {
    const s = await server({ presenceCoalesceMs: 20 })
    const probe = await rawPeer(`${s.wsUrl}/alone`)
    cleanups.push(() => probe.ws.terminate())
    const heard = awarenessFrames(probe)
    const id = 515151
    for (let clock = 1; clock <= 5; clock++) {
      probe.send(awarenessMessage(id, clock, cursorState(1, clock)))
      await sleep(40)
    }
    await waitFor(() => heard.length > 0, 'the echo')
    await sleep(100)
    // The first change came back (it had heard nothing yet); the next four, within 5 s, did not.
    expect(heard.map(f => f.entries.map(e => e.clock))).toEqual([[1]])
    expect(ECHO_AFTER_MS).toBe(5_000)
    // Once it has heard nothing for ECHO_AFTER_MS, its next change (the provider's 15 s renewal)
    // comes back again: the keep-alive that stops a lone stock provider's 30 s reconnect.
    await sleep(ECHO_AFTER_MS + 100)
    probe.send(awarenessMessage(id, 6, cursorState(1, 6)))
    await waitFor(() => heard.length === 2, 'the keep-alive echo')
    expect(heard[1]!.entries.map(e => e.clock)).toEqual([6])
  })

  it('removal on leave goes out at once, not at the end of the window', async () => {
    const windowMs = 1000
    const s = await server({ presenceCoalesceMs: windowMs })
    const list = clients(s, 'leave', 5)
    await synced(...list)
    const observer = await rawPeer(`${s.wsUrl}/leave`)
    cleanups.push(() => observer.ws.terminate())
    const frames = awarenessFrames(observer)
    const flood = moveCursors(list.slice(1), 20, 10)
    list[0]!.provider.awareness.setLocalState(cursorState(0, 0))
    const leaver = list[0]!.doc.clientID
    await waitFor(() => list[1]!.provider.awareness.getStates().has(leaver), 'the leaver to be seen')
    await sleep(50) // inside the window opened by the states above
    const left = performance.now()
    list[0]!.destroy()
    await waitFor(() => frames.some(f => f.entries.some(e => e.clientID === leaver && e.isNull)), 'the removal', 5000, 2)
    const removedAt = frames.find(f => f.entries.some(e => e.clientID === leaver && e.isNull))!.at
    expect(removedAt - left).toBeLessThan(windowMs / 4)
    await waitFor(() => list.slice(1).every(c => !c.provider.awareness.getStates().has(leaver)), 'every provider to drop the leaver', 2000)
    await flood
  }, 30_000)

  it('no edit waits for presence: edit-to-peer latency under a 20-client cursor flood stays within one window', async () => {
    const windowMs = 20
    const s = await server({ presenceCoalesceMs: windowMs })
    const list = clients(s, 'edits', 22)
    await synced(...list)
    const [writer, reader, ...movers] = list
    const arrived = new Map<string, number>()
    reader!.text.observe(e => { for (const d of e.changes.delta) if (typeof d.insert === 'string') for (const m of d.insert.matchAll(/<(\d+)>/g)) arrived.set(m[1]!, performance.now()) })
    const flood = moveCursors(movers, 20, 10)
    const sentAt = new Map<string, number>()
    for (let n = 0; n < 20; n++) {
      await sleep(100)
      sentAt.set(String(n), performance.now())
      writer!.text.insert(writer!.text.length, `<${n}>`)
    }
    await waitFor(() => arrived.size === 20, 'every edit at the reader')
    await flood
    const latencies = [...sentAt].map(([k, t]) => arrived.get(k)! - t)
    // Stored (memory) and broadcast at once: presence flowing never holds an edit back.
    expect(Math.max(...latencies)).toBeLessThan(windowMs + 60)
  }, 30_000)

  it('the window grows only with the peers presence reaches: SSE streams with awareness=0 and embedder handles do not count', async () => {
    const s = await server({ presenceCoalesceMs: 20 })
    const editor = await rawPeer(`${s.wsUrl}/watched`)
    cleanups.push(() => editor.ws.terminate())
    const doc = s.weft.context.registry.get('watched')!
    const watch = async (query: string, n: number): Promise<void> => {
      for (let i = 0; i < n; i++) {
        const stream = await openSse(`${s.url}/docs/watched/events${query}`)
        cleanups.push(() => stream.close())
        await stream.next(e => e.event === 'snapshot', 'snapshot')
      }
    }
    await watch('?awareness=0', 24)
    const handles = await Promise.all(Array.from({ length: 8 }, async () => await s.weft.openDoc('watched')))
    cleanups.push(async () => { for (const h of handles) await h.release() })
    expect(doc.peers.size).toBe(33)
    expect(doc.presenceWindowTicks).toBe(1) // one peer hears presence
    await watch('', 16)
    expect(doc.presenceWindowTicks).toBe(windowTicks(17)) // the editor and 16 streams with presence
    expect(windowTicks(17)).toBe(3)
  }, 30_000)

  it('1,000 open/close cycles with presence leave nothing: no pending states, no timer, no ids, no peers', async () => {
    const s = await server({ presenceCoalesceMs: 20 })
    const keeper = await rawPeer(`${s.wsUrl}/cycles`)
    cleanups.push(() => keeper.ws.terminate())
    const doc = s.weft.context.registry.get('cycles')!
    for (let round = 0; round < 20; round++) {
      await Promise.all(Array.from({ length: 50 }, async (_, k) => {
        const p = await rawPeer(`${s.wsUrl}/cycles`)
        p.send(awarenessMessage(10_000 + round * 50 + k, 1, cursorState(k, round)))
        await sleep(Math.random() * 10)
        p.ws.close()
        await p.closed
      }))
    }
    await waitFor(() => doc.awareness.getStates().size === 0 && doc.peers.size === 1, 'every state and peer gone')
    await waitFor(() => !doc.presenceWindowOpen, 'the window to close', 2000)
    expect(Ticks.of(20).size).toBe(0) // no doc waits for a tick: its timer is off
    expect(doc.presencePending).toBe(0)
    expect(doc.presenceBytes).toBe(0)
    const stats = s.weft.stats()
    expect(stats.connections).toBe(1)
    expect(stats.peers).toBe(1)
    expect(stats.docsLoaded).toBe(1)
  }, 60_000)

  it('an SSE observer sees the coalesced flushes: added/updated/removed and the newest states; an SSE editor never its own', async () => {
    const s = await server({ presenceCoalesceMs: 50 })
    const list = clients(s, 'sse', 5)
    await synced(...list)
    const stream = await openSse(`${s.url}/docs/sse/events`)
    cleanups.push(() => stream.close())
    await stream.next(e => e.event === 'snapshot', 'snapshot')
    // Moves at once from all five: one window, one event with five states.
    for (const [i, c] of list.entries()) c.provider.awareness.setLocalState(cursorState(i, 1))
    for (const [i, c] of list.entries()) c.provider.awareness.setLocalState(cursorState(i, 2))
    const ids = list.map(c => String(c.doc.clientID))
    const final = new Map<string, unknown>()
    await waitFor(() => {
      for (const e of stream.events) {
        if (e.event !== 'awareness') continue
        const d = JSON.parse(e.data) as { states: Record<string, unknown>, added: number[], updated: number[], removed: number[] }
        for (const id of [...d.added, ...d.updated]) expect(d.states[id]).toBeDefined()
        for (const [id, st] of Object.entries(d.states)) final.set(id, st)
      }
      return ids.every(id => JSON.stringify(final.get(id)) === JSON.stringify(cursorState(ids.indexOf(id), 2)))
    }, 'the newest state of each client on the stream')
    const events = stream.events.filter(e => e.event === 'awareness')
    expect(events.length).toBeLessThan(10)
    expect(Math.max(...events.map(e => Object.keys(JSON.parse(e.data).states as object).length))).toBeGreaterThan(1)
    // An HTTP editor session: its own presence, flushed with others', never comes back to it.
    const session = 'sess-' + Math.random().toString(36).slice(2)
    const own = await openSse(`${s.url}/docs/sse/events?session=${session}`)
    cleanups.push(() => own.close())
    await own.next(e => e.event === 'snapshot', 'snapshot')
    const mine = 777777
    const before = own.events.length
    list[0]!.provider.awareness.setLocalState(cursorState(0, 3))
    const res = await fetch(`${s.url}/docs/sse/awareness?session=${session}`, { method: 'POST', headers: { 'Content-Type': 'application/octet-stream' }, body: Buffer.from(awarenessUpdate(mine, 1, cursorState(7, 1))) })
    expect(res.status).toBe(204)
    await waitFor(() => stream.events.some(e => e.event === 'awareness' && JSON.parse(e.data).states[mine] !== undefined), 'the session\'s state at another observer')
    await own.next(e => e.event === 'awareness' && JSON.parse(e.data).states[list[0]!.doc.clientID] !== undefined, 'others\' states', 5000, before)
    await sleep(150)
    expect(own.events.slice(before).some(e => e.event === 'awareness' && JSON.parse(e.data).states[mine] !== undefined)).toBe(false)
    // Leaving: the removal reaches the stream.
    list[1]!.destroy()
    await stream.next(e => e.event === 'awareness' && (JSON.parse(e.data).removed as number[]).includes(list[1]!.doc.clientID), 'the removal')
  }, 30_000)

  it('a joiner is sent the pending states once (in its full presence), and the others get them as it joins', async () => {
    const windowMs = 1000
    const s = await server({ presenceCoalesceMs: windowMs })
    const [a] = clients(s, 'join', 1)
    await synced(a!)
    const early = await rawPeer(`${s.wsUrl}/join`)
    cleanups.push(() => early.ws.terminate())
    const earlyFrames = awarenessFrames(early)
    const id = a!.doc.clientID
    a!.provider.awareness.setLocalState(cursorState(0, 1)) // leading edge: out at once, opens the window
    await waitFor(() => earlyFrames.some(f => f.entries.some(e => e.clientID === id)), 'the first state')
    a!.provider.awareness.setLocalState(cursorState(0, 2)) // pending until the window ends…
    const clock = a!.provider.awareness.meta.get(id)!.clock
    await sleep(100)
    expect(earlyFrames.some(f => f.entries.some(e => e.clientID === id && e.clock === clock))).toBe(false)
    const joinedAt = performance.now()
    const joiner = await rawPeer(`${s.wsUrl}/join`) // …or until someone joins
    cleanups.push(() => joiner.ws.terminate())
    await waitFor(() => earlyFrames.some(f => f.entries.some(e => e.clientID === id && e.clock === clock)), 'the pending state at the early peer', 2000, 2)
    expect(earlyFrames.find(f => f.entries.some(e => e.clientID === id && e.clock === clock))!.at - joinedAt).toBeLessThan(windowMs / 2)
    await sleep(windowMs + 200)
    // The joiner's full presence, sent on join, held the newest state; nothing repeats it.
    const holding = joiner.messages.filter(m => { const d = decodeMessage(m); return d.type === 'awareness' && decodeAwarenessEntries(d.update).some(e => e.clientID === id && e.clock === clock) })
    expect(holding.length).toBe(1)
  }, 30_000)

  it('presenceCoalesceMs 0: every change goes out at once, alone (the behaviour before coalescing)', async () => {
    const s = await server({ presenceCoalesceMs: 0 })
    const list = clients(s, 'off', 10)
    await synced(...list)
    const observer = await rawPeer(`${s.wsUrl}/off`)
    cleanups.push(() => observer.ws.terminate())
    const frames = awarenessFrames(observer)
    await moveCursors(list, 5, 10)
    await waitFor(() => frames.reduce((n, f) => n + f.entries.length, 0) >= 50, 'every change')
    await sleep(100)
    expect(frames.every(f => f.entries.length === 1)).toBe(true)
    expect(frames.length).toBe(50)
    await waitFor(() => list.every(c => presenceView(c) === presenceView(list[0]!)), 'the same view everywhere')
    expect(s.weft.context.registry.get('off')!.presenceWindowOpen).toBe(false)
  }, 30_000)
})
