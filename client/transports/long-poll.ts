/**
 * Tier 3: long polling down, POST up — for networks where only plain request/response gets
 * through (streamed responses are buffered or cut). Handshake by state vector, then one poll
 * in flight at a time, each resuming from the previous answer's cursor. An idle client makes
 * one request per server timeout (25 s): never a busy loop.
 */
import { CloseCode } from '../../shared/close-codes.js'
import { applyAnswer, AwarenessUploader, docUrl, endSession, handshake, HttpCloseError, missingFor, request, Uploader, type PollAnswer } from './http.js'
import { ABNORMAL_CLOSURE, type Transport, type TransportContext, type TransportEvents } from './types.js'

export function longPollTransport (ctx: TransportContext, events: TransportEvents): Transport {
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
    end(ABNORMAL_CLOSURE, (err as Error)?.message ?? 'poll failed')
  }
  const uploads = new Uploader(ctx, fail, reason => events.permissionDenied?.(reason))
  const awarenessUploads = new AwarenessUploader(ctx, fail)

  void (async () => {
    try {
      const { answer, serverSv } = await handshake(ctx, abort.signal)
      if (ended) return
      const missing = missingFor(ctx.doc, serverSv)
      live = true
      if (missing != null) uploads.push(missing)
      if (ctx.awareness.getLocalState() !== null && !ctx.probe) awarenessUploads.push()
      events.open()
      events.synced()
      let cursor = answer.cursor
      let aw = answer.aw
      while (!ended) {
        // A proxy that silently drops the held request must not hang us: give up a little
        // after the server would have answered anyway.
        const timer = setTimeout(() => abort.abort(), (ctx.pollTimeoutS + 15) * 1000)
        let res: Response
        try {
          res = await request(ctx, docUrl(ctx, 'poll', { cursor, aw, timeout: String(ctx.pollTimeoutS) }), { signal: abort.signal })
        } finally {
          clearTimeout(timer)
        }
        if (ended) return
        if (res.status === 204) continue
        const a = await res.json() as PollAnswer
        if (ended) return
        const serverState = applyAnswer(ctx, a)
        if (serverState != null) {
          const lacking = missingFor(ctx.doc, serverState)
          if (lacking != null) uploads.push(lacking)
        }
        cursor = a.cursor
        aw = a.aw
      }
    } catch (err) {
      if (!ended) fail(err instanceof SyntaxError ? new HttpCloseError(CloseCode.malformed, 'bad poll answer') : err)
    }
  })()

  return {
    name: 'poll',
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
