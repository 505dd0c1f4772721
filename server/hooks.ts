/**
 * Server hooks: an embedder's code at the points of a doc's and a session's life, like
 * Hocuspocus' extensions. `createWeft({ hooks: [a, b] })` runs them in list order.
 *
 * - `beforeUpdate` is the one that decides: it runs synchronously for every update a client
 *   sends, on any pipe, before the update is checked or stored. Throwing refuses it: nothing is
 *   stored, the doc is unchanged, and the client gets the refusal — a `WeftError`'s own
 *   (shared/errors.ts), or `forbidden` (WebSocket 4403, HTTP 403) for any other error.
 * - The others observe: `onConnect` / `onDisconnect` (an editor's session joins or leaves a
 *   doc, WebSocket or HTTP), `onLoad` / `onUnload` (a doc enters or leaves memory), `onChange`
 *   (stored changes, debounced per doc, with who wrote them), `onCreate` (a doc's first record is
 *   stored), `onDelete` (a doc was deleted), `onRestore` (a doc was brought back to a version).
 *   They may be async; what they throw is logged and changes nothing.
 *
 * `onChange` and `onCreate` tell what this node stored: in a cluster the records other nodes
 * stored arrive here too (integrated from the bus, or back-filled), but only the node that
 * stored a record counts it, so each change is told once, not by every node holding the doc.
 * Changes are debounced per doc (change-windows.ts: a quiet period and a longest delay);
 * webhooks (webhooks/) are fed the same records with windows of their own (`add`).
 */
import { WeftError } from '../shared/errors.js'
import type { Access } from './docs/broadcast.js'
import type { Logger } from './logger.js'
import { ChangeWindows, type ChangeEvent, type ChangeWindowOptions } from './change-windows.js'

export type { ChangeEvent } from './change-windows.js'

export type HookTransport = 'websocket' | 'http'

export interface SessionEvent { doc: string, user?: string, access: Access, transport: HookTransport }
export interface UpdateHookEvent { doc: string, user?: string, transport: HookTransport, update: Uint8Array }
export interface DocEvent { doc: string }
export interface DeleteEvent { doc: string, user?: string }
export interface RestoreEvent {
  doc: string
  /** The version restored (docs/versions.ts) and its name, if it has one. */
  version: string
  name?: string
  /** Sequence number of the record that restored it. */
  seq: number
  user?: string
}

export interface WeftHooks {
  onConnect? (e: SessionEvent): void | Promise<void>
  onDisconnect? (e: SessionEvent): void | Promise<void>
  /** Synchronous; throw to refuse the update (see the module comment). */
  beforeUpdate? (e: UpdateHookEvent): void
  onChange? (e: ChangeEvent): void | Promise<void>
  onLoad? (e: DocEvent): void | Promise<void>
  onUnload? (e: DocEvent): void | Promise<void>
  onCreate? (e: DocEvent): void | Promise<void>
  onDelete? (e: DeleteEvent): void | Promise<void>
  onRestore? (e: RestoreEvent): void | Promise<void>
}

/** Every hook name, in the order the README lists them (options validation names them). */
export const hookNames = ['onConnect', 'onDisconnect', 'beforeUpdate', 'onChange', 'onLoad', 'onUnload', 'onCreate', 'onDelete', 'onRestore'] as const

/** A hook refused an update; `cause` is what it threw. */
export class HookRefusal extends WeftError {
  override name = 'HookRefusal'
}

type Observer = Exclude<keyof WeftHooks, 'beforeUpdate'>

export class Hooks {
  /** Who hears of changes, each with its windows: the `onChange` hooks, then those `add` gave. */
  private readonly feeds: ChangeWindows[] = []
  /** Per doc, the records of the batch this node is storing now (`committed`): the local ones. */
  private readonly local = new Map<string, { first: number, last: number }>()

  private readonly list: WeftHooks[]

  constructor (list: readonly WeftHooks[], private readonly logger: Logger, window: ChangeWindowOptions) {
    this.list = [...list]
    if (list.some(h => h.onChange !== undefined)) this.feeds.push(new ChangeWindows(window, { closed: e => this.notify('onChange', e) }))
  }

  /**
   * Adds a hook after the embedder's (webhooks/), and `windows` of its own, fed every record
   * this node stores (for a debounce other than the `onChange` hooks').
   */
  add (hooks: WeftHooks, windows?: ChangeWindows): void {
    this.list.push(hooks)
    if (windows !== undefined) this.feeds.push(windows)
  }

  get any (): boolean { return this.list.length > 0 }

  /** Runs every `beforeUpdate` in order; throws the refusal of the first that throws. */
  beforeUpdate (e: UpdateHookEvent): void {
    for (const h of this.list) {
      if (h.beforeUpdate === undefined) continue
      try {
        h.beforeUpdate(e)
      } catch (err) {
        if (err instanceof WeftError) throw err
        throw new HookRefusal('forbidden', (err as Error)?.message ?? 'refused by a server hook')
      }
    }
  }

  connected (e: SessionEvent): void { this.notify('onConnect', e) }
  disconnected (e: SessionEvent): void { this.notify('onDisconnect', e) }
  loaded (doc: string): void { this.notify('onLoad', { doc }) }
  unloaded (doc: string): void {
    // A change still waiting for its debounce goes out before the doc's unload.
    this.flushChange(doc)
    this.local.delete(doc)
    this.notify('onUnload', { doc })
  }

  created (doc: string): void { this.notify('onCreate', { doc }) }
  deleted (e: DeleteEvent): void {
    // What was still debounced for the doc's old life is told first.
    this.flushChange(e.doc)
    this.local.delete(e.doc)
    this.notify('onDelete', e)
  }
  restored (e: RestoreEvent): void { this.notify('onRestore', e) }

  /**
   * This node is storing `count` records of `doc` numbered from `first` (before they are
   * applied): the records `changed` and `firstStored` then count. Records applied outside that
   * range were stored by another node.
   */
  committed (doc: string, first: number, count: number): void {
    this.local.set(doc, { first, last: first + count - 1 })
  }

  /** `seq` is the first record stored for `doc` (docs/doc-log.ts): `onCreate` if this node stored it. */
  firstStored (doc: string, seq: number): void {
    if (this.isLocal(doc, seq)) this.created(doc)
  }

  /** A record of `doc` applied (from `user`, if known): one `onChange` per doc per window, if this node stored it. */
  changed (doc: string, seq: number, user: string | undefined): void {
    if (this.feeds.length === 0 || !this.isLocal(doc, seq)) return
    for (const f of this.feeds) f.add(doc, seq, user)
  }

  private isLocal (doc: string, seq: number): boolean {
    const r = this.local.get(doc)
    return r !== undefined && seq >= r.first && seq <= r.last
  }

  private flushChange (doc: string): void {
    for (const f of this.feeds) f.flush(doc)
  }

  /** Tells what is still debounced (shutdown). */
  flush (): void { for (const f of this.feeds) f.flushAll() }

  private notify<K extends Observer> (name: K, e: Parameters<NonNullable<WeftHooks[K]>>[0]): void {
    for (const h of this.list) {
      const fn = h[name] as ((e: unknown) => void | Promise<void>) | undefined
      if (fn === undefined) continue
      try {
        const r = fn.call(h, e)
        if (r instanceof Promise) r.catch((err: unknown) => this.logger.error({ hook: name, err }, 'a server hook failed'))
      } catch (err) {
        this.logger.error({ hook: name, err }, 'a server hook failed')
      }
    }
  }
}
