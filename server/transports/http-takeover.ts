/**
 * Takes a socket over from Node's HTTP server once a long-lived response's headers are out, the
 * way Node hands over the socket of an upgrade (`onParserExecuteCommon` in Node's
 * `_http_server.js`): the server's listeners come off the socket, its HTTP parser goes back to
 * the pool, the response lets go of the socket, and the request and response objects are left
 * to the garbage collector. An SSE stream (sse.ts) then holds its socket and nothing else.
 *
 * Why: a stream lives for hours and writes straight to its socket, yet Node kept per stream the
 * parser (its C++ half alone is about 1.7 KB), the IncomingMessage and ServerResponse with their
 * stream states and listeners, and — under Express, which gives every request and response a
 * hidden class of its own when it swaps their prototypes — about 2 KB of shapes more. That was
 * most of an idle observer's 11.8 KB (bench "idle"); a bare `node:http` broadcaster was 9.3 KB.
 *
 * This leans on Node internals that are not API: `socket.parser`, `socket._httpMessage`, the
 * names of the HTTP server's socket listeners and `freeParser` of `_http_common` (a legacy
 * module Node still exports). Each is checked first: when one is missing (another Node version)
 * nothing is touched, the stream goes on through the response as before, and only the memory
 * is lost. test/transports/sse-takeover.test.ts says whether the takeover works on the Node it
 * runs on.
 */
import { createRequire } from 'node:module'
import type { IncomingMessage, ServerResponse } from 'node:http'
import type { Socket } from 'node:net'

type Listener = (...args: any[]) => void
type FreeParser = (parser: unknown, req: IncomingMessage | null, socket: Socket | null) => void

interface ServerSocket extends Socket {
  parser?: { finish?: () => unknown, incoming?: unknown } | null
  _httpMessage?: ServerResponse | null
}

const freeParser = ((): FreeParser | undefined => {
  try {
    const common = createRequire(import.meta.url)('_http_common') as { freeParser?: unknown }
    return typeof common.freeParser === 'function' ? common.freeParser as FreeParser : undefined
  } catch {
    return undefined
  }
})()

/**
 * The HTTP server's listeners on a request's socket (as in Node 20), by event: `bound …` are
 * per-connection `bind`s; `pause`/`resume` are there only while the parser consumes the socket.
 */
const SERVER_LISTENERS: ReadonlyArray<[event: string, name: string, required: boolean]> = [
  ['data', 'bound socketOnData', true],
  ['end', 'bound socketOnEnd', true],
  ['close', 'bound socketOnClose', true],
  ['drain', 'bound socketOnDrain', true],
  ['error', 'socketOnError', true],
  ['timeout', 'socketOnTimeout', true],
  ['pause', 'onSocketPause', false],
  ['resume', 'onSocketResume', false]
]

/**
 * Takes `req`'s socket from the HTTP server; the response's headers must be sent. Returns the
 * `close` listeners that were waiting on the request and the response (they will not fire now:
 * call them when the socket closes), or null when the socket could not be taken (nothing was
 * changed: end the stream through `res` as usual).
 *
 * From then on the socket is the caller's: it must listen for `close` and end the socket itself
 * (`endTaken`). Nobody reads it: what the client still sends is dropped, and its end (FIN) or an
 * error destroys the socket, so `close` follows.
 */
export function takeOver (req: IncomingMessage, res: ServerResponse): Listener[] | null {
  const socket = req.socket as ServerSocket
  const parser = socket.parser
  // A request whose body is still coming (a GET may carry one) stays with Node: its parser is
  // mid-message, and freeing it then left it in the server's connection list (closeAllConnections
  // threw). So does one with a pipelined request parsed behind it (`parser.incoming` is that one).
  if (freeParser === undefined || parser == null || parser.incoming !== req || !req.complete || socket._httpMessage !== res || !res.headersSent || typeof (res as { detachSocket?: unknown }).detachSocket !== 'function') return null
  const found: Array<[string, Listener]> = []
  for (const [event, name, required] of SERVER_LISTENERS) {
    const fn = socket.listeners(event).find(l => l.name === name) as Listener | undefined
    if (fn === undefined) {
      if (required) return null
      continue
    }
    found.push([event, fn])
  }
  for (const [event, fn] of found) socket.removeListener(event, fn)
  // As the upgrade path does: the parser has seen the whole request (a GET has no body).
  parser.finish?.()
  freeParser(parser, req, socket)
  ;(res as unknown as { detachSocket: (s: Socket) => void }).detachSocket(socket)
  const closers = [...req.listeners('close'), ...res.listeners('close')] as Listener[]
  req.removeAllListeners('close')
  res.removeAllListeners('close')
  socket.on('error', destroyQuietly)
  socket.on('end', destroyOnEnd)
  // Keep reading: a client that goes away is seen at once (its FIN), not at the next write.
  socket.resume()
  return closers
}

/** Ends a taken socket after what was written to it is flushed (Node's `destroySoon`). */
export function endTaken (socket: Socket): void {
  if (socket.destroyed) return
  socket.end()
  if (socket.writableFinished) socket.destroy()
  else socket.once('finish', destroyOnEnd)
}

function destroyQuietly (this: Socket): void { this.destroy() }
function destroyOnEnd (this: Socket): void { this.destroy() }
