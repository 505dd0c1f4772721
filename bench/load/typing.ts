/**
 * Rooms of raw clients typing marker edits at a fixed rate, and the latency bookkeeping.
 * One timer drives every client (each has its own random phase), so 500 clients at 20 edits/s
 * cost one loop, not 500 timers.
 */
import * as Y from 'yjs'
import type { Dialect } from '../lib/targets.js'
import { summarize, type LatencySummary } from '../lib/stats.js'
import { RawClient, settle, sourceAddress } from './client.js'
import { markerText, scanMarkers } from './markers.js'
import { Framing } from './proto.js'

/** Edits per client id space; a marker id is client × STRIDE + n. */
export const STRIDE = 1 << 14

/** Each client index types into its own Y.Doc; updates are kept so later runs reuse them. */
class Typist {
  private readonly doc = new Y.Doc()
  private readonly text = this.doc.getText('t')
  readonly updates: Uint8Array[] = []
  constructor (readonly index: number) {
    this.doc.clientID = 1_000_000 + index
    this.doc.on('update', (u: Uint8Array) => { this.updates.push(u) })
  }

  ensure (count: number): void {
    if (count > STRIDE) throw new Error(`more than ${STRIDE} edits per client`)
    while (this.updates.length < count) this.text.insert(this.text.length, markerText(this.index * STRIDE + this.updates.length))
  }
}
const typists: Typist[] = []
const typist = (i: number): Typist => (typists[i] ??= new Typist(i))

export interface GroupSpec {
  url: string
  dialect: Dialect
  rooms: number
  clientsPerRoom: number
  roomPrefix: string
  timeoutMs?: number
  syncOnOpen?: boolean
  /** Only the first this many clients of each room type; the others only read (observers). */
  writersPerRoom?: number
  /** One client at a time, each in before the next: a round-robin proxy then places them in order. */
  sequential?: boolean
  /** Behind a round-robin proxy with `sequential`: the k-th client is on node (first + k) % nodes (latency split into across/same node). */
  placement?: { nodes: number, first: number }
}

interface Member { client: RawClient, index: number, room: number, next: number, framed: Buffer[], framing: Framing, writes: boolean, node: number }

export class Group {
  members: Member[] = []
  /** Send times by marker id (NaN = not sent in this phase). */
  sendTimes = new Map<number, number>()
  private latencies: number[] = []
  /** With a placement: latencies of deliveries to a client on another node than the writer's, and on the same. */
  private across: number[] = []
  private same: number[] = []
  private readonly byIndex = new Map<number, Member>()
  delivered = 0
  echoes = 0
  /** Latencies by the second of the phase the edit was sent in (to see queues build up). */
  private timeline: number[][] = []
  private phaseStart = 0
  connectMs = 0
  failures = 0

  static async connect (spec: GroupSpec, firstIndex = 0): Promise<Group> {
    const g = new Group()
    const t0 = performance.now()
    for (let r = 0; r < spec.rooms; r++) {
      const doc = `${spec.roomPrefix}${r}`
      const framing = new Framing(spec.dialect, doc)
      for (let c = 0; c < spec.clientsPerRoom; c++) {
        const index = firstIndex + r * spec.clientsPerRoom + c
        const order = g.members.length
        const member: Member = { client: null as unknown as RawClient, index, room: r, next: 0, framed: [], framing, writes: c < (spec.writersPerRoom ?? Infinity), node: spec.placement === undefined ? -1 : (spec.placement.first + order) % spec.placement.nodes }
        member.client = new RawClient({
          url: `${spec.url}/${encodeURIComponent(doc)}`,
          framing,
          localAddress: sourceAddress(index),
          syncOnOpen: spec.syncOnOpen,
          onFrame: data => g.onFrame(member, data)
        })
        g.members.push(member)
        g.byIndex.set(index, member)
        if (spec.sequential === true) await settle([member.client], 10_000)
      }
    }
    g.failures = await settle(g.members.map(m => m.client), spec.timeoutMs ?? 60_000)
    g.connectMs = performance.now() - t0
    return g
  }

  private onFrame (member: Member, data: Buffer): void {
    const now = performance.now()
    scanMarkers(data, id => {
      const sender = Math.floor(id / STRIDE)
      if (sender === member.index) { this.echoes++; return }
      const sent = this.sendTimes.get(id)
      if (sent === undefined) return
      this.delivered++
      this.latencies.push(now - sent)
      const from = this.byIndex.get(sender)
      if (from !== undefined && from.node >= 0) (from.node === member.node ? this.same : this.across).push(now - sent)
      const bucket = Math.floor((sent - this.phaseStart) / 1000)
      ;(this.timeline[bucket] ??= []).push(now - sent)
    })
  }

  /**
   * Every client sends one edit per `intervalMs` for `durationMs`, then we wait (≤ 5 s) for the
   * deliveries still in flight. Returns what arrived and the edit-to-peer latencies.
   */
  async type (intervalMs: number, durationMs: number): Promise<TypingResult> {
    const live = this.members.filter(m => m.client.synced && !m.client.closed)
    const roomSize = new Map<number, number>()
    for (const m of live) roomSize.set(m.room, (roomSize.get(m.room) ?? 0) + 1)
    const typing = live.filter(m => m.writes)
    const perClient = Math.ceil(durationMs / intervalMs) + 1
    for (const m of typing) {
      const t = typist(m.index)
      t.ensure(m.next + perClient)
      m.framed = []
      for (let n = m.next; n < m.next + perClient; n++) m.framed[n] = m.framing.update(t.updates[n]!)
    }
    this.sendTimes = new Map()
    this.latencies = []
    this.across = []
    this.same = []
    this.delivered = 0
    this.echoes = 0
    let sent = 0
    let expected = 0
    const start = performance.now()
    this.phaseStart = start
    this.timeline = []
    const due = typing.map(() => start + Math.random() * intervalMs)
    const cpu0 = process.cpuUsage()
    await new Promise<void>(resolve => {
      const timer = setInterval(() => {
        const now = performance.now()
        if (now - start >= durationMs) { clearInterval(timer); resolve(); return }
        for (let i = 0; i < typing.length; i++) {
          if (due[i]! > now) continue
          const m = typing[i]!
          due[i]! += intervalMs
          if (m.client.closed) continue
          const id = m.index * STRIDE + m.next
          this.sendTimes.set(id, performance.now())
          m.client.send(m.framed[m.next]!)
          m.next++
          sent++
          expected += roomSize.get(m.room)! - 1
        }
      }, 1)
    })
    const drainUntil = performance.now() + 5000
    while (this.delivered < expected && performance.now() < drainUntil) await new Promise(resolve => setTimeout(resolve, 20))
    const cpu = process.cpuUsage(cpu0)
    return {
      sent,
      expected,
      delivered: this.delivered,
      echoes: this.echoes,
      latency: summarize(this.latencies),
      acrossNodes: summarize(this.across),
      sameNode: summarize(this.same),
      loadgenCpuMs: (cpu.user + cpu.system) / 1000,
      closed: this.members.filter(m => m.client.closed).length,
      p50BySecond: Array.from(this.timeline, b => b === undefined ? NaN : Math.round(summarize(b).p50 * 10) / 10)
    }
  }

  async close (): Promise<void> {
    for (const m of this.members) m.client.close()
    this.members = []
  }
}

export interface TypingResult {
  sent: number
  expected: number
  delivered: number
  echoes: number
  latency: LatencySummary
  /** With a placement only (else n = 0): deliveries to a client on another node than the writer's, and on the same node. */
  acrossNodes: LatencySummary
  sameNode: LatencySummary
  loadgenCpuMs: number
  closed: number
  p50BySecond: number[]
}
