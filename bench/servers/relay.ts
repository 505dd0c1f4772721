/**
 * The WebSocket limit: a room is the URL path, and every binary message is forwarded as-is to
 * the other sockets of the room. No Yjs, no storage, no echo. What any sync server costs above
 * this is the price of its Yjs work, storage and bookkeeping.
 */
import { createServer } from 'node:http'
import { WebSocketServer, type WebSocket } from 'ws'

const port = Number(process.argv[process.argv.indexOf('--port') + 1])
const rooms = new Map<string, Set<WebSocket>>()
const server = createServer((_req, res) => { res.writeHead(200).end('relay') })
const wss = new WebSocketServer({ server, perMessageDeflate: false, clientTracking: false })

wss.on('connection', (ws, req) => {
  const name = req.url ?? '/'
  let room = rooms.get(name)
  if (room === undefined) rooms.set(name, room = new Set())
  room.add(ws)
  ws.on('message', (data, isBinary) => {
    for (const peer of room) {
      if (peer !== ws && peer.readyState === peer.OPEN) peer.send(data, { binary: isBinary })
    }
  })
  ws.on('error', () => {})
  ws.on('close', () => {
    room.delete(ws)
    if (room.size === 0) rooms.delete(name)
  })
})

server.listen(port, '127.0.0.1', () => { process.stdout.write(`listening on http://127.0.0.1:${port}\n`) })
process.on('SIGTERM', () => process.exit(0))
