/**
 * The doc registry: each doc is loaded once however many peers race for it, kept while anyone
 * holds it, and unloaded (after a final flush and compaction) once nobody has held it for
 * `unloadAfterMs`. Holders are counted by identity, so releasing twice is harmless.
 *
 * A doc with no content (nobody wrote it yet) is unloaded as soon as its last holder leaves:
 * keeping it costs a `maxDocs` slot and reloading it costs one empty storage read. Otherwise
 * one reader going through 10,000 made-up names held every slot for `unloadAfterMs` (30 s) and
 * everyone else was refused new docs. Readers can also ask `exists()` first and not load a
 * doc that does not exist at all (http/snapshot.ts, limits/reader-hold.ts).
 *
 * Lifecycle: `loaded` is emitted once a doc is in memory, `unloading` when it leaves (before its
 * final flush). What lives beside a doc for as long as it is loaded — poll hubs, and next the
 * cluster's stream readers — attaches and detaches on these two events: no identity checks
 * against a reloaded doc, no sweeps.
 *
 * Holding: `lease(name)` gives `{ doc, release }`. The other holders are WebSocket connections
 * and readers' holds (limits/reader-hold.ts), which hold with `acquire(name, this)` to save a
 * lease object per socket or stream.
 */
import { EventEmitter } from 'node:events'
import type { DocOptions } from './shared-doc.js'
import { SharedDoc } from './shared-doc.js'
import { isBlank } from './blank.js'
import { WeftError } from '../errors.js'

interface Entry {
  name: string
  doc: Promise<SharedDoc>
  loaded: SharedDoc | null
  holders: Set<object>
  unloadTimer: NodeJS.Timeout | null
}

export interface RegistryOptions extends DocOptions {
  unloadAfterMs: number
  /** Most docs in memory at once; acquiring one more fails with `TooManyDocsError`. */
  maxDocs: number
}

export class TooManyDocsError extends WeftError {
  override name = 'TooManyDocsError'
  constructor (message: string) { super('tooManyRequests', message) }
}

/** A hold on a loaded doc: it stays in memory until every lease is released. */
export interface DocLease {
  readonly doc: SharedDoc
  /** Gives the hold back. Idempotent. */
  release (): void
}

export interface RegistryEvents {
  /** A doc finished loading (emitted once per load, before anyone awaiting it resumes). */
  loaded: [SharedDoc]
  /** A doc is being unloaded: nobody holds it; its final flush and compaction follow. */
  unloading: [SharedDoc]
}

export class DocRegistry extends EventEmitter<RegistryEvents> {
  private readonly entries = new Map<string, Entry>()
  /** Docs being unloaded: a new acquire waits for the unload, then loads afresh. */
  private readonly unloading = new Map<string, Promise<void>>()
  /** How many times a doc was loaded from storage (tests assert "loaded once"). */
  loads = 0
  private closed = false

  constructor (private readonly opts: RegistryOptions) { super() }

  /** Holds doc `name` (loading it if needed) until the lease is released. */
  async lease (name: string): Promise<DocLease> {
    const holder = {}
    let doc: SharedDoc
    try {
      doc = await this.acquire(name, holder)
    } catch (err) {
      this.release(name, holder)
      throw err
    }
    let released = false
    return { doc, release: () => { if (!released) { released = true; this.release(name, holder) } } }
  }

  async acquire (name: string, holder: object): Promise<SharedDoc> {
    if (this.closed) throw new Error('server is shutting down')
    const pendingUnload = this.unloading.get(name)
    if (pendingUnload !== undefined) await pendingUnload
    let entry = this.entries.get(name)
    if (entry === undefined) {
      if (this.entries.size >= this.opts.maxDocs) throw new TooManyDocsError(`too many docs in memory (max ${this.opts.maxDocs})`)
      this.loads++
      const e: Entry = { name, doc: SharedDoc.load(name, this.opts), loaded: null, holders: new Set(), unloadTimer: null }
      this.entries.set(name, e)
      e.doc.then(doc => { e.loaded = doc; this.emit('loaded', doc) }, () => {
        // A failed load is forgotten so the next peer tries again.
        if (this.entries.get(name) === e) this.entries.delete(name)
      })
      entry = e
    }
    entry.holders.add(holder)
    if (entry.unloadTimer != null) { clearTimeout(entry.unloadTimer); entry.unloadTimer = null }
    try {
      return await entry.doc
    } catch (err) {
      entry.holders.delete(holder)
      throw err
    }
  }

  release (name: string, holder: object): void {
    const entry = this.entries.get(name)
    if (entry === undefined || !entry.holders.delete(holder) || entry.holders.size > 0) return
    const blank = entry.loaded !== null && isBlank(entry.loaded)
    entry.unloadTimer = setTimeout(() => { void this.unload(entry) }, blank ? 0 : this.opts.unloadAfterMs)
    entry.unloadTimer.unref?.()
  }

  /** True while `name` is in memory or loading. */
  has (name: string): boolean {
    return this.entries.has(name)
  }

  /**
   * Whether `name` is a doc at all: in memory, or with anything in storage (a reader's question:
   * is this a doc or a made-up name?). Does not load it into memory. Waits for an unload in
   * progress, whose flush may still be storing.
   */
  async exists (name: string): Promise<boolean> {
    if (this.has(name)) return true
    if (this.closed) throw new Error('server is shutting down')
    const pendingUnload = this.unloading.get(name)
    if (pendingUnload !== undefined) await pendingUnload
    return (await this.opts.storage.load(name)).length > 0
  }

  private async unload (entry: Entry): Promise<void> {
    if (entry.holders.size > 0 || this.entries.get(entry.name) !== entry) return
    this.entries.delete(entry.name)
    entry.unloadTimer = null
    const done = entry.doc.then(doc => {
      this.emit('unloading', doc)
      return doc.destroy()
    }, () => {}).finally(() => {
      if (this.unloading.get(entry.name) === done) this.unloading.delete(entry.name)
    })
    this.unloading.set(entry.name, done)
    await done
  }

  /**
   * Deletes doc `name`: if loaded, it is retired (shared-doc.ts `retire`: peers ended with 4410,
   * writes in its pipeline settle, nothing more stored) and leaves memory ('unloading' is
   * emitted after); then `wipe` removes what storage holds. Meanwhile the name acts as if being
   * unloaded: whoever acquires it waits, then loads what storage holds by then (nothing).
   * Returns `wipe`'s result.
   */
  async delete<T> (name: string, wipe: (doc: SharedDoc | null) => Promise<T>): Promise<T> {
    if (this.closed) throw new Error('server is shutting down')
    const pendingUnload = this.unloading.get(name)
    if (pendingUnload !== undefined) await pendingUnload
    const entry = this.entries.get(name)
    if (entry !== undefined) {
      this.entries.delete(name)
      if (entry.unloadTimer != null) { clearTimeout(entry.unloadTimer); entry.unloadTimer = null }
    }
    const done = (async () => {
      const doc = entry === undefined ? null : await entry.doc.catch(() => null)
      if (doc !== null) {
        // Retired first: its peers (poll hubs among them) hear 4410 before they are detached.
        await doc.retire()
        this.emit('unloading', doc)
      }
      return await wipe(doc)
    })()
    const settled = done.then(() => {}, () => {}).finally(() => {
      if (this.unloading.get(name) === settled) this.unloading.delete(name)
    })
    this.unloading.set(name, settled)
    return await done
  }

  /** A loaded doc, if it is in memory and finished loading. */
  get (name: string): SharedDoc | undefined {
    return this.entries.get(name)?.loaded ?? undefined
  }

  /** Loaded docs (not the ones still loading). */
  docs (): SharedDoc[] {
    const out: SharedDoc[] = []
    for (const e of this.entries.values()) if (e.loaded != null) out.push(e.loaded)
    return out
  }

  holders (name: string): number {
    return this.entries.get(name)?.holders.size ?? 0
  }

  get size (): number { return this.entries.size }
  get pendingUnloads (): number {
    let n = 0
    for (const e of this.entries.values()) if (e.unloadTimer != null) n++
    return n
  }

  get failedDocs (): number {
    let n = 0
    for (const e of this.entries.values()) if (e.loaded?.failed != null) n++
    return n
  }

  /** Unloads every doc now (flush + compaction) and refuses new acquires. Idempotent. */
  async close (): Promise<void> {
    this.closed = true
    const all = [...this.entries.values()]
    for (const e of all) {
      if (e.unloadTimer != null) clearTimeout(e.unloadTimer)
      e.holders.clear()
    }
    await Promise.all([...all.map(e => this.unload(e)), ...this.unloading.values()])
  }
}
