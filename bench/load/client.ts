/**
 * A raw protocol client: a `ws` socket that speaks just enough y-websocket to join a room and
 * type. It answers the server's step1 with an empty step2 (it has nothing the server lacks),
 * counts itself synced at the server's step2, and hands every other frame to `onFrame` as
 * bytes. No Y.Doc, so one process can drive thousands of these.
 */
import WebSocket from 'ws'
import { Framing, STEP1, STEP2, SYNC, SYNC_REPLY } from './proto.js'

export interface ClientOptions {
  url: string
  framing: Framing
  localAddress: string
  /** Sent as our step1; the empty state vector by default (a fresh client). */
  step1?: Buffer
  /** The server only relays bytes: count as synced once open. */
  syncOnOpen?: boolean
  /** Every frame that is not a step1/step2 (updates, awareness, ...). */
  onFrame?: (data: Buffer) => void
  /** The server's step2 payload frame, if the caller wants it (cold load). */
  onStep2?: (data: Buffer, offset: number) => void
}

export class RawClient {
  readonly ws: WebSocket
  synced = false
  syncedAt = 0
  closed = false
  closeCode = 0
  error: string | null = null
  readonly ready: Promise<void>
  private readonly offset: number

  constructor (readonly opts: ClientOptions) {
    this.offset = opts.framing.prefix.length
    this.ws = new WebSocket(opts.url, { perMessageDeflate: false, localAddress: opts.localAddress, skipUTF8Validation: true, handshakeTimeout: 60_000 })
    this.ready = new Promise((resolve, reject) => {
      this.ws.on('open', () => {
        // A relay has no sync protocol: saying hello would only be forwarded to the whole room.
        if (opts.syncOnOpen === true) { this.synced = true; this.syncedAt = performance.now(); resolve(); return }
        for (const m of opts.framing.hello()) this.ws.send(m)
        this.ws.send(opts.step1 ?? opts.framing.step1())
      })
      this.ws.on('message', (data: Buffer) => {
        const o = this.offset
        const type = data[o]
        if ((type === SYNC || type === SYNC_REPLY) && data[o + 1] === STEP1 && opts.syncOnOpen !== true) {
          this.ws.send(opts.framing.step2())
          return
        }
        if ((type === SYNC || type === SYNC_REPLY) && data[o + 1] === STEP2) {
          opts.onStep2?.(data, o + 2)
          if (!this.synced) { this.synced = true; this.syncedAt = performance.now(); resolve() }
          return
        }
        opts.onFrame?.(data)
      })
      this.ws.on('error', err => { this.error ??= err.message })
      this.ws.on('close', code => {
        this.closed = true
        this.closeCode = code
        if (!this.synced) reject(new Error(this.error ?? `closed with ${code} before sync`))
      })
    })
    this.ready.catch(() => {})
  }

  send (data: Buffer): void {
    if (this.ws.readyState === WebSocket.OPEN) this.ws.send(data)
  }

  close (): void {
    if (this.ws.readyState === WebSocket.OPEN || this.ws.readyState === WebSocket.CONNECTING) this.ws.terminate()
  }
}

/** Connections are spread over 127.0.0.2–127.0.0.201 so no source address runs out of ports. */
export const sourceAddress = (i: number): string => `127.0.0.${2 + (i % 200)}`

/** Waits for all, at most `timeoutMs`; returns how many failed (error, close or timeout). */
export async function settle (clients: RawClient[], timeoutMs: number): Promise<number> {
  let timer: NodeJS.Timeout | undefined
  const timeout = new Promise<void>(resolve => { timer = setTimeout(resolve, timeoutMs) })
  await Promise.race([Promise.allSettled(clients.map(c => c.ready)), timeout])
  clearTimeout(timer)
  return clients.filter(c => !c.synced).length
}

/**
 * Waits for what is still in flight: until `done()`, `maxMs` passed, or `arrived()` has not
 * grown for `quietMs` (coalescing may fold a client's moves, so a count can stay below the
 * expected one for good).
 */
export async function drain (arrived: () => number, done: () => boolean, maxMs: number, quietMs = 300): Promise<void> {
  const until = performance.now() + maxMs
  let last = -1
  let quietSince = performance.now()
  while (performance.now() < until && !done()) {
    await new Promise(resolve => setTimeout(resolve, 50))
    const seen = arrived()
    if (seen !== last) { last = seen; quietSince = performance.now() } else if (performance.now() - quietSince > quietMs) break
  }
}
