/**
 * A minimal Server-Sent Events reader over fetch: unlike EventSource it reports the HTTP status
 * and who refused (Weft's 401 → token refresh, Weft's 403 → stop; a proxy's refusal → another
 * tier, see refusal.ts), sends headers, reconnects only when told to, and runs
 * on any platform with fetch and streams (browsers, Node ≥ 18) without a polyfill.
 * Parses the text/event-stream format: `event:`, `data:` (joined by \n), `id:`, comments.
 */
import { readRefusal, type Refusal } from './refusal.js'

export interface SseMessage { event: string, data: string, id: string | null }

export interface SseHandlers {
  /**
   * The first bytes of the stream arrived. Not merely the headers: a buffering proxy sends
   * those and then holds the body, which must count as "this tier does not open here".
   */
  open (): void
  message (m: SseMessage): void
}

export class SseStatusError extends Error {
  override name = 'SseStatusError'
  readonly status: number
  /** Who refused the stream (an answer that is not a stream at all never comes from Weft). */
  constructor (readonly refusal: Refusal) {
    super(`HTTP ${refusal.status}${refusal.detail === '' ? '' : `: ${refusal.detail}`}`)
    this.status = refusal.status
  }
}

/**
 * Reads the stream until it ends (resolves) or fails (rejects: `SseStatusError` for a bad
 * status or content type, the fetch error otherwise). Abort with `signal`.
 */
export async function readSse (fetchImpl: typeof fetch, url: string, init: RequestInit, handlers: SseHandlers, options: { idleTimeoutMs?: number } = {}): Promise<void> {
  const res = await fetchImpl(url, { cache: 'no-store', ...init, headers: { accept: 'text/event-stream', ...(init.headers as Record<string, string> | undefined) } })
  if (res.status !== 200) throw new SseStatusError(await readRefusal(res))
  const type = res.headers.get('content-type') ?? ''
  if (!type.startsWith('text/event-stream') || res.body == null) {
    await res.body?.cancel().catch(() => {})
    // A proxy answered in place of the stream: treat as "this tier does not work here".
    throw new SseStatusError({ status: 502, fromWeft: false, detail: `expected text/event-stream, got "${type}"` })
  }
  const reader = res.body.pipeThrough(new TextDecoderStream()).getReader()
  // The server writes a keepalive comment every 15 s: silence much longer than that is a dead
  // connection (or a proxy holding the bytes), not a quiet doc.
  let idle: ReturnType<typeof setTimeout> | null = null
  const watch = (): void => {
    if (options.idleTimeoutMs === undefined) return
    if (idle != null) clearTimeout(idle)
    idle = setTimeout(() => { void reader.cancel(new Error('event stream went silent')).catch(() => {}) }, options.idleTimeoutMs)
  }
  watch()
  let opened = false
  let buffer = ''
  let event = ''
  let data: string[] = []
  let id: string | null = null
  try {
    for (;;) {
      const { value, done } = await reader.read()
      if (done) return
      watch()
      if (!opened) { opened = true; handlers.open() }
      buffer += value
      let nl: number
      while ((nl = buffer.search(/\r\n|\r|\n/)) >= 0) {
        const line = buffer.slice(0, nl)
        buffer = buffer.slice(nl + (buffer[nl] === '\r' && buffer[nl + 1] === '\n' ? 2 : 1))
        if (line === '') {
          if (data.length > 0) handlers.message({ event: event === '' ? 'message' : event, data: data.join('\n'), id })
          event = ''
          data = []
          id = null
          continue
        }
        if (line.startsWith(':')) continue
        const colon = line.indexOf(':')
        const field = colon < 0 ? line : line.slice(0, colon)
        let val = colon < 0 ? '' : line.slice(colon + 1)
        if (val.startsWith(' ')) val = val.slice(1)
        if (field === 'event') event = val
        else if (field === 'data') data.push(val)
        else if (field === 'id') id = val
      }
    }
  } finally {
    if (idle != null) clearTimeout(idle)
    reader.releaseLock()
  }
}
