/**
 * `--allowed-origins`: browsers send `Origin` on every WebSocket upgrade, every POST and every
 * cross-origin GET (EventSource included). A request whose Origin is not listed is refused
 * with 403 — that is what stops another site's page from using a visitor's cookie token.
 * Requests without `Origin` (curl, servers, same-origin GETs) and same-origin requests
 * (Origin's host equals Host) pass: Origin checks protect browsers, not the API.
 */
import type { IncomingMessage } from 'node:http'

export class OriginPolicy {
  private readonly allowed: Set<string>
  private readonly any: boolean

  constructor (origins: readonly string[]) {
    this.any = origins.includes('*')
    this.allowed = new Set(origins.filter(o => o !== '*').map(normalize))
  }

  /** Null when the request may proceed, else the reason it may not. */
  check (req: IncomingMessage): string | null {
    if (this.any) return null
    const origin = req.headers.origin
    if (origin === undefined || origin === '') return null
    const norm = normalize(origin)
    if (this.allowed.has(norm)) return null
    const host = req.headers.host
    if (host !== undefined && hostOf(norm) === host.toLowerCase()) return null
    return `origin ${origin.slice(0, 200)} is not allowed`
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
