/**
 * The SSE limit: a bare `node:http` broadcaster. Observers hold `GET /docs/:doc/events`; a
 * writer sends y-websocket sync-update frames over a WebSocket on `/<doc>`. Each update becomes
 * one `update` event (base64 JSON, like Weft's) encoded once and written to every observer.
 * No Yjs, no storage, no resume: the floor for what an SSE fan-out can cost.
 */
import { createServer, type ServerResponse } from 'node:http'
import { WebSocketServer } from 'ws'

const port = Number(process.argv[process.argv.indexOf('--port') + 1])
const observers = new Map<string, Set<ServerResponse>>()
let seq = 0

const server = createServer((req, res) => {
  const m = /^\/docs\/([^/?]+)\/events/.exec(req.url ?? '')
  if (req.method !== 'GET' || m == null) { res.writeHead(404).end(); return }
  const doc = decodeURIComponent(m[1]!)
  res.writeHead(200, { 'Content-Type': 'text/event-stream', 'Cache-Control': 'no-cache, no-transform', 'X-Accel-Buffering': 'no' })
  res.write('retry: 1000\n\n')
  let set = observers.get(doc)
  if (set === undefined) observers.set(doc, set = new Set())
  set.add(res)
  req.on('close', () => { set.delete(res) })
})

const wss = new WebSocketServer({ server, perMessageDeflate: false, clientTracking: false })
wss.on('connection', (ws, req) => {
  const doc = decodeURIComponent((req.url ?? '/').slice(1).split('?')[0]!)
  ws.on('error', () => {})
  ws.on('message', (data: Buffer) => {
    // y-websocket sync update: [0, 2, varUint length, update]
    if (data[0] !== 0 || data[1] !== 2) return
    let i = 2
    while ((data[i]! & 0x80) !== 0) i++
    const update = data.subarray(i + 1)
    const set = observers.get(doc)
    if (set === undefined || set.size === 0) return
    const event = Buffer.from(`id: ${++seq}\nevent: update\ndata: {"update":"${update.toString('base64')}"}\n\n`)
    for (const res of set) res.write(event)
  })
})

server.listen(port, '127.0.0.1', () => { process.stdout.write(`listening on http://127.0.0.1:${port}\n`) })
process.on('SIGTERM', () => process.exit(0))
