/**
 * observe(): a read-only live mirror of a doc from the SSE stream — a Y.Doc kept current, or,
 * with `view: 'json'`, just the server-rendered JSON content (no Yjs work at all). The stream
 * resumes from the last event id after a drop, so a reconnect costs only the missed updates;
 * a `reset` (cursor too old) replaces the mirror with a fresh doc.
 */
import * as Y from 'yjs'
import { ObservableV2 } from 'lib0/observable'
import { base64ToBytes } from '../shared/base64.js'
import { closeAdvice, CloseCode } from '../shared/close-codes.js'
import { Backoff, type BackoffOptions } from './backoff.js'
import { readSse, SseStatusError, type SseMessage } from './sse-reader.js'
import { closeCodeForStatus } from './transports/http.js'
import { ABNORMAL_CLOSURE } from './transports/types.js'

export interface ObserveOptions {
  /** 'doc' (default): a Y.Doc mirror. 'json': only `content`, the server's JSON view. */
  view?: 'doc' | 'json'
  /** Pin root types for the JSON view, e.g. `{ body: 'text', meta: 'map' }`. */
  types?: Record<string, string>
  /** Receive awareness events. @default true */
  awareness?: boolean
  /** Query parameters (e.g. `{ token }`). */
  params?: Record<string, string>
  /** Start from this cursor instead of a snapshot. */
  cursor?: string
  /** @default globalThis.fetch */
  fetch?: typeof fetch
  backoff?: BackoffOptions
}

export interface AwarenessEvent { added: number[], updated: number[], removed: number[], states: Record<string, unknown> }

export interface ObserverEvents {
  /** The mirror changed (after a snapshot, reset or update). */
  change: (observer: Observer) => void
  awareness: (event: AwarenessEvent) => void
  status: (event: { status: 'connecting' | 'connected' | 'disconnected' }) => void
  /** The server refused the stream for good (403, 400, …) or the doc was deleted (4410); the observer stopped. */
  error: (event: { code: number, reason: string }) => void
}

export class Observer extends ObservableV2<ObserverEvents> {
  /** The mirror (null with `view: 'json'`). Read-only: local edits are never sent anywhere. */
  doc: Y.Doc | null
  /** The JSON view of the doc, with `view: 'json'` (undefined until the first event). */
  content: unknown = undefined
  /** The id of the last event applied: pass it back as `cursor` to resume later. */
  cursor: string | null
  /** True once the first snapshot (or resume) arrived. */
  synced = false
  private abort: AbortController | null = null
  private timer: ReturnType<typeof setTimeout> | null = null
  private readonly backoff: Backoff
  private closed = false
  private readonly fetchImpl: typeof fetch

  constructor (private readonly url: string, private readonly options: ObserveOptions) {
    super()
    this.doc = options.view === 'json' ? null : new Y.Doc()
    this.cursor = options.cursor ?? null
    this.backoff = new Backoff(options.backoff)
    const f = options.fetch ?? globalThis.fetch
    this.fetchImpl = (input, init) => f(input, init)
    void this.run()
  }

  private async run (): Promise<void> {
    this.timer = null
    if (this.closed) return
    this.abort = new AbortController()
    const q = new URLSearchParams({ ...this.options.params })
    if (this.options.view === 'json') q.set('view', 'json')
    if (this.options.types !== undefined) q.set('types', Object.entries(this.options.types).map(([k, v]) => `${k}:${v}`).join(','))
    if (this.options.awareness === false) q.set('awareness', '0')
    if (this.cursor != null) q.set('cursor', this.cursor)
    this.emit('status', [{ status: 'connecting' }])
    let code = ABNORMAL_CLOSURE
    try {
      await readSse(this.fetchImpl, `${this.url}?${q.toString()}`, { signal: this.abort.signal, headers: this.cursor != null ? { 'last-event-id': this.cursor } : {} }, {
        open: () => { this.backoff.opened(); this.emit('status', [{ status: 'connected' }]) },
        message: m => this.onMessage(m)
      }, { idleTimeoutMs: 45_000 })
    } catch (err) {
      // As the provider's tiers (transports/http-tier.ts): once Weft has served this stream, a
      // refusal without Weft's body is the network, not the server; retry, do not stop.
      if (err instanceof SseStatusError) code = err.refusal.fromWeft || !this.synced ? closeCodeForStatus(err.status) : ABNORMAL_CLOSURE
    }
    this.backoff.closed()
    if (this.closed) return
    this.emit('status', [{ status: 'disconnected' }])
    const advice = closeAdvice(code)
    if (advice === 'stop' || advice === 'refresh-token') {
      this.emit('error', [{ code, reason: 'the server refused the stream' }])
      return this.close()
    }
    this.timer = setTimeout(() => { void this.run() }, this.backoff.next(advice === 'reconnect-slowly'))
  }

  private onMessage (m: SseMessage): void {
    const data = JSON.parse(m.data) as { update?: string, content?: unknown } & AwarenessEvent
    switch (m.event) {
      case 'snapshot':
      case 'reset':
        if (this.doc != null) {
          if (m.event === 'reset') {
            // The server's history no longer reaches our cursor: start over from its state.
            this.doc.destroy()
            this.doc = new Y.Doc()
          }
          if (data.update !== undefined) Y.applyUpdate(this.doc, base64ToBytes(data.update), this)
        }
        break
      case 'update':
        if (this.doc != null && data.update !== undefined) Y.applyUpdate(this.doc, base64ToBytes(data.update), this)
        break
      case 'awareness':
        this.emit('awareness', [{ added: data.added, updated: data.updated, removed: data.removed, states: data.states }])
        return
      case 'deleted':
        this.emit('error', [{ code: CloseCode.docDeleted, reason: 'doc deleted' }])
        this.close()
        return
      default:
        return
    }
    if (m.id != null) this.cursor = m.id
    if ('content' in data) this.content = data.content
    this.synced = true
    this.emit('change', [this])
  }

  /** Stops following the doc. Idempotent. */
  close (): void {
    if (this.closed) return
    this.closed = true
    if (this.timer != null) clearTimeout(this.timer)
    this.abort?.abort()
    this.backoff.dispose()
  }
}

/** Follows `docName` on `serverUrl` (http(s)://…) read-only over its SSE stream. */
export function observe (serverUrl: string, docName: string, options: ObserveOptions = {}): Observer {
  const base = serverUrl.replace(/\/+$/, '').replace(/^ws(s?):\/\//, 'http$1://')
  return new Observer(`${base}/docs/${encodeURIComponent(docName)}/events`, options)
}
