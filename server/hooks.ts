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
 */
import { WeftError } from '../shared/errors.js'
import type { Access } from './docs/broadcast.js'
import type { Logger } from './logger.js'

export type HookTransport = 'websocket' | 'http'

export interface SessionEvent { doc: string, user?: string, access: Access, transport: HookTransport }
export interface UpdateHookEvent { doc: string, user?: string, transport: HookTransport, update: Uint8Array }
export interface ChangeEvent {
  doc: string
  /** Sequence numbers of the first and last stored record in this event (the cursors). */
  fromSeq: number
  toSeq: number
  /** Records stored. */
  updates: number
  /** Who wrote them (`sub` of their tokens; server-side edits and unknown users are left out). */
  users: string[]
}
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

interface Pending { fromSeq: number, toSeq: number, updates: number, users: Set<string>, timer: NodeJS.Timeout }

export class Hooks {
  private readonly pending = new Map<string, Pending>()

  constructor (private readonly list: readonly WeftHooks[], private readonly logger: Logger, private readonly changeDebounceMs: number) {}

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
    this.notify('onUnload', { doc })
  }

  created (doc: string): void { this.notify('onCreate', { doc }) }
  deleted (e: DeleteEvent): void {
    // What was still debounced for the doc's old life is told first.
    this.flushChange(e.doc)
    this.notify('onDelete', e)
  }
  restored (e: RestoreEvent): void { this.notify('onRestore', e) }

  /** A stored record of `doc` (from `user`, if known): one `onChange` per doc per debounce window. */
  changed (doc: string, seq: number, user: string | undefined): void {
    if (!this.list.some(h => h.onChange !== undefined)) return
    let p = this.pending.get(doc)
    if (p === undefined) {
      const timer = setTimeout(() => this.flushChange(doc), this.changeDebounceMs)
      timer.unref()
      p = { fromSeq: seq, toSeq: seq, updates: 0, users: new Set(), timer }
      this.pending.set(doc, p)
    }
    p.toSeq = seq
    p.updates++
    if (user !== undefined) p.users.add(user)
  }

  private flushChange (doc: string): void {
    const p = this.pending.get(doc)
    if (p === undefined) return
    this.pending.delete(doc)
    clearTimeout(p.timer)
    this.notify('onChange', { doc, fromSeq: p.fromSeq, toSeq: p.toSeq, updates: p.updates, users: [...p.users] })
  }

  /** Sends what is still debounced (shutdown). */
  flush (): void { for (const doc of [...this.pending.keys()]) this.flushChange(doc) }

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
