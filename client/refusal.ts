/**
 * Who refused a request. Weft answers every refusal of a doc route with a JSON body
 * `{ "error": "…" }` (server/http/request.ts, `sendProblem`); a plain-text or HTML 403 came
 * from something in between (a proxy, a firewall, a captive portal). That matters: Weft's 403
 * means "this token may not see this doc, stop", while a proxy's 403 on the event stream only
 * means "this pipe does not work on this network, try another".
 */
export interface Refusal {
  status: number
  /** The body has Weft's error shape: the server itself refused. */
  fromWeft: boolean
  /** The start of the body, for the close reason. */
  detail: string
}

/** Error pages of proxies can be large; the shape is decided from this much of the body. */
const MAX_REFUSAL_BYTES = 4096

/** Reads (a bounded part of) the body of an answer with status ≥ 400 and classifies it. */
export async function readRefusal (res: Response): Promise<Refusal> {
  const text = await readPrefix(res, MAX_REFUSAL_BYTES)
  let fromWeft = false
  if ((res.headers.get('content-type') ?? '').includes('json')) {
    try {
      const body = JSON.parse(text) as unknown
      fromWeft = typeof body === 'object' && body !== null && typeof (body as { error?: unknown }).error === 'string'
    } catch {
      // Not JSON after all (or cut at the bound, which Weft's short bodies never are).
    }
  }
  return { status: res.status, fromWeft, detail: text.slice(0, 200) }
}

async function readPrefix (res: Response, maxBytes: number): Promise<string> {
  if (res.body == null) return ''
  const reader = res.body.getReader()
  const chunks: Uint8Array[] = []
  let size = 0
  try {
    while (size < maxBytes) {
      const { value, done } = await reader.read()
      if (done) break
      chunks.push(value)
      size += value.byteLength
    }
  } catch {
    // The connection dropped mid-body: classify what arrived.
  } finally {
    // Past the bound: the rest of the page is not wanted (a no-op when the body ended).
    reader.cancel().catch(() => {})
  }
  const bytes = new Uint8Array(Math.min(size, maxBytes))
  let at = 0
  for (const c of chunks) {
    if (at >= bytes.length) break
    const part = c.subarray(0, bytes.length - at)
    bytes.set(part, at)
    at += part.length
  }
  return new TextDecoder().decode(bytes)
}
