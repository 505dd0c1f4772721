/**
 * Which browser pages may use the server. Browsers send `Origin` on every WebSocket upgrade,
 * every POST and DELETE and every cross-origin GET (EventSource included).
 *
 * - `--allowed-origins` (`check`): a request whose Origin is neither listed nor the server's own
 *   (Origin's host equals Host) is refused with 403, whatever its credentials.
 * - A token from the `weft_token` cookie (`checkCookie`), always: the browser attaches a cookie
 *   to requests another site's page makes (a cross-site WebSocket is not bound by CORS at all),
 *   so a cookie proves who the visitor is, not that our page asked. It counts only from the
 *   server's own origin or a listed one — `*` never admits a cookie, as CORS never lets `*`
 *   carry credentials. Tokens a page must put in the request itself (`?token=`,
 *   `Authorization`, `Sec-WebSocket-Protocol`) are not ambient and need no such check.
 *
 * Requests without `Origin` pass both: they are not a cross-origin script's (a browser never
 * leaves it off an upgrade, a POST or a cross-origin read), they are curl, servers, native
 * apps — which cannot be made to send a victim's cookie — or same-origin GETs and navigations,
 * which write nothing and whose answers another origin cannot read.
 */
import type { IncomingMessage } from 'node:http'

export class OriginPolicy {
  private readonly allowed: Set<string>
  private readonly any: boolean

  /** `null` (no `allowedOrigins`): any page may connect with a non-ambient token. */
  constructor (origins: readonly string[] | null) {
    this.any = origins == null || origins.includes('*')
    this.allowed = new Set((origins ?? []).filter(o => o !== '*').map(normalize))
  }

  /** Null when the request may proceed, else the reason it may not. */
  check (req: IncomingMessage): string | null {
    return this.any ? null : this.refusal(req, 'is not allowed')
  }

  /** For a request whose token is the `weft_token` cookie: its own origin or a listed one only. */
  checkCookie (req: IncomingMessage): string | null {
    return this.refusal(req, 'may not use the weft_token cookie (send the token in the request, or list the origin in allowedOrigins)')
  }

  private refusal (req: IncomingMessage, why: string): string | null {
    const origin = req.headers.origin
    if (origin === undefined || origin === '') return null
    const norm = normalize(origin)
    if (this.allowed.has(norm)) return null
    const host = req.headers.host
    if (host !== undefined && hostOf(norm) === host.toLowerCase()) return null
    return `origin ${origin.slice(0, 200)} ${why}`
  }
}

/** `https://A.example:443/` → `https://a.example` (what browsers send, so lists may be sloppy). */
export function normalize (origin: string): string {
  try {
    const u = new URL(origin)
    if (u.origin === 'null') return origin.toLowerCase()
    return u.origin.toLowerCase()
  } catch {
    return origin.toLowerCase().replace(/\/+$/, '')
  }
}

function hostOf (origin: string): string | null {
  try { return new URL(origin).host.toLowerCase() } catch { return null }
}
