/**
 * Real traces typed live: in each room several editors (each a real Y.Doc over a raw client)
 * take turns typing the next txns of a real editing trace — a burst each, as people hand over a
 * paragraph — at a human rate or 10× that. An editor starts its burst only once it has seen the
 * previous editor's text, so the positions in the trace stay meaningful. At the end every editor
 * and a fresh client must hold exactly the trace's text after the txns typed (convergence).
 * Latency: an edit counts as delivered to a peer when the peer's state vector covers it.
 */
import * as decoding from 'lib0/decoding'
import * as Y from 'yjs'
import type { Dialect } from '../lib/targets.js'
import { summarize } from '../lib/stats.js'
import { RawClient, settle, sourceAddress } from './client.js'
import { Framing, SYNC, UPDATE } from './proto.js'
import { applyPatches, loadTrace, type Patch } from './traces.js'

interface TraceArgs { url: string, dialect: Dialect, traces: string[], rooms: number, editorsPerRoom: number, intervalMs: number, durationMs: number, burst: number, roomPrefix: string }

interface Editor { doc: Y.Doc, text: Y.Text, client: RawClient, sent: Array<[clock: number, time: number]>, seen: number[] }

function editor (url: string, framing: Framing, index: number, latencies: number[], room: Editor[]): Editor {
  const doc = new Y.Doc()
  const o = framing.prefix.length
  const self: Editor = { doc, text: doc.getText('t'), client: null as unknown as RawClient, sent: [], seen: [] }
  const apply = (data: Buffer, offset: number): void => {
    const d = decoding.createDecoder(data)
    d.pos = offset
    Y.applyUpdate(doc, decoding.readVarUint8Array(d), 'remote')
    const now = performance.now()
    room.forEach((other, k) => {
      if (other === self) return
      const state = Y.getState(doc.store, other.doc.clientID)
      let i = self.seen[k] ?? 0
      while (i < other.sent.length && other.sent[i]![0] <= state) { latencies.push(now - other.sent[i]![1]); i++ }
      self.seen[k] = i
    })
  }
  self.client = new RawClient({
    url,
    framing,
    localAddress: sourceAddress(index),
    onStep2: apply,
    onFrame: data => { if (data[o] === SYNC && data[o + 1] === UPDATE) apply(data, o + 2) }
  })
  doc.on('update', (u: Uint8Array, origin: unknown) => {
    if (origin === 'remote') return
    self.sent.push([Y.getState(doc.store, doc.clientID), performance.now()])
    self.client.send(framing.update(u))
  })
  return self
}

export async function traceReplay (a: TraceArgs): Promise<unknown> {
  const latencies: number[] = []
  const rooms: Array<{ editors: Editor[], patches: Patch[][], expect: string, k: number, url: string, framing: Framing }> = []
  for (let r = 0; r < a.rooms; r++) {
    const doc = `${a.roomPrefix}${r}`
    const framing = new Framing(a.dialect, doc)
    const url = `${a.url}/${encodeURIComponent(doc)}`
    const editors: Editor[] = []
    for (let e = 0; e < a.editorsPerRoom; e++) editors.push(editor(url, framing, r * a.editorsPerRoom + e, latencies, editors))
    const t = loadTrace(a.traces[r % a.traces.length]!)
    rooms.push({ editors, patches: t.txns.map(x => x.patches), expect: t.startContent, k: 0, url, framing })
  }
  const failures = await settle(rooms.flatMap(r => r.editors.map(e => e.client)), 60_000)
  let stalls = 0
  const start = performance.now()
  await new Promise<void>(resolve => {
    let next = start
    const tick = (): void => {
      const now = performance.now()
      if (now - start >= a.durationMs) { resolve(); return }
      while (next <= now) {
        next += a.intervalMs
        for (const room of rooms) {
          if (room.k >= room.patches.length) continue
          const ed = room.editors[Math.floor(room.k / a.burst) % room.editors.length]!
          // Hand-over: type only on top of everything typed so far.
          if (ed.text.length !== room.expect.length || ed.text.toString() !== room.expect) { stalls++; continue }
          const patches = room.patches[room.k++]!
          ed.doc.transact(() => applyPatches(ed.text, patches))
          for (const [pos, del, ins] of patches) room.expect = room.expect.slice(0, pos) + ins + room.expect.slice(pos + del)
        }
      }
      setTimeout(tick, Math.max(0, next - performance.now()))
    }
    tick()
  })
  // Convergence: every editor, then a fresh client, must hold exactly the expected text.
  const until = performance.now() + 15_000
  const converged = (): number => rooms.filter(r => r.editors.every(e => e.text.toString() === r.expect)).length
  while (converged() < rooms.length && performance.now() < until) await new Promise(resolve => setTimeout(resolve, 50))
  const editorsConverged = converged()
  let freshConverged = 0
  await Promise.all(rooms.map(async (room, r) => {
    const lat: number[] = []
    const fresh = editor(room.url, room.framing, 150 + r, lat, [])
    await settle([fresh.client], 30_000)
    const end = performance.now() + 5000
    while (fresh.text.toString() !== room.expect && performance.now() < end) await new Promise(resolve => setTimeout(resolve, 50))
    if (fresh.text.toString() === room.expect) freshConverged++
    fresh.client.close()
  }))
  for (const room of rooms) for (const e of room.editors) e.client.close()
  return {
    rooms: rooms.length,
    editors: rooms.length * a.editorsPerRoom,
    failures,
    txnsTyped: rooms.reduce((n, r) => n + r.k, 0),
    stalls,
    roomsConverged: editorsConverged,
    freshConverged,
    latency: summarize(latencies)
  }
}
