/**
 * The request budgets of every doc route (`/docs/:doc…`, `/view/:doc`), checked before the
 * route does any work: per client address (`maxRequestsPerSecondPerIp`, burst 3×) and, for a
 * request that names an HTTP editor session, that session's budget — the same token bucket
 * (`maxMessagesPerSecond` / `messageBurst`) a WebSocket connection spends per message. Beyond
 * either: 429 with `Retry-After`. A request naming a session not created yet also reserves one
 * of its address's `maxHttpSessionsPerIp` slots (transports/http-session.ts).
 *
 * Why here and not in each route: one client sending 466 POSTs/s got 466 stored updates/s under
 * `--max-messages-per-second 10`, and eight snapshot spammers slowed `/healthz` to 1.2 s.
 * CORS preflights are not counted: a browser sends them on its own, and they touch no doc.
 */
import type { NextFunction, Request, RequestHandler, Response, Router } from 'express'
import type { WeftContext } from '../context.js'
import { clientIp } from '../limits/connections.js'
import type { IpRateLimiter } from '../limits/ip-rate.js'
import { sessionIdOf, type HttpSessions } from '../transports/http-session.js'
import { corsHeaders, sendProblem } from './request.js'

/** `perIp`: the instance's request budget per address (built with the transports, closed with them). */
export function limitRoutes (router: Router, ctx: WeftContext, sessions: HttpSessions, perIp: IpRateLimiter): void {
  const perSecond = ctx.options.maxRequestsPerSecondPerIp

  const refuse = (req: Request, res: Response, message: string, waitMs: number): void => {
    res.set(corsHeaders(ctx, req))
    sendProblem(ctx, res, ctx.limits.refuse('requests_per_second', message, Math.max(1, Math.ceil(waitMs / 1000))), 'rate')
  }

  const guard: RequestHandler = (req: Request, res: Response, next: NextFunction) => {
    if (req.method === 'OPTIONS') { next(); return }
    const ip = clientIp(req)
    const ipWait = perIp.take(ip)
    if (ipWait > 0) { refuse(req, res, `too many requests from this address (max ${perSecond}/s)`, ipWait); return }
    let id: string | null
    try { id = sessionIdOf(req) } catch { next(); return } // the route answers the bad id (400)
    const doc = String(req.params.doc ?? '')
    if (id !== null) {
      const live = sessions.peek(doc, id)
      if (live !== undefined) {
        if (!live.bucket.take()) { refuse(req, res, `too many requests in this session (max ${ctx.options.maxMessagesPerSecond}/s)`, live.bucket.waitMs()); return }
      } else {
        try {
          res.once('close', sessions.reserve(doc, id, ip))
        } catch (err) {
          res.set(corsHeaders(ctx, req))
          sendProblem(ctx, res, err, 'rate')
          return
        }
      }
    }
    next()
  }
  router.use('/docs/:doc', guard)
  router.use('/view/:doc', guard)
}
