/**
 * The editor page's link to the server, behind one small interface so the provider underneath
 * can change in one place: Weft's own `WeftProvider` (WebSocket → SSE + POST → long poll, so
 * the page keeps editing behind proxies that break WebSockets). The stock y-websocket
 * `WebsocketProvider` fits the same interface (transport always 'websocket'). The page only
 * needs awareness, connection status, sync state and the current transport.
 */
import type * as Y from 'yjs'
import type { Awareness } from 'y-protocols/awareness'
import { WeftProvider } from '../index.js'

export type Status = 'connecting' | 'connected' | 'disconnected'

export interface Connection {
  readonly awareness: Awareness
  readonly status: Status
  readonly synced: boolean
  /** The tier in use: 'websocket', 'sse' or 'poll'; '—' before the first connection. */
  readonly transport: string
  /** Called on any change of status, sync state or transport. Returns an unsubscribe function. */
  onChange (fn: () => void): () => void
  destroy (): void
}

/**
 * `httpBase` is where the Weft routes are mounted (e.g. `http://host:1234`); `token`, when the
 * server has auth, goes along as `?token=` on every request.
 */
export function connect (httpBase: string, docName: string, ydoc: Y.Doc, token?: string): Connection {
  const params: Record<string, string> = token !== undefined ? { token } : {}
  // WebSocket upgrades are served on every path of the server (the path is the doc name), so
  // when the routes are mounted under a prefix (`app.use('/collab', weft.router)`) a WebSocket
  // to `<base>/<doc>` would name another doc. WeftProvider derives both URLs from one base, so
  // a mounted page uses the HTTP tiers only (see the report: a `wsUrl` option would fix this).
  const mounted = new URL(httpBase).pathname.replace(/\/+$/, '') !== ''
  // WeftProvider takes the doc name as is and encodes it per transport.
  const provider = new WeftProvider(httpBase, docName, ydoc, { params, ...(mounted ? { transports: ['sse', 'poll'] } : {}) })

  let status: Status = provider.status
  const listeners = new Set<() => void>()
  const changed = (): void => { for (const fn of listeners) fn() }
  const onStatus = (event: { status: Status }): void => { status = event.status; changed() }
  provider.on('status', onStatus)
  provider.on('sync', changed)
  provider.on('transport-change', changed)

  return {
    awareness: provider.awareness,
    get status () { return status },
    get synced () { return provider.synced },
    get transport () { return provider.transport ?? '—' },
    onChange (fn) {
      listeners.add(fn)
      return () => listeners.delete(fn)
    },
    destroy () {
      provider.off('status', onStatus)
      provider.off('sync', changed)
      provider.off('transport-change', changed)
      listeners.clear()
      provider.destroy()
    }
  }
}
