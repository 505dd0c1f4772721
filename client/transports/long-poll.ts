/**
 * Tier 3: long polling down, POST up — for networks where only plain request/response gets
 * through (streamed responses are buffered or cut). Handshake by state vector, then one poll
 * in flight at a time, each resuming from the previous answer's cursor. An idle client makes
 * one request per server timeout (25 s): never a busy loop.
 */
import { CloseCode } from '../../shared/close-codes.js'
import { applyAnswer, docUrl, handshake, HttpCloseError, request, type PollAnswer } from './http.js'
import { HttpTier } from './http-tier.js'
import type { Transport, TransportContext, TransportEvents } from './types.js'

export function longPollTransport (ctx: TransportContext, events: TransportEvents): Transport {
  const tier = new HttpTier(ctx, events)
  const { abort } = tier

  void (async () => {
    try {
      const { answer, serverSv } = await handshake(ctx, abort.signal)
      if (tier.ended) return
      tier.goLive(serverSv)
      events.open()
      events.synced()
      let cursor = answer.cursor
      let aw = answer.aw
      while (!tier.ended) {
        // A proxy that silently drops the held request must not hang us: give up a little
        // after the server would have answered anyway.
        const timer = setTimeout(() => abort.abort(), (ctx.pollTimeoutS + 15) * 1000)
        let res: Response
        try {
          res = await request(ctx, docUrl(ctx, 'poll', { cursor, aw, timeout: String(ctx.pollTimeoutS) }), { signal: abort.signal })
        } finally {
          clearTimeout(timer)
        }
        if (tier.ended) return
        if (res.status === 204) continue
        const a = await res.json() as PollAnswer
        if (tier.ended) return
        const serverState = applyAnswer(ctx, a)
        if (serverState != null) tier.sendMissing(serverState)
        cursor = a.cursor
        aw = a.aw
      }
    } catch (err) {
      if (!tier.ended) tier.fail(err instanceof SyntaxError ? new HttpCloseError(CloseCode.malformed, 'bad poll answer') : err)
    }
  })()

  return tier.transport('poll')
}
