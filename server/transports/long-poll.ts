/**
 * Long polling: the last-resort down direction, for networks that break both WebSockets and
 * streamed responses.
 *
 * A poll names a cursor (the doc's update sequence, as SSE ids) and an awareness cursor. It is
 * answered at once when the doc's history has records after the cursor (or awareness changed),
 * otherwise it waits in its doc's hub until something changes or its timeout passes (204).
 * Cost model: one hub per doc (a `DocPeer` with a set of waiters), one timer for all polls of
 * the server (a wheel of `SLOT_MS` slots, deadline-wheel.ts), and per broadcast one pass over
 * the waiters. A waiting poll is a parked `Response` in a Set; nothing runs for it until it is
 * answered. A poll that times out is answered within `SLOT_MS` (plus event-loop lag) after its
 * timeout, counted from when its request arrived.
 */
import type { Response } from 'express'
import * as Y from 'yjs'
import * as awarenessProtocol from 'y-protocols/awareness'
import { bytesToBase64 } from '../../shared/base64.js'
import { CloseReason, CloseCode } from '../../shared/close-codes.js'
import { formatCursor, parseCursor } from '../../shared/cursor.js'
import type { WeftContext } from '../context.js'
import type { AwarenessBroadcast, DocPeer, UpdateBroadcast } from '../docs/broadcast.js'
import { encodeDiff } from '../docs/dependencies.js'
import type { SharedDoc } from '../docs/shared-doc.js'
import type { PollBody } from '../../shared/poll.js'

/** A poll answered with an error (503 at shutdown, 410 for a deleted doc). */
interface PollError { error: string, deleted?: true }
import { DeadlineWheel } from './deadline-wheel.js'


interface Waiter {
  res: Response
  hub: DocPollHub
  /** The HTTP editor polling (its session, server/session.ts): what it wrote is not sent back. */
  editor: DocPeer | null
  cursorSeq: number
  /** Awareness cursor; null: the client does not follow awareness (never answered for it). */
  aw: string | null
  /** Its slot in the deadline wheel (0: not parked). */
  slot: number
  done: boolean
  release: () => void
}

/** Awareness changes remembered per doc for `aw` cursors; older cursors get the full state. */
const AWARENESS_LOG = 256
export const maxPollTimeoutS = 55
export const defaultPollTimeoutS = 25
/**
 * Width of a deadline slot (ms): a timed-out poll is answered at most this late. 50 ms keeps
 * the answer well inside the 250 ms promised, and costs at most 20 wakeups/s while polls wait.
 */
const SLOT_MS = 50

export class DocPollHub implements DocPeer {
  readonly access = 'read' as const
  readonly waiters = new Set<Waiter>()
  private readonly epoch = Math.floor(Math.random() * 2 ** 32).toString(36)
  private awVersion = 0
  private readonly awLog: Array<{ v: number, b: AwarenessBroadcast }> = []
  private ready = new Set<Waiter>()
  private flushing: NodeJS.Immediate | null = null
  /** Merged updates per cursor, valid while the doc's seq is `cacheSeq` (polls share them). */
  private cache = new Map<number, string>()
  private cacheSeq = -1

  constructor (readonly doc: SharedDoc, private readonly respond: (w: Waiter, status: number, body?: PollBody | PollError) => void) {
    doc.addPeer(this)
  }

  get awCursor (): string { return `${this.epoch}.${this.awVersion.toString(36)}` }

  deliverUpdate (b: UpdateBroadcast): void { this.wake(b.origin) }

  deliverAwareness (b: AwarenessBroadcast): void {
    this.awLog.push({ v: ++this.awVersion, b })
    if (this.awLog.length > AWARENESS_LOG) this.awLog.shift()
    // A coalesced flush has several origins (undefined here): every waiter is woken, and one
    // with nothing new for it (only its own changes) keeps waiting (see `answer`).
    this.wake(b.origin)
  }

  /** A deleted doc (4410): every held poll is answered 410, so pollers stop instead of waiting out their timeout. */
  close (code: number, reason: string): void {
    if (code !== CloseCode.docDeleted) return
    for (const w of [...this.waiters]) this.respond(w, 410, { error: reason, deleted: true })
  }

  /** A change from `origin`: every waiter except the one that made it has news. */
  private wake (origin: unknown): void {
    if (this.waiters.size === 0) return
    for (const w of this.waiters) if (w.editor !== origin) this.ready.add(w)
    // Answer after the current group commit has applied all its records: one answer per poll
    // per batch, not per record.
    this.flushing ??= setImmediate(() => {
      this.flushing = null
      const ready = this.ready
      this.ready = new Set()
      for (const w of ready) {
        if (w.done) continue
        const body = this.answer(w, false)
        if (body != null) this.respond(w, 200, body)
      }
    })
  }

  /**
   * The answer for a poll now, or null when it should keep waiting. The editor's own records
   * are left out (no echo: records carry their origin, docs/history.ts); `force` (at its
   * timeout): answer even when only those are new, so the cursor moves past them.
   */
  answer (w: Pick<Waiter, 'cursorSeq' | 'aw' | 'editor'>, force: boolean, sv?: Uint8Array): PollBody | null {
    const doc = this.doc
    const records = doc.history.since(w.cursorSeq, doc.seq)
    if (records == null) return this.reset(sv)
    const editor = w.editor
    const theirs = editor == null ? records : records.filter(r => r.origin !== editor)
    const awareness = this.awarenessSince(w.aw, editor)
    if (theirs.length === 0 && awareness == null && !(force && records.length > 0)) return null
    const body: PollBody = { cursor: formatCursor(doc.name, doc.seq), aw: this.awCursor }
    if (theirs.length > 0) body.update = this.merged(w.cursorSeq, theirs, theirs.length === records.length)
    if (awareness != null) body.awareness = bytesToBase64(awareness)
    return body
  }

  /** Full state (or what a client with state vector `sv` lacks), with the server's state vector. */
  reset (sv?: Uint8Array): PollBody {
    const doc = this.doc
    const body: PollBody = {
      cursor: formatCursor(doc.name, doc.seq),
      aw: this.awCursor,
      reset: true,
      update: bytesToBase64(encodeDiff(doc.ydoc, sv)),
      stateVector: bytesToBase64(Y.encodeStateVector(doc.ydoc))
    }
    const all = doc.encodeAllAwareness()
    if (all != null) body.awareness = bytesToBase64(all)
    return body
  }

  /** `records` merged, base64; shared between polls with the same cursor when unfiltered. */
  private merged (cursorSeq: number, records: Array<{ update: Uint8Array }>, cacheable: boolean): string {
    if (this.cacheSeq !== this.doc.seq) { this.cache.clear(); this.cacheSeq = this.doc.seq }
    let text = cacheable ? this.cache.get(cursorSeq) : undefined
    if (text === undefined) {
      text = bytesToBase64(records.length === 1 ? records[0]!.update : Y.mergeUpdates(records.map(r => r.update)))
      if (cacheable && this.cache.size < 64) this.cache.set(cursorSeq, text)
    }
    return text
  }

  /** Awareness changes after cursor `aw` made by anyone but `editor`, or null for none. */
  private awarenessSince (aw: string | null, editor: DocPeer | null): Uint8Array | null {
    // Without `aw` the client does not follow awareness: answering it for awareness would make
    // a naive poller spin whenever anyone is present.
    if (aw == null) return null
    const [epoch, vText] = aw.split('.')
    const v = parseInt(vText ?? '', 36)
    const oldest = this.awLog.length > 0 ? this.awLog[0]!.v : this.awVersion + 1
    if (epoch !== this.epoch || !Number.isSafeInteger(v) || v > this.awVersion || v < oldest - 1) {
      return this.doc.encodeAllAwareness()
    }
    const ids = new Set<number>()
    for (let i = this.awLog.length - 1; i >= 0 && this.awLog[i]!.v > v; i--) {
      // Per client: a coalesced flush may mix the session's own changes with others'.
      for (const [id, origin] of this.awLog[i]!.b.origins) if (origin !== editor) ids.add(id)
    }
    const meta = this.doc.awareness.meta
    const known = [...ids].filter(id => meta.has(id))
    return known.length > 0 ? this.doc.encodeAwareness(known) : null
  }

  detach (): void {
    if (this.flushing != null) clearImmediate(this.flushing)
    this.flushing = null
    this.doc.removePeer(this)
  }
}

export interface PollRequest {
  doc: SharedDoc
  /** The HTTP editor's session when an editor polls; null for an observer. */
  editor: DocPeer | null
  cursor: string | null
  aw: string | null
  sv?: Uint8Array
  /** How long to hold the poll (ms); 0: answer at once (the handshake). */
  timeoutMs: number
  /** When the request arrived (`performance.now()`): the timeout counts from there. */
  receivedAt: number
  /** Releases what the request holds (the doc, the session); called once when answered. */
  release: () => void
}

/**
 * Every pending poll of a Weft instance. A doc's hub is made at its first poll and lives as long
 * as the doc is loaded (its awareness cursors stay valid meanwhile); it goes when the registry
 * unloads the doc, which it only does once no poll holds it.
 */
export class PollHubs {
  private readonly hubs = new Map<SharedDoc, DocPollHub>()
  /** Pending polls by when their timeout ends. */
  private readonly wheel = new DeadlineWheel<Waiter>(SLOT_MS, due => this.expire(due))
  private closed = false
  pending = 0

  constructor (private readonly ctx: WeftContext) {
    ctx.metrics.gauge('polls_pending', () => this.pending)
    ctx.registry.on('unloading', this.onUnloading)
  }

  private readonly onUnloading = (doc: SharedDoc): void => {
    this.hubs.get(doc)?.detach()
    this.hubs.delete(doc)
  }

  private hubFor (doc: SharedDoc): DocPollHub {
    let hub = this.hubs.get(doc)
    if (hub === undefined) {
      hub = new DocPollHub(doc, (w, status, body) => this.respond(w, status, body))
      this.hubs.set(doc, hub)
    }
    return hub
  }

  poll (res: Response, p: PollRequest): void {
    const hub = this.hubFor(p.doc)
    const seq = parseCursor(p.doc.name, p.cursor)
    const w: Waiter = { res, hub, editor: p.editor, cursorSeq: seq ?? -1, aw: p.aw, slot: 0, done: false, release: p.release }
    this.ctx.metrics.inc('polls_total')
    const now = seq == null ? hub.reset(p.sv) : hub.answer(w, p.timeoutMs === 0, p.sv)
    if (now != null) return this.respond(w, 200, now)
    if (p.timeoutMs === 0) return this.respond(w, 204)
    // The client may have gone while its doc or session loaded: nothing to park.
    if (res.destroyed || res.socket == null || res.socket.destroyed) return this.finish(w)
    w.slot = this.wheel.add(w, p.receivedAt + p.timeoutMs)
    hub.waiters.add(w)
    this.pending++
    // The client gave up (or the proxy cut it): forget the poll.
    res.once('close', () => { if (!w.done) this.finish(w) })
  }

  private expire (due: Waiter[]): void {
    for (const w of due) {
      if (w.done) continue
      const body = w.hub.answer(w, true)
      if (body != null) this.respond(w, 200, body)
      else this.respond(w, 204)
    }
  }

  private finish (w: Waiter): void {
    if (w.done) return
    w.done = true
    if (w.hub.waiters.delete(w)) this.pending--
    if (w.slot !== 0) this.wheel.delete(w, w.slot)
    w.release()
  }

  private respond (w: Waiter, status: number, body?: PollBody | PollError): void {
    if (w.done) return
    this.finish(w)
    const res = w.res
    if (res.writableEnded || res.destroyed) return
    res.setHeader('Cache-Control', 'no-store')
    if (status === 204) { res.status(204).end(); return }
    if (status === 503) res.setHeader('Retry-After', '1')
    // Written directly, not with res.json(): Express would hash every answer for an ETag that
    // no poll can use (each answer moves the cursor).
    res.statusCode = status
    res.setHeader('Content-Type', 'application/json; charset=utf-8')
    const json = JSON.stringify(body)
    this.ctx.traffic.poll.sent.inc(Buffer.byteLength(json))
    res.end(json)
  }

  /** Shutdown: every pending poll is answered 503 (the client reconnects with backoff). */
  close (): void {
    if (this.closed) return
    this.closed = true
    this.ctx.registry.off('unloading', this.onUnloading)
    this.wheel.clear()
    for (const hub of this.hubs.values()) {
      for (const w of [...hub.waiters]) this.respond(w, 503, { error: CloseReason[CloseCode.serviceRestart]! })
      hub.detach()
    }
    this.hubs.clear()
  }
}
