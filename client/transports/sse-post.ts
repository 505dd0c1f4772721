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
import { readSse, SseStatusError, type SseMessage } from '../sse-reader.js'
import { AwarenessUploader, closeCodeForStatus, docUrl, endSession, handshake, HttpCloseError, missingFor, Uploader } from './http.js'
import { ABNORMAL_CLOSURE, type Transport, type TransportContext, type TransportEvents } from './types.js'

export function ssePostTransport (ctx: TransportContext, events: TransportEvents): Transport {
  const abort = new AbortController()
  let ended = false
  let live = false
  const end = (code: number, reason: string): void => {
    if (ended) return
    ended = true
    live = false
    uploads.stop()
    awarenessUploads.stop()
    abort.abort()
    events.close(code, reason)
  }
  const fail = (err: unknown): void => {
    if (err instanceof HttpCloseError) return end(err.code, err.message)
    if (err instanceof SseStatusError) return end(closeCodeForStatus(err.status), err.message)
    end(ABNORMAL_CLOSURE, (err as Error)?.message ?? 'stream failed')
  }
  const uploads = new Uploader(ctx, fail, reason => events.permissionDenied?.(reason))
  const awarenessUploads = new AwarenessUploader(ctx, fail)

  const onMessage = (m: SseMessage): void => {
    if (ended) return
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
          const missing = data.stateVector === undefined ? null : missingFor(ctx.doc, base64ToBytes(data.stateVector))
          if (missing != null) uploads.push(missing)
          break
        }
        case 'awareness':
          if (data.update !== undefined) awarenessProtocol.applyAwarenessUpdate(ctx.awareness, base64ToBytes(data.update), ctx.origin)
          break
      }
    } catch (err) {
      end(CloseCode.malformed, `bad event from server: ${(err as Error).message}`)
    }
  }

  void (async () => {
    try {
      const { answer, serverSv } = await handshake(ctx, abort.signal)
      if (ended) return
      const missing = missingFor(ctx.doc, serverSv)
      live = true // from here on local updates are posted; everything before is in `missing`
      if (missing != null) uploads.push(missing)
      if (ctx.awareness.getLocalState() !== null && !ctx.probe) awarenessUploads.push()
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
      end(opened ? CloseCode.goingAway : ABNORMAL_CLOSURE, 'stream ended')
    } catch (err) {
      if (!ended) fail(err)
    }
  })()

  return {
    name: 'sse',
    sendUpdate (update) { if (live) uploads.push(update) },
    sendAwareness () { if (live) awarenessUploads.push() },
    close () {
      if (ended) return
      ended = true
      live = false
      uploads.stop()
      awarenessUploads.stop()
      abort.abort()
      if (!ctx.probe) endSession(ctx)
    }
  }
}
