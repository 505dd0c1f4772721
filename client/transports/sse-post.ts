/**
 * Tier 2: Server-Sent Events down, POST up — for networks that break WebSockets but pass
 * ordinary HTTP. Handshake by state vector (a zero-timeout poll), then the SSE stream resumes
 * from the handshake's cursor, so nothing between the two is missed and nothing is sent twice.
 * The stream names our HTTP session so the server does not echo our own updates back.
 */
import * as Y from 'yjs'
import * as awarenessProtocol from 'y-protocols/awareness'
import { base64ToBytes } from '../../shared/base64.js'
import { CloseCode } from '../../shared/close-codes.js'
import { readSse, type SseMessage } from '../sse-reader.js'
import { docUrl, handshake } from './http.js'
import { HttpTier } from './http-tier.js'
import { ABNORMAL_CLOSURE, type Transport, type TransportContext, type TransportEvents } from './types.js'

export function ssePostTransport (ctx: TransportContext, events: TransportEvents): Transport {
  const tier = new HttpTier(ctx, events)
  const { abort } = tier

  const onMessage = (m: SseMessage): void => {
    if (tier.ended) return
    let data: { update?: string, stateVector?: string }
    try {
      data = JSON.parse(m.data)
      switch (m.event) {
        case 'update':
          if (data.update !== undefined) Y.applyUpdate(ctx.doc, base64ToBytes(data.update), ctx.origin)
          break
        case 'snapshot':
        case 'reset': {
          // Our cursor was not usable after all (e.g. the server restarted with memory storage):
          // a full state, and we send what it lacks.
          if (data.update !== undefined) Y.applyUpdate(ctx.doc, base64ToBytes(data.update), ctx.origin)
          if (data.stateVector !== undefined) tier.sendMissing(base64ToBytes(data.stateVector))
          break
        }
        case 'awareness':
          if (data.update !== undefined) awarenessProtocol.applyAwarenessUpdate(ctx.awareness, base64ToBytes(data.update), ctx.origin)
          break
        case 'deleted':
          // As a WebSocket's 4410: the provider stops (its content is refused from now on).
          tier.end(CloseCode.docDeleted, 'doc deleted')
          break
      }
    } catch (err) {
      tier.malformed(`bad event from server: ${(err as Error).message}`)
    }
  }

  void (async () => {
    try {
      const { answer, serverSv } = await handshake(ctx, abort.signal)
      if (tier.ended) return
      tier.goLive(serverSv)
      let opened = false
      const url = docUrl(ctx, 'events', { cursor: answer.cursor })
      await readSse(ctx.fetch, url, { signal: abort.signal }, {
        open () {
          opened = true
          events.open()
          events.synced()
        },
        message: onMessage
      }, { idleTimeoutMs: 45_000 })
      // The server (or a proxy) ended the stream: reconnect.
      tier.end(opened ? CloseCode.goingAway : ABNORMAL_CLOSURE, 'stream ended')
    } catch (err) {
      if (!tier.ended) tier.fail(err)
    }
  })()

  return tier.transport('sse')
}
