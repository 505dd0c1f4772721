/**
 * Presence through stock y-websocket providers (the `y-websocket` package's WebsocketProvider
 * over `ws`): rooms of real providers, each moving a y-codemirror.next-like cursor `hz` times a
 * second with `awareness.setLocalStateField`, as an editor binding does.
 *
 * What the raw presence load (presence.ts) leaves out on purpose, this keeps: the stock provider
 * sends back every awareness change it hears (its awareness `update` handler ignores the origin),
 * so each state a server delivers comes back from every peer, once per message it arrived in. A
 * server that applies awareness drops those echoes as stale; a relay forwards them. And it
 * measures what the clients pay: this process holds nothing but the providers while it runs, so
 * its CPU is theirs.
 */
import * as Y from 'yjs'
import { WebsocketProvider } from 'y-websocket'
import WebSocket from 'ws'

export interface ProviderSpec { url: string, rooms: number, usersPerRoom: number, roomPrefix: string }

interface Member { doc: Y.Doc, provider: WebsocketProvider, room: number, index: number, moves: number }

/** Frames the providers' sockets carried, counted by a `WebSocket` they are given to use. */
class Traffic {
  framesIn = 0
  bytesIn = 0
  framesOut = 0
  reset (): void { this.framesIn = this.bytesIn = this.framesOut = 0 }
}

function countingWebSocket (traffic: Traffic): typeof globalThis.WebSocket {
  return class CountingWebSocket extends WebSocket {
    constructor (address: string | URL, protocols?: string | string[]) {
      super(address, protocols)
      this.on('message', (data: Buffer) => { traffic.framesIn++; traffic.bytesIn += data.byteLength })
      const send = this.send.bind(this) as (data: unknown) => void
      this.send = ((data: unknown) => { traffic.framesOut++; send(data) }) as WebSocket['send']
    }
  } as unknown as typeof globalThis.WebSocket
}

/** y-codemirror.next's cursor: anchor and head as relative-position JSON. */
function cursor (index: number, move: number): Record<string, unknown> {
  const at = (move * 7) % 4000
  const pos = (clock: number): Record<string, unknown> => ({ type: null, tname: 'codemirror', item: { client: 1_000_000 + (index % 50), clock }, assoc: 0 })
  return { anchor: pos(at), head: pos(at + (move % 5)) }
}

export class ProviderGroup {
  members: Member[] = []
  connectMs = 0
  failures = 0
  private readonly traffic = new Traffic()
  private measuring = false
  /** New states of other clients the providers applied (stale echoes are not counted: they change nothing). */
  private statesReceived = 0

  static async connect (spec: ProviderSpec, timeoutMs = 30_000): Promise<ProviderGroup> {
    const g = new ProviderGroup()
    const t0 = performance.now()
    const Socket = countingWebSocket(g.traffic)
    for (let r = 0; r < spec.rooms; r++) {
      for (let u = 0; u < spec.usersPerRoom; u++) {
        const index = r * spec.usersPerRoom + u
        const doc = new Y.Doc()
        const provider = new WebsocketProvider(spec.url, `${spec.roomPrefix}${r}`, doc, { WebSocketPolyfill: Socket, disableBc: true, maxBackoffTime: 1000 })
        provider.awareness.setLocalStateField('user', { name: `User ${index % 1000}`, color: '#30bced', colorLight: '#30bced33' })
        provider.awareness.on('update', ({ added, updated }: { added: number[], updated: number[] }, origin: unknown) => {
          if (!g.measuring || origin === 'local') return
          for (const id of added) if (id !== doc.clientID) g.statesReceived++
          for (const id of updated) if (id !== doc.clientID) g.statesReceived++
        })
        g.members.push({ doc, provider, room: r, index, moves: 0 })
      }
    }
    const until = performance.now() + timeoutMs
    while (performance.now() < until && !g.members.every(m => m.provider.synced)) await new Promise(resolve => setTimeout(resolve, 20))
    g.failures = g.members.filter(m => !m.provider.synced).length
    g.connectMs = performance.now() - t0
    return g
  }

  /** For `durationMs`, every provider moves its cursor `hz` times a second; then waits (≤ `drainMs`) for what is in flight. */
  async run (hz: number, durationMs: number, drainMs = 2000): Promise<ProviderResult> {
    const roomSize = new Map<number, number>()
    for (const m of this.members) roomSize.set(m.room, (roomSize.get(m.room) ?? 0) + 1)
    this.traffic.reset()
    this.statesReceived = 0
    this.measuring = true
    let moves = 0
    let expected = 0
    const period = 1000 / hz
    const start = performance.now()
    const due = this.members.map(() => start + Math.random() * period)
    const cpu0 = process.cpuUsage()
    await new Promise<void>(resolve => {
      const timer = setInterval(() => {
        const now = performance.now()
        if (now - start >= durationMs) { clearInterval(timer); resolve(); return }
        for (let i = 0; i < this.members.length; i++) {
          if (due[i]! > now) continue
          due[i]! += period
          const m = this.members[i]!
          m.provider.awareness.setLocalStateField('cursor', cursor(m.index, ++m.moves))
          moves++
          expected += roomSize.get(m.room)! - 1
        }
      }, 1)
    })
    const seconds = (performance.now() - start) / 1000
    // Drain: stop once nothing new arrived for 300 ms (coalescing may fold moves for good).
    const drainUntil = performance.now() + drainMs
    let last = -1
    let quietSince = performance.now()
    while (performance.now() < drainUntil && this.statesReceived < expected) {
      await new Promise(resolve => setTimeout(resolve, 50))
      if (this.statesReceived !== last) { last = this.statesReceived; quietSince = performance.now() } else if (performance.now() - quietSince > 300) break
    }
    this.measuring = false
    const cpu = process.cpuUsage(cpu0)
    return { moves, expected, statesReceived: this.statesReceived, framesIn: this.traffic.framesIn, framesOut: this.traffic.framesOut, bytesIn: this.traffic.bytesIn, seconds, clientCpuMs: (cpu.user + cpu.system) / 1000 }
  }

  close (): void {
    for (const m of this.members) { m.provider.destroy(); m.doc.destroy() }
    this.members = []
  }
}

export interface ProviderResult {
  moves: number
  /** Moves × peers in the mover's room: every state delivered to every peer. */
  expected: number
  statesReceived: number
  /** Frames the providers received and sent (their echoes included). */
  framesIn: number
  framesOut: number
  bytesIn: number
  seconds: number
  /** CPU of this process while the providers ran: what the clients paid. */
  clientCpuMs: number
}
