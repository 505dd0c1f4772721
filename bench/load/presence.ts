/**
 * Presence load: rooms of raw clients, each moving its cursor `hz` times a second with a
 * y-codemirror.next-like awareness state (user name and colours, anchor/head relative
 * positions), plus a light trickle of marker edits (one typist per room). Counts what arrives:
 * awareness client-states delivered to peers (an awareness message may carry several, so the
 * entries are walked, not the frames counted), payload bytes, presence and edit-to-peer latency.
 *
 * The clients do not echo what they hear (the stock provider does; that is inbound traffic,
 * and with a relay that forwards echoes it grows as N³): this measures the fan-out alone.
 */
import * as decoding from 'lib0/decoding'
import * as encoding from 'lib0/encoding'
import type { Dialect } from '../lib/targets.js'
import { summarize, type LatencySummary } from '../lib/stats.js'
import { drain, RawClient, settle, sourceAddress } from './client.js'
import { scanMarkers, typedUpdates } from './markers.js'
import { Framing, SYNC } from './proto.js'

const AWARENESS = 1
/** Awareness client ids: far from the typists' Yjs client ids (1,000,000 + index). */
const ID_BASE = 5_000_000
/** Marker id space per typist (as typing.ts). */
const STRIDE = 1 << 14
/** Client indices of presence groups start here, so their typists never share cached updates with fanout's. */
const INDEX_BASE = 200_000

export interface PresenceSpec { url: string, dialect: Dialect, rooms: number, usersPerRoom: number, roomPrefix: string, syncOnOpen?: boolean }

interface Member { client: RawClient, index: number, room: number, framing: Framing, clock: number, typed: number }

/** y-codemirror.next's `user` field of user `index`. */
export function cursorUser (index: number): Record<string, unknown> {
  return { name: `User ${index % 1000}`, color: '#30bced', colorLight: '#30bced33' }
}

/** y-codemirror.next's `cursor` field at user `index`'s move `move`: anchor and head as relative-position JSON. */
export function cursorAt (index: number, move: number): Record<string, unknown> {
  const at = (move * 7) % 4000
  const pos = (clock: number): Record<string, unknown> => ({ type: null, tname: 'codemirror', item: { client: 1_000_000 + (index % 50), clock }, assoc: 0 })
  return { anchor: pos(at), head: pos(at + (move % 5)) }
}

/** A y-codemirror.next awareness state: `user` and `cursor: { anchor, head }`. */
function cursorJson (index: number, clock: number): string {
  return JSON.stringify({ user: cursorUser(index), cursor: cursorAt(index, clock) })
}

export class PresenceGroup {
  members: Member[] = []
  failures = 0
  connectMs = 0
  private measuring = false
  /** Send time per awareness (id, clock): sent[index][clock]. */
  private sent: number[][] = []
  private readonly editSent = new Map<number, number>()
  private statesDelivered = 0
  private statesEchoed = 0
  private awarenessFrames = 0
  private bytes = 0
  private presenceLatency: number[] = []
  private editLatency: number[] = []
  private editsDelivered = 0

  static async connect (spec: PresenceSpec): Promise<PresenceGroup> {
    const g = new PresenceGroup()
    const t0 = performance.now()
    for (let r = 0; r < spec.rooms; r++) {
      const doc = `${spec.roomPrefix}${r}`
      const framing = new Framing(spec.dialect, doc)
      for (let u = 0; u < spec.usersPerRoom; u++) {
        const index = r * spec.usersPerRoom + u
        const m: Member = { client: null as unknown as RawClient, index, room: r, framing, clock: 0, typed: 0 }
        m.client = new RawClient({ url: `${spec.url}/${encodeURIComponent(doc)}`, framing, localAddress: sourceAddress(index), syncOnOpen: spec.syncOnOpen, onFrame: data => g.onFrame(m, data) })
        g.members.push(m)
      }
    }
    g.failures = await settle(g.members.map(m => m.client), 60_000)
    g.connectMs = performance.now() - t0
    return g
  }

  private onFrame (m: Member, data: Buffer): void {
    if (!this.measuring) return
    const now = performance.now()
    this.bytes += data.byteLength
    const d = decoding.createDecoder(data)
    d.pos = m.framing.prefix.length
    const type = decoding.readVarUint(d)
    if (type === SYNC) {
      scanMarkers(data, id => {
        const t = this.editSent.get(id)
        if (t === undefined || Math.floor(id / STRIDE) === INDEX_BASE + m.index) return
        this.editsDelivered++
        this.editLatency.push(now - t)
      })
      return
    }
    if (type !== AWARENESS) return
    this.awarenessFrames++
    decoding.readVarUint(d) // the update's length
    const count = decoding.readVarUint(d)
    const own = ID_BASE + m.index
    for (let i = 0; i < count; i++) {
      const id = decoding.readVarUint(d)
      const clock = decoding.readVarUint(d)
      const length = decoding.readVarUint(d)
      d.pos += length // skip the state (not `d.pos += read…`: that reads pos before the length)
      if (id === own) { this.statesEchoed++; continue }
      this.statesDelivered++
      const t = this.sent[id - ID_BASE]?.[clock]
      if (t !== undefined) this.presenceLatency.push(now - t)
    }
  }

  private awarenessFrame (m: Member): Buffer {
    const clock = ++m.clock
    const e = encoding.createEncoder()
    encoding.writeUint8Array(e, m.framing.prefix)
    encoding.writeVarUint(e, AWARENESS)
    const u = encoding.createEncoder()
    encoding.writeVarUint(u, 1)
    encoding.writeVarUint(u, ID_BASE + m.index)
    encoding.writeVarUint(u, clock)
    encoding.writeVarString(u, cursorJson(m.index, clock))
    encoding.writeVarUint8Array(e, encoding.toUint8Array(u))
    return Buffer.from(encoding.toUint8Array(e))
  }

  /**
   * For `durationMs`: every user moves its cursor `hz` times a second (when `hz` > 0), and one
   * user per room types an edit every `editIntervalMs`. Then waits (≤ `drainMs`) for what is in
   * flight. Returns the counts and latencies.
   */
  async run (hz: number, editIntervalMs: number, durationMs: number, drainMs = 3000): Promise<PresenceResult> {
    const live = this.members.filter(m => m.client.synced && !m.client.closed)
    const roomSize = new Map<number, number>()
    for (const m of live) roomSize.set(m.room, (roomSize.get(m.room) ?? 0) + 1)
    const typists = live.filter(m => m.index % (roomSize.get(m.room) ?? 1) === 0)
    const perTypist = Math.ceil(durationMs / editIntervalMs) + 2
    const edits = new Map(typists.map(m => [m, typedUpdates(INDEX_BASE + m.index, m.typed + perTypist, STRIDE).slice(m.typed).map(u => m.framing.update(u))]))
    this.sent = []
    this.editSent.clear()
    this.statesDelivered = this.statesEchoed = this.awarenessFrames = this.bytes = this.editsDelivered = 0
    this.presenceLatency = []
    this.editLatency = []
    this.measuring = true
    let statesSent = 0
    let expectedStates = 0
    let expectedEdits = 0
    const start = performance.now()
    const period = hz > 0 ? 1000 / hz : Infinity
    const due = live.map(() => start + Math.random() * period)
    const editDue = typists.map(() => start + Math.random() * editIntervalMs)
    const cpu0 = process.cpuUsage()
    await new Promise<void>(resolve => {
      const timer = setInterval(() => {
        const now = performance.now()
        if (now - start >= durationMs) { clearInterval(timer); resolve(); return }
        for (let i = 0; i < live.length; i++) {
          if (due[i]! > now) continue
          const m = live[i]!
          due[i]! += period
          if (m.client.closed) continue
          const frame = this.awarenessFrame(m)
          ;(this.sent[m.index] ??= [])[m.clock] = performance.now()
          m.client.send(frame)
          statesSent++
          expectedStates += roomSize.get(m.room)! - 1
        }
        for (let i = 0; i < typists.length; i++) {
          if (editDue[i]! > now) continue
          const m = typists[i]!
          editDue[i]! += editIntervalMs
          const frames = edits.get(m)!
          const frame = frames.shift()
          if (frame === undefined || m.client.closed) continue
          this.editSent.set((INDEX_BASE + m.index) * STRIDE + m.typed, performance.now())
          m.typed++
          m.client.send(frame)
          expectedEdits += roomSize.get(m.room)! - 1
        }
      }, 1)
    })
    const elapsed = performance.now() - start
    await drain(() => this.statesDelivered + this.editsDelivered, () => this.statesDelivered >= expectedStates && this.editsDelivered >= expectedEdits, drainMs)
    this.measuring = false
    const cpu = process.cpuUsage(cpu0)
    return {
      statesSent,
      expectedStates,
      statesDelivered: this.statesDelivered,
      statesEchoed: this.statesEchoed,
      awarenessFrames: this.awarenessFrames,
      bytes: this.bytes,
      seconds: elapsed / 1000,
      expectedEdits,
      editsDelivered: this.editsDelivered,
      presence: summarize(this.presenceLatency),
      edit: summarize(this.editLatency),
      loadgenCpuMs: (cpu.user + cpu.system) / 1000
    }
  }

  close (): void {
    for (const m of this.members) m.client.close()
    this.members = []
  }
}

export interface PresenceResult {
  statesSent: number
  expectedStates: number
  statesDelivered: number
  statesEchoed: number
  awarenessFrames: number
  /** Payload bytes the clients received while measuring. */
  bytes: number
  seconds: number
  expectedEdits: number
  editsDelivered: number
  presence: LatencySummary
  edit: LatencySummary
  loadgenCpuMs: number
}
