/**
 * The editor page's link to the server, behind one small interface so the provider underneath
 * can change in one line: the stock y-websocket `WebsocketProvider` (WebSocket only) or Weft's
 * own `WeftProvider` (WebSocket → SSE + POST → long poll). The page only needs awareness,
 * connection status, sync state and the current transport.
 */
import type * as Y from 'yjs'
import type { Awareness } from 'y-protocols/awareness'
import { WebsocketProvider } from 'y-websocket'

export type Status = 'connecting' | 'connected' | 'disconnected'

export interface Connection {
  readonly awareness: Awareness
  readonly status: Status
  readonly synced: boolean
  /** The tier in use: 'websocket', 'sse', 'poll' (WeftProvider) — 'websocket' for the stock provider. */
  readonly transport: string
  /** Called on any change of status, sync state or transport. Returns an unsubscribe function. */
  onChange (fn: () => void): () => void
  destroy (): void
}

/**
 * `httpBase` is where the Weft routes are mounted (e.g. `http://host:1234` or `…/collab`);
 * `token`, when the server has auth, goes along as `?token=` (the one place a browser
 * WebSocket can carry it besides a cookie or subprotocol).
 */
export function connect (httpBase: string, docName: string, ydoc: Y.Doc, token?: string): Connection {
  // WebSocket upgrades are served on every path of the server, whatever the HTTP mount point.
  const origin = new URL(httpBase)
  const wsBase = `${origin.protocol === 'https:' ? 'wss:' : 'ws:'}//${origin.host}`
  // y-websocket appends the room name to the URL as is: encode it so `a/b`, `50%` or `#x`
  // reach the server as the one doc name the server percent-decodes.
  const params: Record<string, string> = token !== undefined ? { token } : {}
  const provider = new WebsocketProvider(wsBase, encodeURIComponent(docName), ydoc, { disableBc: true, params })

  let status: Status = 'connecting'
  const listeners = new Set<() => void>()
  const changed = (): void => { for (const fn of listeners) fn() }
  const onStatus = (event: { status: Status }): void => { status = event.status; changed() }
  provider.on('status', onStatus)
  provider.on('sync', changed)

  return {
    awareness: provider.awareness,
    get status () { return status },
    get synced () { return provider.synced },
    get transport () { return 'websocket' },
    onChange (fn) {
      listeners.add(fn)
      return () => listeners.delete(fn)
    },
    destroy () {
      provider.off('status', onStatus)
      provider.off('sync', changed)
      listeners.clear()
      provider.destroy()
    }
  }
}
