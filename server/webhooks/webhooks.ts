/**
 * Webhooks, built on the server hooks (hooks.ts): a hook object added after the embedder's,
 * with change windows of its own (`quietMs`, `maxDelayMs`: change-windows.ts) that the hooks
 * feed every record this node stores. Each closed window becomes one `changed` event per doc;
 * `onCreate`, `onDelete` and `onRestore` become `created`, `deleted` and `restored`. Each event
 * is one delivery per URL, stored before its first attempt and sent by the outbox (outbox.ts).
 *
 * A doc's window is stored when it opens (one small write per burst, never per update) and
 * removed once its event is stored: a crash while a window is open loses nothing — the next
 * start tells the change (`recovered: true`) up to the doc's newest stored record. The only
 * gap is a record stored in the few ms between its commit and that first write.
 *
 * A doc's events are made one after the other (a per-doc chain), so its `changed` is stored
 * before the `deleted` that follows it, and the outbox sends them in that order.
 */
import { randomUUID } from 'node:crypto'
import { formatCursor } from '../../shared/cursor.js'
import { ChangeWindows, type ChangeEvent } from '../change-windows.js'
import type { DeleteEvent, DocEvent, RestoreEvent, WeftHooks } from '../hooks.js'
import type { Logger } from '../logger.js'
import type { Metrics } from '../metrics.js'
import type { Storage } from '../storage/types.js'
import type { ContentOf } from './content.js'
import type { ChangedEvent, WebhookEvent } from './events.js'
import type { ResolvedWebhookOptions } from './options.js'
import { Outbox } from './outbox.js'
import { WebhookStore, type OpenWindow } from './store.js'

export interface WebhookDeps {
  storage: Storage
  logger: Logger
  metrics: Metrics
  /** The doc's JSON view (content.ts), for `content: true`. */
  contentOf: ContentOf
  /** In a cluster, this node's id: its deliveries are kept apart from other nodes' (store.ts). */
  clusterNodeId?: string
}

/** An event before its id and time. */
type Draft = { [K in WebhookEvent['event']]: Omit<Extract<WebhookEvent, { event: K }>, 'id' | 'at'> }[WebhookEvent['event']]
interface Prepared { event: WebhookEvent, at: number, keys: string[] }

export class Webhooks implements WeftHooks {
  /** Fed by the hooks with every record this node stores (hooks.ts `add`). */
  readonly windows: ChangeWindows
  private readonly store: WebhookStore
  private readonly outbox: Outbox
  private readonly logger: Logger
  /** Per doc, the tail of its chain of event steps. */
  private readonly chains = new Map<string, Promise<void>>()
  private closed = false

  constructor (private readonly opts: ResolvedWebhookOptions, private readonly deps: WebhookDeps) {
    this.logger = deps.logger.child?.({ component: 'webhooks' }) ?? deps.logger
    this.store = new WebhookStore(deps.storage.meta, deps.clusterNodeId !== undefined ? `webhooks/${deps.clusterNodeId}` : 'webhooks')
    this.outbox = new Outbox(opts, this.store, this.logger, deps.metrics)
    this.windows = new ChangeWindows(opts, { opened: (doc, seq, user) => this.opened(doc, seq, user), closed: e => this.closedWindow(e) })
    deps.metrics.gauge('webhook_pending', () => this.outbox.pending)
  }

  /** Deliveries not accepted yet. */
  get pending (): number { return this.outbox.pending }

  /**
   * After storage opened: queues the deliveries a previous run left, and tells the windows it
   * left open. Entries for URLs no longer configured are dropped (the operator removed them).
   */
  async start (): Promise<void> {
    const { deliveries, windows, broken } = await this.store.load()
    for (const key of broken) {
      this.logger.error({ key }, 'a stored webhook entry does not parse; removed')
      await this.store.remove(key)
    }
    const now = Date.now()
    let queued = 0
    for (const { key, d } of deliveries) {
      if (!this.opts.urls.includes(d.url)) {
        this.logger.warn({ url: d.url, id: d.id }, 'a pending webhook delivery is for a URL no longer configured; dropped')
        this.deps.metrics.inc('webhook_deliveries_total{outcome="dropped"}')
        await this.store.remove(key)
        continue
      }
      // The body is read again when it is sent: a long outage's backlog is not held in memory twice.
      this.outbox.add({ ...d, body: undefined, stored: true, key, failures: 0, due: now })
      queued++
    }
    for (const w of windows) this.chain(w.doc, () => this.recover(w))
    if (queued > 0 || windows.length > 0) this.logger.info({ deliveries: queued, windows: windows.length }, 'webhooks: resending what the last run left')
  }

  onCreate (e: DocEvent): void { this.emit({ event: 'created', doc: e.doc }) }
  onDelete (e: DeleteEvent): void { this.emit({ event: 'deleted', doc: e.doc, ...(e.user !== undefined ? { user: e.user } : {}) }) }
  onRestore (e: RestoreEvent): void {
    this.emit({
      event: 'restored',
      doc: e.doc,
      version: e.version,
      ...(e.name !== undefined ? { name: e.name } : {}),
      seq: e.seq,
      cursor: formatCursor(e.doc, e.seq),
      ...(e.user !== undefined ? { user: e.user } : {})
    })
  }

  /** Stores and queues one event (after the doc's earlier ones). */
  private emit (draft: Draft, content?: Promise<object>): void {
    if (this.closed) return
    const made = this.prepare(draft)
    this.chain(draft.doc, () => this.persist(made, content))
  }

  /** The event's id, time and delivery keys, taken now: a later event never sorts before it. */
  private prepare (draft: Draft): Prepared {
    const at = Date.now()
    const event = { id: randomUUID(), at: new Date(at).toISOString(), ...draft }
    return { event, at, keys: this.opts.urls.map((_, i) => this.store.deliveryKey(at, event.id, i)) }
  }

  /** Stores one delivery per URL, then queues them. */
  private async persist ({ event, at, keys }: Prepared, content?: Promise<object>): Promise<void> {
    const body = JSON.stringify(content !== undefined ? { ...event, ...(await content) } : event)
    await Promise.all(this.opts.urls.map(async (url, i) => {
      const d = { id: event.id, event: event.event, url, body, at }
      let stored = true
      try {
        await this.store.putDelivery(keys[i]!, d)
      } catch (err) {
        // Sent anyway: only a restart before it is accepted would lose it.
        stored = false
        this.logger.error({ id: event.id, url, err }, 'could not store a webhook delivery; sending it without')
      }
      this.outbox.add({ ...d, stored, key: keys[i]!, failures: 0, due: Date.now() })
    }))
  }

  private opened (doc: string, fromSeq: number, user: string | undefined): void {
    const w: OpenWindow = { doc, fromSeq, at: Date.now(), ...(user !== undefined ? { user } : {}) }
    this.chain(doc, () => this.store.putWindow(w))
  }

  private closedWindow (e: ChangeEvent): void {
    // The content is read now (a loaded doc: synchronously), as of the window's last record.
    const content = this.content(e.doc)
    if (this.closed) return
    const made = this.prepare(changed(e))
    this.chain(e.doc, async () => {
      await this.persist(made, content)
      await this.store.removeWindow(e.doc)
    })
  }

  /**
   * A window the last run left open: told up to the doc's newest stored record (a step of the
   * doc's chain: a new window of the doc is stored only after this one is removed).
   */
  private async recover (w: OpenWindow): Promise<void> {
    const head = await this.headOf(w.doc)
    if (head !== undefined && head >= w.fromSeq) {
      const e: ChangeEvent = { doc: w.doc, fromSeq: w.fromSeq, toSeq: head, updates: 1, users: w.user !== undefined ? [w.user] : [] }
      await this.persist(this.prepare({ ...changed(e), recovered: true }), this.content(w.doc))
    }
    await this.store.removeWindow(w.doc)
  }

  /** With `content: true`, the doc's JSON view (none if it cannot be read: the event goes out without). */
  private content (doc: string): Promise<object> | undefined {
    if (!this.opts.content) return undefined
    return this.deps.contentOf(doc).then(v => ({ content: v.content, types: v.types }), (err: unknown) => {
      this.logger.warn({ doc, err }, 'could not read the doc for a webhook\'s content')
      return {}
    })
  }

  private async headOf (doc: string): Promise<number | undefined> {
    const storage = this.deps.storage
    if (storage.heads !== undefined) return (await storage.heads([doc])).get(doc)
    return (await storage.load(doc)).at(-1)?.seq
  }

  /** Runs `step` after the doc's earlier steps; a failing step is logged and the chain goes on. */
  private chain (doc: string, step: () => Promise<void>): void {
    const prev = this.chains.get(doc) ?? Promise.resolve()
    const next = prev.then(step).catch((err: unknown) => { this.logger.error({ doc, err }, 'webhooks: storing an event failed') })
    this.chains.set(doc, next)
    void next.then(() => { if (this.chains.get(doc) === next) this.chains.delete(doc) })
  }

  /**
   * After the hooks' final flush: waits until every event is stored, tries what is due for up
   * to `drainMs`, and leaves the rest in storage for the next start. Idempotent.
   */
  async close (): Promise<void> {
    if (this.closed) return
    for (let i = 0; i < 100 && this.chains.size > 0; i++) await Promise.all([...this.chains.values()])
    this.closed = true
    await this.outbox.close(this.opts.drainMs)
  }
}

function changed (e: ChangeEvent): Omit<ChangedEvent, 'id' | 'at'> {
  return {
    event: 'changed',
    doc: e.doc,
    fromCursor: formatCursor(e.doc, e.fromSeq),
    toCursor: formatCursor(e.doc, e.toSeq),
    fromSeq: e.fromSeq,
    toSeq: e.toSeq,
    updates: e.updates,
    users: e.users
  }
}
