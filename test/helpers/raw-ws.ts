/** A raw WebSocket peer for protocol tests: send arbitrary bytes, see how the server closes. */
import WebSocket from 'ws'

export interface RawPeer {
  ws: WebSocket
  messages: Uint8Array[]
  closed: Promise<{ code: number, reason: string }>
  send (data: Uint8Array | string): void
}

export async function rawPeer (url: string, protocols?: string[]): Promise<RawPeer> {
  const ws = new WebSocket(url, protocols)
  const messages: Uint8Array[] = []
  ws.on('message', data => messages.push(new Uint8Array(data as Buffer)))
  const closed = new Promise<{ code: number, reason: string }>(resolve => {
    ws.on('close', (code, reason) => resolve({ code, reason: reason.toString() }))
  })
  await new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve())
    ws.once('error', reject)
    ws.once('unexpected-response', (_req, res) => reject(Object.assign(new Error(`HTTP ${res.statusCode}`), { status: res.statusCode })))
  })
  return { ws, messages, closed, send: data => ws.send(data) }
}

/** The HTTP status the server answers a WebSocket upgrade with, when it refuses it. */
export function upgradeStatus (url: string, headers: Record<string, string> = {}, protocols?: string[]): Promise<number> {
  return new Promise(resolve => {
    const ws = new WebSocket(url, protocols, { headers })
    ws.once('open', () => { ws.terminate(); resolve(101) })
    ws.once('unexpected-response', (_req, res) => { res.resume(); resolve(res.statusCode ?? 0) })
    ws.once('error', () => {})
  })
}
