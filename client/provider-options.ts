/**
 * The options and events of WeftProvider (client/provider.ts): y-websocket's, plus the
 * transport fallback's.
 */
import type * as awarenessProtocol from 'y-protocols/awareness'
import type { BackoffOptions } from './backoff.js'
import type { TransportName } from './transports/types.js'

export interface WeftProviderOptions {
  /** Connect at once. @default true */
  connect?: boolean
  awareness?: awarenessProtocol.Awareness
  /** Query parameters on every request (y-websocket's `params`). */
  params?: Record<string, string>
  /**
   * Base URL for the WebSocket tier when it differs from `serverUrl`: e.g. the HTTP routes are
   * mounted under a prefix (`app.use('/collab', weft.router)`) while upgrades are served at the
   * root, where the path is the doc name. @default serverUrl with a ws(s) scheme
   */
  wsUrl?: string
  /** Tiers to use, in order of preference. @default ['websocket', 'sse', 'poll'] */
  transports?: TransportName[]
  /** A WebSocket implementation (Node 20 has none: pass `ws`). @default globalThis.WebSocket */
  WebSocketPolyfill?: typeof WebSocket
  /** @default globalThis.fetch */
  fetch?: typeof fetch
  /** Returns a fresh token (sent as `?token=`); called before connecting and after a 4401. */
  getToken?: () => string | Promise<string>
  /** Largest reconnect delay (ms), as in y-websocket. @default 10000 */
  maxBackoffTime?: number
  /** Finer control of the reconnect schedule. */
  backoff?: BackoffOptions
  /** A tier that has not opened after this long counts as failed to open (ms). @default 10000 */
  openTimeoutMs?: number
  /** Cuts of an open tier within this window … @default 30000 */
  cutWindowMs?: number
  /** … that make the provider abandon it. @default 3 */
  maxCuts?: number
  /** First re-probe of an abandoned tier (ms); doubles after each failed probe. @default 30000 */
  probeAfterMs?: number
  /** @default 300000 */
  maxProbeAfterMs?: number
  /** Long-poll hold time asked of the server (s, max 55). @default 25 */
  pollTimeoutS?: number
}

export type ProviderStatus = 'connecting' | 'connected' | 'disconnected'
