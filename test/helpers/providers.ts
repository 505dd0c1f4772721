/** The stock y-websocket provider as a test client (the npm package, unchanged). */
import * as Y from 'yjs'
import { WebsocketProvider } from 'y-websocket'
import WebSocket from 'ws'
import { waitFor } from './wait.js'

// Each stock provider adds a process 'exit' listener in Node; tests open many at once.
process.setMaxListeners(0)

export interface StockClient {
  doc: Y.Doc
  provider: WebsocketProvider
  text: Y.Text
  destroy (): void
}

export function stockClient (wsUrl: string, docName: string, opts: { connect?: boolean, params?: Record<string, string> } = {}): StockClient {
  const doc = new Y.Doc()
  const provider = new WebsocketProvider(wsUrl, docName, doc, {
    WebSocketPolyfill: WebSocket as unknown as typeof globalThis.WebSocket,
    disableBc: true,
    connect: opts.connect ?? true,
    params: opts.params ?? {},
    maxBackoffTime: 500
  })
  return {
    doc,
    provider,
    text: doc.getText('text'),
    destroy () {
      provider.destroy()
      doc.destroy()
    }
  }
}

export async function synced (...clients: StockClient[]): Promise<void> {
  await waitFor(() => clients.every(c => c.provider.synced), 'providers to sync')
}
