/**
 * An open SSE stream holds its socket and nothing of the HTTP exchange that opened it
 * (server/transports/http-takeover.ts): Node's parser is freed, the response lets go of the
 * socket, and what waited for the response's `close` (the per-address stream slot, an HTTP
 * editor's hold, an embedder's middleware) still runs when the stream ends. Served by
 * `attach()`'s own app and by `weft.router` mounted in an embedder's Express app alike.
 */
import { describe, expect, it } from 'vitest'
import { connect, type Socket } from 'node:net'
import { cleanupAfterEach, startMounted, startServer, type TestServer } from '../helpers/server.js'
import { stockClient, synced } from '../helpers/providers.js'
import { openSse, type SseClient } from '../helpers/sse.js'
import { waitFor } from '../helpers/wait.js'
import { memoryStorage } from '../../server/storage/memory.js'

type ServerSocket = Socket & { parser?: unknown, _httpMessage?: unknown }

describe('SSE streams own their sockets', () => {
  const cleanups = cleanupAfterEach()
  function track (s: TestServer): ServerSocket[] {
    const sockets: ServerSocket[] = []
    s.http.on('connection', (socket: ServerSocket) => { sockets.push(socket) })
    return sockets
  }
  /** The server's end of the client's connection. */
  const serverSide = (sockets: ServerSocket[], c: SseClient): ServerSocket => {
    const port = c.res.socket.localPort
    const found = sockets.find(s => s.remotePort === port)
    if (found === undefined) throw new Error('no server socket for the stream')
    return found
  }
  const sse = async (url: string): Promise<SseClient> => {
    const c = await openSse(url)
    cleanups.push(() => c.close())
    return c
  }

  for (const mounted of [false, true]) {
    const where = mounted ? 'weft.router mounted in an embedder\'s Express app' : 'attach()'
    it(`${where}: the stream is served from a socket Node's HTTP server no longer holds; everything waiting on the response runs when it ends`, async () => {
      const closedByMiddleware: string[] = []
      const options = { storage: memoryStorage(), maxObserversPerIp: 1, sseKeepaliveMs: 50 }
      const s = mounted
        ? await startMounted(options, '/collab', app => {
          // An embedder's middleware waiting for the end of every response.
          app.use((req, res, next) => { res.once('close', () => closedByMiddleware.push(req.url)); next() })
        })
        : await startServer(options)
      cleanups.push(() => s.close())
      const sockets = track(s)
      const base = mounted ? `${s.url}/collab` : s.url

      const c = await sse(`${base}/docs/taken/events`)
      expect(c.status).toBe(200)
      await c.next(e => e.event === 'snapshot', 'snapshot')
      const socket = serverSide(sockets, c)
      expect(socket.parser).toBeNull()
      expect(socket._httpMessage).toBeNull()

      // Live: an edit arrives, and so do keepalives.
      const editor = stockClient(s.wsUrl, 'taken')
      cleanups.push(() => editor.destroy())
      await synced(editor)
      editor.text.insert(0, 'hello')
      await c.next(e => e.event === 'update', 'the edit')
      const comments = c.comments.length
      await waitFor(() => c.comments.length > comments + 1, 'keepalives')

      // The per-address slot (a listener on the response's close) is held while it streams…
      expect((await openSse(`${base}/docs/taken/events`).then(x => { x.close(); return x.status }))).toBe(429)
      expect(closedByMiddleware.filter(u => u.includes('/events'))).toHaveLength(mounted ? 1 : 0) // the 429's own close
      // …and freed when the client goes, with the observer, its feed and the embedder's hook.
      c.close()
      await waitFor(() => s.weft.context.limits.stats().observers === 0, 'the stream slot to be freed')
      await waitFor(() => socket.destroyed, 'the server side to close')
      expect(s.weft.context.registry.holders('taken')).toBe(1) // the editor only
      if (mounted) await waitFor(() => closedByMiddleware.filter(u => u.includes('/events')).length === 2, 'the middleware to see the stream end')
      const again = await sse(`${base}/docs/taken/events`)
      expect(again.status).toBe(200)
      await again.next(e => e.event === 'snapshot', 'a snapshot on the freed slot')

      // The server ends a taken stream cleanly (EventSource resumes): the client sees the end.
      expect(s.weft.disconnect({ doc: 'taken' })).toBeGreaterThanOrEqual(1)
      await waitFor(() => again.ended, 'the stream to end')
      await waitFor(() => s.weft.context.limits.stats().observers === 0, 'its slot to be freed')
      // Node's connection list holds no parser of a taken socket (closeAllConnections in close()).
      s.http.closeAllConnections()
    })
  }

  it('a request pipelined behind a stream (EventSource never does that) drops the connection; nothing is left held', async () => {
    const s = await startServer({ storage: memoryStorage() })
    cleanups.push(() => s.close())
    const client = connect(s.port, '127.0.0.1')
    cleanups.push(() => client.destroy())
    let received = ''
    let closed = false
    client.on('data', (d: Buffer) => { received += d.toString() })
    client.on('close', () => { closed = true })
    client.on('error', () => {})
    const get = 'GET /docs/piped/events HTTP/1.1\r\nHost: x\r\nAccept: text/event-stream\r\n\r\n'
    client.write(get + get)
    await waitFor(() => closed, 'the connection to be dropped')
    // At most the first stream's opening went out, never a second stream's bytes.
    expect(received.split('HTTP/1.1').length).toBeLessThanOrEqual(2)
    await waitFor(() => s.weft.context.registry.holders('piped') === 0, 'the doc to be let go', 5000)
    await waitFor(() => s.weft.context.limits.stats().observers === 0, 'every stream slot to be freed', 5000)
    expect(s.weft.stats().peers).toBe(0)
    s.http.closeAllConnections()
  })

  it('an HTTP editor\'s stream keeps its session alive until the stream ends', async () => {
    const s = await startServer({ storage: memoryStorage(), httpSessionIdleMs: 100 })
    cleanups.push(() => s.close())
    const id = 'takeover-session-1'
    const c = await sse(`${s.url}/docs/ed/events?session=${id}`)
    await c.next(e => e.event === 'snapshot', 'snapshot')
    const sessions = s.weft.context.registry.get('ed')!.peers.size
    expect(sessions).toBe(2) // the session and its stream
    await new Promise(resolve => setTimeout(resolve, 300))
    expect(s.weft.context.registry.get('ed')!.peers.size).toBe(2) // held by the stream past its idle time
    c.close()
    await waitFor(() => (s.weft.context.registry.get('ed')?.peers.size ?? 0) === 0, 'the session to end after its stream')
  })
})
