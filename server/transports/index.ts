/**
 * Every transport of a Weft instance, built once, in one place: the WebSocket server, the SSE
 * streams, the HTTP editor sessions and the long-poll hubs. Weft holds this list, hands the
 * instances to the routes that serve them, and closes them in order on shutdown.
 */
import type { WeftContext } from '../context.js'
import { IpRateLimiter } from '../limits/ip-rate.js'
import { HttpSessions } from './http-session.js'
import { PollHubs } from './long-poll.js'
import { createSseTransport, type SseTransport } from './sse.js'
import { createWebSocketTransport, type WebSocketTransport } from './websocket.js'

export interface Transports {
  websocket: WebSocketTransport
  sse: SseTransport
  /** HTTP editors (SSE + POST and long poll): one editor session per (doc, session id). */
  sessions: HttpSessions
  polls: PollHubs
  /** Requests per second per address on the HTTP doc routes (`maxRequestsPerSecondPerIp`). */
  requestsPerIp: IpRateLimiter
  /**
   * Shutdown, once new peers are refused (`ctx.closing`): sockets closed with 1012, streams
   * ended, held polls answered 503, all at once; then the HTTP sessions leave their docs. The
   * docs are flushed after this (the registry's close), so nothing stored is lost.
   */
  close (): Promise<void>
}

export function createTransports (ctx: WeftContext): Transports {
  const websocket = createWebSocketTransport(ctx)
  const sse = createSseTransport(ctx)
  const sessions = new HttpSessions(ctx)
  const polls = new PollHubs(ctx)
  const perSecond = ctx.options.maxRequestsPerSecondPerIp
  const requestsPerIp = new IpRateLimiter(perSecond, perSecond * 3)
  let closing: Promise<void> | null = null
  return {
    websocket,
    sse,
    sessions,
    polls,
    requestsPerIp,
    close () {
      closing ??= (async () => {
        await Promise.all([websocket.close(), sse.close(), polls.close()])
        sessions.close()
        requestsPerIp.close()
      })()
      return closing
    }
  }
}
