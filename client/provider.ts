/**
 * WeftProvider: the y-websocket `WebsocketProvider` surface with transport fallback.
 *
 * Tiers are tried in order (WebSocket → SSE + POST → long poll). A tier that fails to open
 * while a lower one opens, or that is cut `maxCuts` times within `cutWindowMs`, is abandoned;
 * it is probed again after `probeAfterMs` (doubling up to `maxProbeAfterMs`) by opening it on
 * the side, and the provider moves up when the probe opens. When every tier fails to open the
 * server is simply unreachable: nothing is abandoned and the provider retries from the top with
 * exponential backoff and full jitter. Close codes decide the rest (shared/close-codes.ts).
 *
 * No edit is lost or sent twice: every tier starts with a state-vector handshake that sends
 * exactly what the server lacks, so edits made while disconnected or between tiers go up once,
 * with the next handshake; transports drop local updates until their handshake is done.
 */
import * as Y from 'yjs'
import * as awarenessProtocol from 'y-protocols/awareness'
import { ObservableV2 } from 'lib0/observable'
import { closeAdvice, CloseCode } from '../shared/close-codes.js'
import { Backoff } from './backoff.js'
import type { ProviderStatus, WeftProviderOptions } from './provider-options.js'
import { TierPolicy } from './tiers.js'
import { endSession } from './transports/http.js'
import { longPollTransport } from './transports/long-poll.js'
import { ssePostTransport } from './transports/sse-post.js'
import { ABNORMAL_CLOSURE, type Transport, type TransportContext, type TransportFactory, type TransportName } from './transports/types.js'
import { websocketTransport } from './transports/websocket.js'

export type { TransportName } from './transports/types.js'
export type { WeftProviderOptions, ProviderStatus } from './provider-options.js'

const factories: Record<TransportName, TransportFactory> = {
  websocket: websocketTransport,
  sse: ssePostTransport,
  poll: longPollTransport
}

interface Live { name: TransportName, transport: Transport, opened: boolean, openTimer: ReturnType<typeof setTimeout> | null }

/** What a WeftProvider emits (y-websocket's events, plus the fallback's). */
export interface WeftProviderEvents {
  status: (event: { status: ProviderStatus }) => void
  sync: (synced: boolean) => void
  synced: (synced: boolean) => void
  'connection-close': (event: { code: number, reason: string }, provider: WeftProvider) => void
  'connection-error': (event: { code: number, reason: string }, provider: WeftProvider) => void
  'transport-change': (event: { transport: TransportName, previous: TransportName | null }) => void
  'permission-denied': (event: { reason: string }) => void
}

export class WeftProvider extends ObservableV2<WeftProviderEvents> {
  readonly doc: Y.Doc
  readonly awareness: awarenessProtocol.Awareness
  readonly roomname: string
  readonly serverUrl: string
  params: Record<string, string>
  /** Whether the provider wants to be connected (false after disconnect() or a stopping close code). */
  shouldConnect = false
  status: ProviderStatus = 'disconnected'
  /** The tier in use (or last used), null before the first connection. */
  transport: TransportName | null = null
  /** Why the provider stopped, when a close code told it to (4400, 4403, 1009, 1000). */
  stopped: { code: number, reason: string } | null = null
  readonly bcconnected = false
  private _synced = false
  private live: Live | null = null
  private probe: Live | null = null
  private readonly tiers: TierPolicy
  private readonly backoff: Backoff
  private reconnectTimer: ReturnType<typeof setTimeout> | null = null
  private opening = false
  private probeTimer: ReturnType<typeof setTimeout> | null = null
  private readonly sessionId = randomId()
  private readonly o: Required<Pick<WeftProviderOptions, 'openTimeoutMs' | 'pollTimeoutS'>>
  private readonly WebSocketImpl: typeof WebSocket | undefined
  private readonly fetchImpl: typeof fetch
  private readonly getToken: (() => string | Promise<string>) | undefined
  private readonly wsBase: string
  private destroyed = false

  constructor (serverUrl: string, roomname: string, doc: Y.Doc, options: WeftProviderOptions = {}) {
    super()
    this.serverUrl = serverUrl.replace(/\/+$/, '')
    this.roomname = roomname
    this.doc = doc
    this.awareness = options.awareness ?? new awarenessProtocol.Awareness(doc)
    this.params = { ...options.params }
    const tiers = (options.transports ?? ['websocket', 'sse', 'poll']).filter(t => t in factories)
    if (tiers.length === 0) throw new TypeError('WeftProvider: transports must name at least one of websocket, sse, poll')
    this.tiers = new TierPolicy(tiers, {
      cutWindowMs: options.cutWindowMs ?? 30_000,
      maxCuts: options.maxCuts ?? 3,
      probeAfterMs: options.probeAfterMs ?? 30_000,
      maxProbeAfterMs: options.maxProbeAfterMs ?? 300_000
    })
    this.backoff = new Backoff({ maxMs: options.maxBackoffTime ?? 10_000, ...options.backoff })
    this.o = {
      openTimeoutMs: options.openTimeoutMs ?? 10_000,
      pollTimeoutS: Math.min(55, options.pollTimeoutS ?? 25)
    }
    // Read at construction so a page that disables WebSocket later is not surprised mid-way.
    this.WebSocketImpl = options.WebSocketPolyfill ?? (globalThis as { WebSocket?: typeof WebSocket }).WebSocket ?? undefined
    const f = options.fetch ?? globalThis.fetch
    this.fetchImpl = (input, init) => f(input, init) // unbound window.fetch throws "Illegal invocation"
    this.getToken = options.getToken
    this.wsBase = wsBase((options.wsUrl ?? this.serverUrl).replace(/\/+$/, ''))
    doc.on('update', this.onDocUpdate)
    this.awareness.on('update', this.onAwarenessUpdate)
    // In a browser, a closing tab says goodbye (as y-websocket does) instead of lingering in
    // everyone's presence list until the server notices.
    ;(globalThis as { addEventListener?: (type: string, fn: () => void) => void }).addEventListener?.('pagehide', this.onPageHide)
    if (options.connect !== false) this.connect()
  }

  /** y-websocket compatibility: the WebSocket URL of the doc. */
  get url (): string { return `${this.wsBase}/${this.roomname}` }
  get wsconnected (): boolean { return this.status === 'connected' }
  get wsconnecting (): boolean { return this.status === 'connecting' }

  get synced (): boolean { return this._synced }
  set synced (state: boolean) {
    if (this._synced === state) return
    this._synced = state
    this.emit('synced', [state])
    this.emit('sync', [state])
  }

  connect (): void {
    if (this.destroyed) return
    this.shouldConnect = true
    this.stopped = null
    if (this.live == null && this.reconnectTimer == null) void this.openNext()
  }

  disconnect (): void {
    this.shouldConnect = false
    this.clearTimers()
    this.closeProbe()
    const live = this.live
    if (live != null) {
      this.live = null
      this.dropLive(live)
      this.afterClose({ code: CloseCode.normal, reason: 'disconnect()' })
    }
  }

  override destroy (): void {
    if (this.destroyed) return
    // Tell the others we left while a transport can still say so.
    if (this.awareness.getLocalState() !== null) awarenessProtocol.removeAwarenessStates(this.awareness, [this.doc.clientID], 'app closed')
    this.disconnect()
    this.destroyed = true
    this.backoff.dispose()
    this.doc.off('update', this.onDocUpdate)
    this.awareness.off('update', this.onAwarenessUpdate)
    ;(globalThis as { removeEventListener?: (type: string, fn: () => void) => void }).removeEventListener?.('pagehide', this.onPageHide)
    super.destroy()
  }

  private readonly onPageHide = (): void => {
    if (this.awareness.getLocalState() !== null) awarenessProtocol.removeAwarenessStates(this.awareness, [this.doc.clientID], 'window unload')
  }

  // ---- local changes ------------------------------------------------------------------------

  private readonly onDocUpdate = (update: Uint8Array, origin: unknown): void => {
    if (origin === this) return
    this.live?.transport.sendUpdate(update)
  }

  private readonly onAwarenessUpdate = ({ added, updated, removed }: { added: number[], updated: number[], removed: number[] }, origin: unknown): void => {
    if (origin === this) return
    const id = this.doc.clientID
    if (added.includes(id) || updated.includes(id) || removed.includes(id)) this.live?.transport.sendAwareness()
  }

  // ---- tier selection ------------------------------------------------------------------------

  private async openNext (): Promise<void> {
    this.reconnectTimer = null
    // `opening`: a connect() during the token refresh below must not start a second transport.
    if (!this.shouldConnect || this.destroyed || this.live != null || this.opening) return
    const name = this.tiers.next()
    // Every tier failed to open: the server or the network is down, not a tier. Retry all later.
    if (name === null) return this.scheduleReconnect(false)
    if (this.getToken !== undefined && this.params.token === undefined) {
      this.opening = true
      try { await this.refreshToken() } finally { this.opening = false }
    }
    if (!this.shouldConnect || this.destroyed || this.live != null) return
    this.setStatus('connecting')
    this.live = this.start(name, false)
  }

  private start (name: TransportName, isProbe: boolean): Live {
    const live: Live = { name, transport: null as unknown as Transport, opened: false, openTimer: null }
    const ctx: TransportContext = {
      doc: this.doc,
      awareness: this.awareness,
      docName: this.roomname,
      httpBase: httpBase(this.serverUrl),
      wsBase: this.wsBase,
      params: this.params,
      sessionId: this.sessionId,
      origin: this,
      WebSocket: this.WebSocketImpl,
      fetch: this.fetchImpl,
      pollTimeoutS: this.o.pollTimeoutS,
      probe: isProbe
    }
    // Leaving the HTTP tiers: end the HTTP session now (however its last transport ended), so
    // the WebSocket session may claim our awareness id instead of waiting for the idle timeout.
    if (name === 'websocket' && !isProbe && (this.transport === 'sse' || this.transport === 'poll')) endSession(ctx)
    live.openTimer = setTimeout(() => {
      live.openTimer = null
      if (live.opened) return
      live.transport.close()
      if (isProbe) this.onProbeClosed(live)
      else this.onClosed(live, { code: ABNORMAL_CLOSURE, reason: `${name} did not open within ${this.o.openTimeoutMs} ms` })
    }, this.o.openTimeoutMs)
    live.transport = factories[name](ctx, isProbe
      ? {
          // A probe only proves the tier opens; it is closed at once and the provider moves up.
          open: () => { this.onProbeOpened(live) },
          synced () {},
          close: () => { this.onProbeClosed(live) }
        }
      : {
          open: () => { this.onOpened(live) },
          synced: () => {
            if (this.live !== live) return
            this.synced = true
            // Once more after the handshake: on a tier switch the previous session may still
            // have held our awareness id when the transport first sent it.
            if (this.awareness.getLocalState() !== null) live.transport.sendAwareness()
          },
          permissionDenied: reason => { this.emit('permission-denied', [{ reason }]) },
          close: (code, reason) => { this.onClosed(live, { code, reason }) }
        })
    return live
  }

  private onOpened (live: Live): void {
    if (this.live !== live || live.opened) return
    live.opened = true
    if (live.openTimer != null) { clearTimeout(live.openTimer); live.openTimer = null }
    this.tiers.opened(live.name)
    this.backoff.opened()
    const previous = this.transport
    this.transport = live.name
    this.setStatus('connected')
    if (previous !== live.name) this.emit('transport-change', [{ transport: live.name, previous }])
    this.scheduleProbe()
  }

  private onClosed (live: Live, event: { code: number, reason: string }): void {
    if (this.live !== live) return
    this.live = null
    this.dropLive(live)
    this.afterClose(event)
    if (!this.shouldConnect) return
    if (!live.opened) {
      const advice = closeAdvice(event.code)
      if (advice === 'stop' || advice === 'refresh-token' || advice === 'reconnect-slowly') return this.follow(advice, event, live)
      // Failed to open: try the next tier now, no backoff (the network may block this one).
      this.tiers.failedToOpen(live.name)
      return void this.openNext()
    }
    this.follow(closeAdvice(event.code), event, live)
  }

  private follow (advice: ReturnType<typeof closeAdvice>, event: { code: number, reason: string }, live: Live): void {
    switch (advice) {
      case 'stop':
        return this.stop(event)
      case 'refresh-token':
        if (this.getToken === undefined) return this.stop(event)
        delete this.params.token
        return this.scheduleReconnect(false)
      case 'reconnect-slowly':
        return this.scheduleReconnect(true)
      case 'reconnect':
        if (live.opened) this.tiers.cut(live.name)
        return this.scheduleReconnect(false)
    }
  }

  /** A close code said stop (or a token is needed and nobody can give one). */
  private stop (event: { code: number, reason: string }): void {
    this.shouldConnect = false
    this.stopped = event
    this.clearTimers()
    this.closeProbe()
    this.emit('connection-error', [event, this])
  }

  private scheduleReconnect (slow: boolean): void {
    if (this.reconnectTimer != null || !this.shouldConnect) return
    this.reconnectTimer = setTimeout(() => { void this.openNext() }, this.backoff.next(slow))
  }

  private async refreshToken (): Promise<void> {
    try {
      const token = await this.getToken!()
      if (typeof token === 'string' && token !== '') this.params.token = token
    } catch {
      // No token now: the server answers 401 and we come back here after a backoff.
    }
  }

  // ---- probing back up ----------------------------------------------------------------------

  /** Schedules a probe of the best abandoned tier above the current one. */
  private scheduleProbe (): void {
    if (this.probeTimer != null || this.live == null) return
    const next = this.tiers.nextProbe(this.live.name)
    if (next == null) return
    this.probeTimer = setTimeout(() => {
      this.probeTimer = null
      const live = this.live
      if (live == null || !live.opened || this.probe != null || !this.shouldConnect) return
      const again = this.tiers.nextProbe(live.name)
      if (again == null) return
      if (again.inMs > 0) return this.scheduleProbe()
      this.probe = this.start(again.tier, true)
    }, next.inMs)
  }

  private onProbeOpened (probe: Live): void {
    if (this.probe !== probe) return
    this.closeProbe()
    this.tiers.restored(probe.name)
    const live = this.live
    if (live == null || !this.shouldConnect) return
    // Move up: close the current tier and open the probed one with a full handshake, which
    // sends whatever the server lacks (edits made during the switch included).
    this.live = null
    this.dropLive(live)
    this.synced = false
    this.setStatus('connecting')
    this.live = this.start(probe.name, false)
  }

  private onProbeClosed (probe: Live): void {
    if (this.probe !== probe) return
    this.closeProbe()
    this.tiers.abandon(probe.name)
    this.scheduleProbe()
  }

  private closeProbe (): void {
    const p = this.probe
    if (p == null) return
    this.probe = null
    if (p.openTimer != null) clearTimeout(p.openTimer)
    p.transport.close()
  }

  // ---- bookkeeping ----------------------------------------------------------------------------

  private dropLive (live: Live): void {
    if (live.openTimer != null) { clearTimeout(live.openTimer); live.openTimer = null }
    live.transport.close()
    if (live.opened) this.backoff.closed()
  }

  private afterClose (event: { code: number, reason: string }): void {
    this.synced = false
    // As y-websocket: remote awareness states are unknown while disconnected.
    const others = [...this.awareness.getStates().keys()].filter(id => id !== this.doc.clientID)
    if (others.length > 0) awarenessProtocol.removeAwarenessStates(this.awareness, others, this)
    this.setStatus('disconnected')
    this.emit('connection-close', [event, this])
  }

  private setStatus (status: ProviderStatus): void {
    if (this.status === status) return
    this.status = status
    this.emit('status', [{ status }])
  }

  private clearTimers (): void {
    if (this.reconnectTimer != null) { clearTimeout(this.reconnectTimer); this.reconnectTimer = null }
    if (this.probeTimer != null) { clearTimeout(this.probeTimer); this.probeTimer = null }
  }
}

function httpBase (url: string): string { return url.replace(/^ws(s?):\/\//, 'http$1://') }
function wsBase (url: string): string { return url.replace(/^http(s?):\/\//, 'ws$1://') }

function randomId (): string {
  const bytes = new Uint8Array(16)
  globalThis.crypto.getRandomValues(bytes)
  let s = ''
  for (const b of bytes) s += 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_'[b & 63]
  return s
}
