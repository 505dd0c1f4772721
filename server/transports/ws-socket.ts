/**
 * The server's WebSocket class, given to ws as its `WebSocket` option ("must extend the
 * original"), shaped for thousands of idle connections (bench "idle"): per connection, ws'
 * own socket object kept three things nobody here needs one of each of.
 *
 * - Listeners. ws delivers frames, pings and the close by calling `emit()`; this class hands
 *   them to its `owner` (the connection, ws-connection.ts) instead. An `EventEmitter` keeps its
 *   listeners in a null-prototype object that V8 holds in dictionary mode (about 180 bytes with
 *   three entries); a socket without listeners gets a small fast-mode one. Listeners added
 *   later (the transport's shutdown waits for `close`) still work: `emit` passes events on.
 * - The extensions map: an empty `{}` per socket (and its receiver and sender) for
 *   permessage-deflate, which this server never negotiates; one frozen empty map serves all.
 * - ws' automatic pong needs a closure per socket (to count pending pongs); the server turns
 *   it off (`autoPong: false`) and the owner answers pings itself.
 *
 * `_events` and `_extensions` are not API (of Node's EventEmitter and of ws 8). What depends
 * on them is checked in test/transports/ws-socket.test.ts.
 */
import type { RawData } from 'ws'
import { WebSocket } from 'ws'

/** Who hears a socket's events (set once the connection is made). */
export interface SocketOwner {
  message (data: RawData, isBinary: boolean): void
  ping (data: Buffer): void
  socketError (err: Error): void
  socketClosed (): void
}

/**
 * An empty listener map: fast mode, no spare slots (24 bytes, where `{}` has room for four),
 * and no prototype to find `toString` or `constructor` on, as Node's own `{ __proto__: null }`.
 */
class Listeners {}
Object.setPrototypeOf(Listeners.prototype, null)
Reflect.deleteProperty(Listeners.prototype, 'constructor')

/** Never written: ws adds to the map only on a client, or when a server negotiates deflate. */
const NO_EXTENSIONS = Object.freeze({})

interface Internals { _events: object, _extensions: object }

export class WeftSocket extends WebSocket {
  owner: SocketOwner | null = null

  // ws calls `new WebSocket(null, undefined, options)` for a server's socket.
  constructor (...args: any[]) {
    super(args[0], args[1], args[2])
    const self = this as unknown as Internals
    // Only as built by the versions this was written for (Node 20's EventEmitter, ws 8).
    if (typeof self._events === 'object' && Object.keys(self._events).length === 0) self._events = new Listeners()
    if (typeof self._extensions === 'object' && Object.keys(self._extensions).length === 0) self._extensions = NO_EXTENSIONS
  }

  override emit (event: string | symbol, ...args: any[]): boolean {
    const owner = this.owner
    if (owner !== null) {
      switch (event) {
        case 'message': owner.message(args[0] as RawData, args[1] as boolean); break
        case 'ping': owner.ping(args[0] as Buffer); break
        case 'error': owner.socketError(args[0] as Error); break
        case 'close': owner.socketClosed(); break
      }
    }
    // An 'error' nobody else listens to must not throw (EventEmitter's rule for 'error').
    if (this.listenerCount(event) === 0) return owner !== null
    return super.emit(event, ...args)
  }
}
