/**
 * What the two HTTP tiers share: URLs, status → close-code mapping, the state-vector
 * handshake, and the uploaders that POST local updates and awareness one request at a time
 * (what piles up while a request is in flight is merged into the next one).
 */
import * as Y from 'yjs'
import * as awarenessProtocol from 'y-protocols/awareness'
import { base64ToBytes, bytesToBase64 } from '../../shared/base64.js'
import { CloseCode } from '../../shared/close-codes.js'
import { closeCodeForStatus as sharedCloseCodeForStatus } from '../../shared/errors.js'
import { readRefusal, type Refusal } from '../refusal.js'
import { ABNORMAL_CLOSURE, type TransportContext } from './types.js'
import type { PollBody } from '../../shared/poll.js'

export class HttpCloseError extends Error {
  override name = 'HttpCloseError'
  /** `refusal`: the request was answered with a status ≥ 400 (and by whom); absent for network errors. */
  constructor (readonly code: number, message: string, readonly refusal?: Refusal) { super(message) }
}

/**
 * HTTP status → the close code a WebSocket would have seen (the one rulebook, shared/errors.ts),
 * so the provider acts on every pipe alike; a status no Weft route answers is an abnormal closure.
 */
export function closeCodeForStatus (status: number): number {
  return sharedCloseCodeForStatus(status, ABNORMAL_CLOSURE)
}

/**
 * A URL of this doc's HTTP routes. The session id rides in the query rather than a header so
 * that GETs stay "simple" requests for CORS (no preflight per poll).
 */
export function docUrl (ctx: TransportContext, route: string, query: Record<string, string> = {}): string {
  const q = new URLSearchParams({ ...ctx.params, session: ctx.sessionId, ...query })
  const s = q.toString()
  return `${ctx.httpBase}/docs/${encodeURIComponent(ctx.docName)}/${route}${s === '' ? '' : `?${s}`}`
}

/** fetch that turns network errors and bad statuses into `HttpCloseError`. */
export async function request (ctx: TransportContext, url: string, init: RequestInit): Promise<Response> {
  let res: Response
  try {
    res = await ctx.fetch(url, { cache: 'no-store', ...init })
  } catch (err) {
    throw new HttpCloseError(ABNORMAL_CLOSURE, `network error: ${(err as Error).message}`)
  }
  if (res.status >= 400) {
    const refusal = await readRefusal(res)
    throw new HttpCloseError(closeCodeForStatus(res.status), `HTTP ${res.status}: ${refusal.detail}`, refusal)
  }
  return res
}

/** A poll or handshake answer (the shared wire type). */
export type PollAnswer = PollBody

/** Applies a poll/handshake answer; returns the server state vector when it was a reset. */
export function applyAnswer (ctx: TransportContext, a: PollAnswer): Uint8Array | null {
  if (a.update !== undefined) Y.applyUpdate(ctx.doc, base64ToBytes(a.update), ctx.origin)
  if (a.awareness !== undefined) awarenessProtocol.applyAwarenessUpdate(ctx.awareness, base64ToBytes(a.awareness), ctx.origin)
  return a.reset === true && a.stateVector !== undefined ? base64ToBytes(a.stateVector) : null
}

/** What the server lacks, given its state vector, or null when nothing. */
export function missingFor (doc: Y.Doc, serverStateVector: Uint8Array): Uint8Array | null {
  const diff = Y.encodeStateAsUpdate(doc, serverStateVector)
  return diff.byteLength === 2 && diff[0] === 0 && diff[1] === 0 ? null : diff
}

/**
 * The state-vector handshake: a zero-timeout poll with our state vector answers what we lack,
 * the server's state vector and a cursor to continue from.
 */
export async function handshake (ctx: TransportContext, signal: AbortSignal): Promise<{ answer: PollAnswer, serverSv: Uint8Array }> {
  const sv = bytesToBase64(Y.encodeStateVector(ctx.doc))
  // A state vector grows with every client that ever edited the doc; past a few KB the URL
  // would hit proxy and server limits (often 8 KB). Then ask for the full state instead:
  // more bytes down, applied idempotently, same result.
  const query: Record<string, string> = sv.length <= 4096 ? { timeout: '0', sv } : { timeout: '0' }
  const res = await request(ctx, docUrl(ctx, 'poll', query), { signal })
  const answer = await res.json() as PollAnswer
  const serverSv = applyAnswer(ctx, answer) ?? new Uint8Array([0])
  return { answer, serverSv }
}

/** Posts updates one request at a time; updates queued meanwhile go merged in the next. */
export class Uploader {
  private queue: Uint8Array[] = []
  private busy = false
  private stopped = false

  constructor (
    private readonly ctx: TransportContext,
    private readonly onError: (err: HttpCloseError) => void,
    /** A 403 on a write is read-only access (a doc we may not see fails its polls instead). */
    private readonly onDenied?: (reason: string) => void
  ) {}

  push (update: Uint8Array): void {
    if (this.stopped) return
    this.queue.push(update)
    if (!this.busy) void this.run()
  }

  private async run (): Promise<void> {
    this.busy = true
    while (this.queue.length > 0 && !this.stopped) {
      const batch = this.queue
      this.queue = []
      const body = batch.length === 1 ? batch[0]! : Y.mergeUpdates(batch)
      try {
        await request(this.ctx, docUrl(this.ctx, 'updates'), { method: 'POST', headers: { 'content-type': 'application/octet-stream' }, body: body as Uint8Array<ArrayBuffer> })
      } catch (err) {
        const e = err as HttpCloseError
        if (e.code === CloseCode.forbidden && e.refusal?.fromWeft === true && this.onDenied !== undefined) {
          // Read-only: the server never applies our edits; say so and carry on reading. (A
          // proxy's 403 on a POST is not that: the tier fails, and the next handshake resends.)
          this.onDenied(e.message)
          continue
        }
        // Dropped on purpose: the next connection's handshake sends whatever the server lacks.
        this.stop()
        this.busy = false
        this.onError(e)
        return
      }
    }
    this.busy = false
  }

  stop (): void { this.stopped = true; this.queue = [] }
}

/** Posts the local awareness state; changes while a post is in flight collapse into one. */
export class AwarenessUploader {
  private busy = false
  private dirty = false
  private stopped = false
  private retry: ReturnType<typeof setTimeout> | null = null

  constructor (private readonly ctx: TransportContext, private readonly onError: (err: HttpCloseError) => void) {}

  push (): void {
    if (this.stopped) return
    this.dirty = true
    if (!this.busy) void this.run()
  }

  private async run (): Promise<void> {
    this.busy = true
    while (this.dirty && !this.stopped) {
      this.dirty = false
      const { awareness } = this.ctx
      if (!awareness.meta.has(awareness.clientID)) continue
      const body = awarenessProtocol.encodeAwarenessUpdate(awareness, [awareness.clientID])
      try {
        // keepalive: a goodbye (null state) sent while the page unloads still goes out.
        await request(this.ctx, docUrl(this.ctx, 'awareness'), { method: 'POST', headers: { 'content-type': 'application/octet-stream' }, body: body as Uint8Array<ArrayBuffer>, keepalive: true })
      } catch (err) {
        const e = err as HttpCloseError
        if (e.code === CloseCode.unauthorized || e.code === CloseCode.forbidden || e.code === ABNORMAL_CLOSURE) {
          this.busy = false
          return this.onError(e)
        }
        // 409 (4409): the id is still held by this editor's previous connection (the server frees
        // it when it notices that connection closed): try again shortly. Other errors: same.
        if (!this.stopped && this.retry == null) this.retry = setTimeout(() => { this.retry = null; this.push() }, 1000)
      }
    }
    this.busy = false
  }

  stop (): void {
    this.stopped = true
    if (this.retry != null) { clearTimeout(this.retry); this.retry = null }
  }
}

/** Tells the server this editor's HTTP session is over (frees its awareness ids at once). */
export function endSession (ctx: TransportContext): void {
  ctx.fetch(docUrl(ctx, 'session'), { method: 'DELETE', keepalive: true }).then(r => r.body?.cancel(), () => {})
}
