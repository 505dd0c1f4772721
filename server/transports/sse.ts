/**
 * The SSE transport for read-only observers (`GET /docs/:doc/events`).
 *
 * An observer is a `DocPeer` with read access: it holds its doc in the registry like a
 * connection (the doc stays loaded while anyone watches), never writes, and never introduces
 * awareness. Watching a doc nobody wrote yet counts against the address's `maxEmptyDocsPerIp`
 * (limits/reader-hold.ts). On open it gets `retry:`, then either a `snapshot`, or — resuming with a cursor —
 * exactly the stored records after it (from the doc's retained history), or a `reset` when the
 * cursor cannot be served. The snapshot/replay and joining the doc's peers happen in one
 * synchronous step after the doc is loaded, so no update can fall between them.
 *
 * Slow observers: a stream whose socket holds more than `sseMaxBufferedBytes` unsent bytes is
 * cut (counted as `sse_slow_observers_total`). Its last complete event id is still a valid
 * cursor, so EventSource reconnects and resumes without a gap, and the server's memory per
 * observer stays bounded. Bytes written in the current event-loop turn do not count: a burst
 * (a group-committed batch, a big paste) reaches every observer in one turn, before any socket
 * could drain, and must not cut healthy ones; only bytes still unsent from earlier turns show a
 * client that does not keep up. For the same reason the bound is raised by the size of the
 * opening snapshot/replay until it drained once.
 *
 * The stream is delimited by closing the connection (`Connection: close`, no chunked
 * encoding), so after the headers the event bytes go straight to the socket: the very buffer
 * encoded once per broadcast, one write per observer, no chunk framing around it. An SSE
 * connection is never reused for another request, so nothing is lost by not keeping it alive.
 */
import type { IncomingMessage, ServerResponse } from 'node:http'
import type { Socket } from 'node:net'
import { parseCursor } from '../../shared/cursor.js'
import { CloseCode } from '../../shared/close-codes.js'
import type { AwarenessBroadcast, DocPeer, UpdateBroadcast } from '../docs/broadcast.js'
import type { RootKind } from '../docs/json-view.js'
import type { ViewKind } from '../docs/prosemirror.js'
import type { SharedDoc } from '../docs/shared-doc.js'
import type { WeftContext } from '../context.js'
import type { Grant } from '../auth/grant.js'
import type { Session } from '../session.js'
import { onExpiry } from '../auth/expiry.js'
import { clientIp, forgetPeerAddress, NO_SLOT, type Slot } from '../limits/connections.js'
import { holdForReader } from '../limits/reader-hold.js'
import { followCursor } from '../docs/blank.js'
import { awarenessData, KEEPALIVE, retryField, sseEvent } from './sse-events.js'
import { feedKey, SseFeed, type FeedMember } from './sse-feed.js'
import { endTaken, takeOver } from './http-takeover.js'
import type { BoundCounter } from '../metrics.js'

export interface SseRequest {
  doc: string
  grant: Grant
  /** Type pins for `?view=json` (empty map = infer all), or null for no JSON content. */
  pinned: ReadonlyMap<string, RootKind> | null
  /** How `content` renders XML roots: `json` (XML strings, the default) or `prosemirror`. */
  view?: ViewKind
  awareness: boolean
  /** `Last-Event-ID` or `?cursor=`, as sent; undefined for a fresh stream. */
  cursor: string | undefined
  /** Extra response headers (CORS). */
  headers: Record<string, string>
  /**
   * The HTTP editor whose stream this is (`?session=`; its session, server/session.ts): what it
   * wrote is not sent back, and its session holds the doc.
   */
  editor?: Session
  /**
   * The stream's observer slot (`admitObserver`, limits/connections.ts): from the call on, the
   * transport releases it when the stream ends or is refused.
   */
  slot?: Slot
}

export interface SseTransport {
  /** Serves one stream; resolves once it is open (or was refused). */
  open (req: IncomingMessage, res: ServerResponse, r: SseRequest): Promise<void>
  readonly observers: number
  /** Ends every stream cleanly. Idempotent. */
  close (): Promise<void>
}

/** A counter that moves once per event-loop turn (only while someone writes). */
let turn = 0
let turnScheduled = false
function currentTurn (): number {
  if (!turnScheduled) {
    turnScheduled = true
    setImmediate(() => { turn++; turnScheduled = false })
  }
  return turn
}

/** What every observer of a transport shares (one object, not four fields per observer). */
interface ObserverHub {
  /** `sseMaxBufferedBytes`. */
  readonly bound: number
  readonly sent: BoundCounter
  /** It fell behind and was cut. */
  slow (o: SseObserver): void
  /** Its socket closed: forget it. */
  gone (o: SseObserver): void
}

const OBSERVER = Symbol('weft:sse-observer')
type ObservedSocket = Socket & { [OBSERVER]?: SseObserver }

/**
 * One stream. Idle, it holds its socket and the few fields below: the request and response are
 * gone once the headers are out (http-takeover.ts), and its socket listener is shared by all
 * (`this` is the socket; `OBSERVER` leads back here).
 */
export class SseObserver implements DocPeer, FeedMember {
  readonly access = 'read' as const
  private ended = false
  private limit: number
  private lastTurn = -1
  /** Bytes written in `lastTurn`. */
  private burst = 0
  /** An SSE + POST editor's session: updates and awareness it made itself are not sent back. */
  editor: DocPeer | null = null
  /** Who is watching (its token's `sub`), for `weft.disconnect({ user })`. */
  user: string | undefined
  /** Ends the stream when its token expires; null for tokens that never do. */
  cancelExpiry: (() => void) | null = null
  /**
   * The response while Node's HTTP server still owns the socket (the takeover was not possible),
   * else null; then `closers` are the `close` listeners the request and response had.
   */
  private res: ServerResponse | null = null
  private closers: Array<() => void> | null = null

  constructor (
    readonly doc: SharedDoc,
    readonly feed: SseFeed,
    readonly socket: Socket,
    private readonly awareness: boolean,
    private readonly hub: ObserverHub,
    /** Lets go of the doc and the stream's limit slots. */
    private readonly hold: Slot
  ) {
    this.limit = hub.bound
    ;(socket as ObservedSocket)[OBSERVER] = this
    socket.on('close', onSocketClose)
  }

  /** Takes the socket from the HTTP server (headers sent); else the response stays in charge. */
  own (req: IncomingMessage, res: ServerResponse): void {
    const closers = takeOver(req, res)
    if (closers === null) this.res = res
    else if (closers.length > 0) this.closers = closers
  }

  deliverUpdate (b: UpdateBroadcast): void {
    if (this.editor !== null && b.origin === this.editor) return
    this.write(this.feed.updateEvent(b))
  }

  /** False when opened with `awareness=0`: presence never reaches it. */
  get hearsPresence (): boolean { return this.awareness }

  deliverAwareness (b: AwarenessBroadcast): void {
    if (!this.awareness) return
    // A flush may mix the editor's own changes with others': it hears only the others'.
    const theirs = this.editor === null ? b : b.without(this.editor)
    if (theirs === null) return
    this.write(theirs.encoded('sse-awareness', () => sseEvent('awareness', null, awarenessData(this.doc.awareness, theirs.changes, theirs.update))))
  }

  /** Writes the opening events; the slow bound allows for them on top of the usual one. */
  open (chunks: Buffer[]): void {
    let bytes = 0
    for (const c of chunks) bytes += c.byteLength
    this.limit = this.hub.bound + bytes
    this.hub.sent.inc(bytes)
    for (const c of chunks) this.socket.write(c)
  }

  write (bytes: Buffer): void {
    if (this.ended) return
    const t = currentTurn()
    if (t !== this.lastTurn) { this.lastTurn = t; this.burst = 0 }
    const buffered = this.socket.writableLength
    if (buffered - this.burst > this.limit) {
      this.ended = true
      this.hub.slow(this)
      // Drop what is queued: the client resumes from its last complete event.
      this.socket.destroy()
      return
    }
    if (buffered <= this.hub.bound) this.limit = this.hub.bound
    this.burst += bytes.byteLength
    this.hub.sent.inc(bytes.byteLength)
    this.socket.write(bytes)
  }

  /**
   * The doc ends the peer (shutdown, storage failure): end the stream; EventSource resumes. A
   * deleted doc says so first (`event: deleted`): the observer should stop, not resume.
   */
  close (code?: number, _reason?: string): void {
    if (code === CloseCode.docDeleted) this.write(sseEvent('deleted', null, JSON.stringify({ doc: this.doc.name })))
    this.end()
  }

  end (): void {
    if (this.ended) return
    this.ended = true
    if (this.res !== null) this.res.end()
    else endTaken(this.socket)
  }

  /** The socket closed: leave the doc, free the slots, run what waited for the response's close. */
  socketClosed (): void {
    this.ended = true
    this.cancelExpiry?.()
    this.hub.gone(this)
    this.hold.release()
    const closers = this.closers
    this.closers = null
    if (closers !== null) for (const fn of closers) fn()
  }
}

function onSocketClose (this: ObservedSocket): void { this[OBSERVER]?.socketClosed() }

export function createSseTransport (ctx: WeftContext): SseTransport {
  const { options, registry, metrics } = ctx
  const log = options.logger
  const live = new Set<SseObserver>()
  const feeds = new Map<string, SseFeed>()
  let closing: Promise<void> | null = null

  // One timer for every stream: a comment line keeps idle proxies from cutting it.
  const keepalive = setInterval(() => {
    for (const o of live) o.write(KEEPALIVE)
  }, options.sseKeepaliveMs)
  keepalive.unref()

  const hub: ObserverHub = {
    bound: options.sseMaxBufferedBytes,
    sent: ctx.traffic.sse.sent,
    slow (o) {
      metrics.inc('sse_slow_observers_total')
      log.debug({ doc: o.doc.name }, 'SSE observer fell behind; cut (it resumes by cursor)')
    },
    gone (o) {
      live.delete(o)
      o.doc.removePeer(o)
      const feed = o.feed
      feed.members.delete(o)
      if (feed.members.size === 0) {
        feed.close()
        if (feeds.get(feed.key) === feed) feeds.delete(feed.key)
      }
    }
  }

  function feedFor (doc: SharedDoc, pinned: ReadonlyMap<string, RootKind> | null, view: ViewKind = 'json'): SseFeed {
    const key = `${doc.name}\u0000${feedKey(pinned, view)}`
    let feed = feeds.get(key)
    // A feed has members, and they hold its doc: it cannot outlive the doc's load.
    if (feed === undefined) {
      feed = new SseFeed(doc, key, pinned, options.jsonIntervalMs, view)
      feeds.set(key, feed)
    }
    return feed
  }

  async function open (req: IncomingMessage, res: ServerResponse, r: SseRequest): Promise<void> {
    // An observer's stream on a doc nobody wrote yet counts against its address's empty-doc
    // budget (limits/reader-hold.ts); an editor's stream rides on its session, which holds the doc.
    // What the stream holds is given back as one (`hold.release()`, idempotent).
    let hold: Slot
    let doc: SharedDoc
    if (r.editor === undefined) {
      const reader = await holdForReader(ctx, r.doc, clientIp(req), r.slot ?? null)
      doc = reader.doc
      hold = reader
    } else {
      doc = r.editor.doc
      hold = r.slot ?? NO_SLOT
    }
    try {
      await doc.reach(parseCursor(doc.name, r.cursor))
    } catch (err) {
      hold.release()
      throw err
    }
    // The client may have gone while the doc loaded.
    if (req.socket.destroyed || closing !== null) {
      hold.release()
      if (closing !== null && !res.headersSent) res.writeHead(503).end()
      return
    }
    const socket = req.socket
    // A request pipelined behind another on its connection (EventSource never does that) would
    // wait forever for the stream before it to end, while its own writes went to the socket in
    // between: drop the connection. (`_httpMessage`, Node's response on the socket, see http-takeover.ts.)
    // Node never closes a response that never had the socket: run what waits for its close here.
    const current = (socket as { _httpMessage?: unknown })._httpMessage
    if (current != null && current !== res) {
      hold.release()
      const waiting = res.listeners('close') as Array<() => void>
      res.removeAllListeners('close')
      socket.destroy()
      for (const fn of waiting) fn()
      return
    }
    socket.setNoDelay(true)
    res.removeHeader('Transfer-Encoding') // no chunked framing: the body ends when the connection does
    res.writeHead(200, {
      'Content-Type': 'text/event-stream; charset=utf-8',
      'Cache-Control': 'no-cache, no-transform',
      'X-Accel-Buffering': 'no',
      Connection: 'close',
      ...r.headers
    })
    res.flushHeaders()

    const feed = feedFor(doc, r.pinned, r.view)
    const editor = r.editor ?? null
    let opening: Buffer[]
    try {
      opening = [retryField(options.sseRetryMs), ...firstEvents(doc, feed, followCursor(doc, r.cursor) ?? undefined, editor)]
      if (r.awareness) {
        const all = doc.encodeAllAwareness()
        if (all !== null) {
          const ids = [...doc.awareness.getStates().keys()]
          opening.push(sseEvent('awareness', null, awarenessData(doc.awareness, { added: ids, updated: [], removed: [] }, all)))
        }
      }
    } catch (err) {
      hold.release()
      throw err // the route ends the response (its headers are out)
    }
    // From here to addPeer nothing awaits: no update can slip between the opening and the live stream.
    const observer = new SseObserver(doc, feed, socket, r.awareness, hub, hold)
    observer.own(req, res)
    observer.editor = editor
    observer.user = r.grant.user
    observer.open(opening)
    doc.addPeer(observer)
    feed.members.add(observer)
    live.add(observer)
    forgetPeerAddress(socket)
    metrics.inc('sse_observers_total')
    if (r.grant.expiresAt !== undefined) observer.cancelExpiry = onExpiry(r.grant, () => observer.end())
  }

  /**
   * The events that start a stream: a snapshot for a fresh client; the missed records for a
   * cursor inside the retained window; a reset for any other cursor (garbage, another doc's,
   * too old, or from a past life of the doc). Never an error: a bad cursor costs a snapshot.
   */
  function firstEvents (doc: SharedDoc, feed: SseFeed, cursor: string | undefined, editor: DocPeer | null): Buffer[] {
    if (cursor === undefined || cursor === '') return [feed.snapshotEvent('snapshot')]
    const seq = parseCursor(doc.name, cursor)
    const missed = seq === null ? null : doc.history.since(seq, doc.seq)
    if (missed === null) {
      metrics.inc('sse_resets_total')
      return [feed.snapshotEvent('reset')]
    }
    metrics.inc('sse_resumes_total')
    // An editor's own records are skipped, as they are live (`deliverUpdate`).
    const out = missed.filter(rec => editor === null || rec.origin !== editor).map(rec => feed.updateEventForRecord(rec.seq, rec.update))
    // A JSON client's content may predate its cursor (throttled); bring it up to date.
    if (feed.json) out.push(feed.contentEvent())
    return out
  }

  metrics.gauge('sse_observers', () => live.size)
  metrics.gauge('sse_feeds', () => feeds.size)

  const transport: SseTransport = {
    async open (req, res, r) { await open(req, res, r) },
    get observers () { return live.size },
    close () {
      closing ??= (async () => {
        clearInterval(keepalive)
        const ended = [...live].map(o => new Promise<void>(resolve => {
          if (o.socket.destroyed) return resolve()
          o.socket.once('close', () => resolve())
          o.end()
          // A client that stopped reading never lets the end through: cut it after a second.
          setTimeout(() => { o.socket.destroy(); resolve() }, 1000).unref()
        }))
        await Promise.all(ended)
      })()
      return closing
    }
  }
  return transport
}
