/**
 * The seam between the provider and a transport tier. A transport moves one editor's sync
 * traffic over one kind of pipe and does its own state-vector handshake on open; the provider
 * picks tiers, reconnects, and owns the Y.Doc and awareness. Transports never retry: they
 * report `close` once and the provider decides what happens next.
 */
import type * as Y from 'yjs'
import type { Awareness } from 'y-protocols/awareness'

export type TransportName = 'websocket' | 'sse' | 'poll'

/** Close code for "the connection dropped or never opened" (no close frame): the WebSocket 1006. */
export const ABNORMAL_CLOSURE = 1006

export interface TransportContext {
  doc: Y.Doc
  awareness: Awareness
  /** The doc name, as the server knows it. */
  docName: string
  /** http(s)://host[:port][/mount] */
  httpBase: string
  /** ws(s)://host[:port][/mount] */
  wsBase: string
  /** Query parameters for every request (includes `token` when there is one). */
  params: Record<string, string>
  /** HTTP session id: pins this editor's awareness ids across its HTTP requests. */
  sessionId: string
  /** Origin of every change a transport applies to the doc or awareness (the provider). */
  origin: unknown
  WebSocket: typeof WebSocket | undefined
  fetch: typeof fetch
  /** How long a long poll may be held by the server (s). */
  pollTimeoutS: number
  /**
   * A probe only checks that the tier opens: it sends no awareness and leaves the HTTP
   * session alone (the tier in use shares it).
   */
  probe: boolean
}

export interface TransportEvents {
  /** The pipe works (socket open / stream or handshake answered). */
  open (): void
  /** The state-vector handshake is done: the doc has everything the server had. */
  synced (): void
  /** The server refused a write (read-only access). */
  permissionDenied? (reason: string): void
  /** The transport ended (once). `code` uses the WebSocket close codes (shared/close-codes). */
  close (code: number, reason: string): void
}

export interface Transport {
  readonly name: TransportName
  /** A local Yjs update. Dropped before the handshake (the handshake sends what is missing). */
  sendUpdate (update: Uint8Array): void
  /** The local awareness state changed. */
  sendAwareness (): void
  /** Ends the transport; no `close` event follows a local close. Idempotent. */
  close (): void
}

export type TransportFactory = (ctx: TransportContext, events: TransportEvents) => Transport
