/**
 * Reconnect storm: rooms with content and many clients each; the orchestrator restarts the
 * server; every client reconnects at once with its state vector (what a y-websocket provider
 * does). We time until all are synced, count failures, and check one full sync per room
 * against the content we wrote (nothing lost across the restart).
 */
import * as decoding from 'lib0/decoding'
import * as Y from 'yjs'
import type { Dialect } from '../lib/targets.js'
import { RawClient, settle, sourceAddress } from './client.js'
import { Framing } from './proto.js'

interface StormArgs { url: string, dialect: Dialect, rooms: number, clientsPerRoom: number, roomPrefix: string, editsPerRoom: number }

interface Room { doc: string, framing: Framing, text: string, step1: Buffer }
let rooms: Room[] = []
let clients: RawClient[] = []
let args: StormArgs

function connectAll (): RawClient[] {
  const out: RawClient[] = []
  let i = 0
  for (const room of rooms) {
    for (let c = 0; c < args.clientsPerRoom; c++) {
      out.push(new RawClient({ url: `${args.url}/${encodeURIComponent(room.doc)}`, framing: room.framing, localAddress: sourceAddress(i++), step1: room.step1 }))
    }
  }
  return out
}

export async function stormPrepare (a: StormArgs): Promise<unknown> {
  args = a
  rooms = []
  const writers: RawClient[] = []
  for (let r = 0; r < a.rooms; r++) {
    const doc = `${a.roomPrefix}${r}`
    const framing = new Framing(a.dialect, doc)
    const ydoc = new Y.Doc()
    ydoc.clientID = 5_000_000 + r
    const text = ydoc.getText('t')
    const updates: Uint8Array[] = []
    ydoc.on('update', (u: Uint8Array) => { updates.push(u) })
    for (let n = 0; n < a.editsPerRoom; n++) text.insert(text.length, `line ${n} of ${doc}\n`)
    const writer = new RawClient({ url: `${a.url}/${encodeURIComponent(doc)}`, framing, localAddress: sourceAddress(r) })
    void writer.ready.then(() => { for (const u of updates) writer.send(framing.update(u)) })
    writers.push(writer)
    rooms.push({ doc, framing, text: text.toString(), step1: framing.step1(Y.encodeStateVector(ydoc)) })
  }
  const writerFailures = await settle(writers, 60_000)
  await new Promise(resolve => setTimeout(resolve, 1000))
  for (const w of writers) w.close()
  clients = connectAll()
  const failures = await settle(clients, 60_000)
  return { clients: clients.length, failures, writerFailures }
}

export async function stormReconnect (): Promise<unknown> {
  for (const c of clients) c.close()
  const t0 = performance.now()
  clients = connectAll()
  const failures = await settle(clients, 60_000)
  const times = clients.filter(c => c.synced).map(c => c.syncedAt - t0).sort((a, b) => a - b)
  const allMs = failures === 0 ? times[times.length - 1]! : NaN
  // One full sync per room: the content must have survived the restart.
  let lost = 0
  await Promise.all(rooms.map(async (room, r) => {
    const ydoc = new Y.Doc()
    const apply = (data: Buffer, offset: number): void => { const d = decoding.createDecoder(data); d.pos = offset; Y.applyUpdate(ydoc, decoding.readVarUint8Array(d)) }
    const c = new RawClient({
      url: `${args.url}/${encodeURIComponent(room.doc)}`,
      framing: room.framing,
      localAddress: sourceAddress(r + 7),
      onStep2: (data, offset) => apply(data, offset),
      onFrame: data => { const o = room.framing.prefix.length; if (data[o] === 0 && data[o + 1] === 2) apply(data, o + 2) }
    })
    await settle([c], 30_000)
    // The reference server may answer before its doc loaded and send the content just after.
    const until = performance.now() + 5000
    while (ydoc.getText('t').toString() !== room.text && performance.now() < until) await new Promise(resolve => setTimeout(resolve, 50))
    if (ydoc.getText('t').toString() !== room.text) lost++
    c.close()
  }))
  for (const c of clients) c.close()
  clients = []
  return { clients: times.length + failures, failures, allSyncedMs: allMs, p50Ms: times[times.length >> 1], roomsWithLoss: lost }
}
