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
import { drain } from './client.js'
import { cursorAt, cursorUser } from './presence.js'

export interface ProviderSpec { url: string, rooms: number, usersPerRoom: number, roomPrefix: string }

interface Member { doc: Y.Doc, provider: WebsocketProvider, room: number, index: number, moves: number }

/** Frames the providers' sockets carried, counted by a `WebSocket` they are given to use. */
class Traffic {
  framesIn = 0
  framesOut = 0
  reset (): void { this.framesIn = this.framesOut = 0 }
}

function countingWebSocket (traffic: Traffic): typeof globalThis.WebSocket {
  return class CountingWebSocket extends WebSocket {
    constructor (address: string | URL, protocols?: string | string[]) {
      super(address, protocols)
      this.on('message', () => { traffic.framesIn++ })
      const send = this.send.bind(this) as (data: unknown) => void
      this.send = ((data: unknown) => { traffic.framesOut++; send(data) }) as WebSocket['send']
    }
  } as unknown as typeof globalThis.WebSocket
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
        provider.awareness.setLocalStateField('user', cursorUser(index))
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
          m.provider.awareness.setLocalStateField('cursor', cursorAt(m.index, ++m.moves))
          moves++
          expected += roomSize.get(m.room)! - 1
        }
      }, 1)
    })
    const seconds = (performance.now() - start) / 1000
    await drain(() => this.statesReceived, () => this.statesReceived >= expected, drainMs)
    this.measuring = false
    const cpu = process.cpuUsage(cpu0)
    return { moves, expected, statesReceived: this.statesReceived, framesIn: this.traffic.framesIn, framesOut: this.traffic.framesOut, seconds, clientCpuMs: (cpu.user + cpu.system) / 1000 }
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
  seconds: number
  /** CPU of this process while the providers ran: what the clients paid. */
  clientCpuMs: number
}
