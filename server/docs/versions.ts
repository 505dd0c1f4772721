/**
 * A doc's versions: full states kept beside its log, in the store's meta values (so they live on
 * every backend, share its durability and its backups, and outlive compaction: a version holds
 * its whole state, not a position in the log that compaction may fold away).
 *
 * Layout, per doc:
 * - `versions:<doc>` → `<id>`: the version's info as JSON (small: listing reads only these);
 * - `version-states:<doc>` → `<id>`: the doc's state then (`Y.encodeStateAsUpdate`).
 * The state is written before the info and removed after it, so every listed version has its
 * state. Ids sort in time order (zero-padded base-36 milliseconds, bumped within a process so two
 * versions of one millisecond still sort, then random characters so two nodes never collide).
 *
 * Taking one (`take`) and restoring one (`restore`, docs/restore.ts) are serialised per doc, as
 * are pruning and removal, so none of them sees another's half-written version. Automatic
 * checkpoints (docs/checkpoints.ts) come through here too; at most `maxAutoVersions` of them are
 * kept per doc, oldest pruned first. Versions taken on demand are kept until the doc is deleted.
 */
import { createHash, randomBytes } from 'node:crypto'
import * as Y from 'yjs'
import { formatCursor } from '../../shared/cursor.js'
import { WeftError } from '../errors.js'
import type { Logger } from '../logger.js'
import type { Metrics } from '../metrics.js'
import type { Hooks } from '../hooks.js'
import type { MetaStore } from '../storage/types.js'
import type { DocPeer } from './broadcast.js'
import type { DocRegistry } from './registry.js'
import type { SharedDoc } from './shared-doc.js'
import { Checkpoints } from './checkpoints.js'
import { restoreUpdate } from './restore.js'

/** What `GET /docs/:doc/versions` lists for each version. */
export interface VersionInfo {
  id: string
  name?: string
  /** ISO time it was taken. */
  at: string
  /** The SSE / poll cursor of the doc at that moment (its `seq`, formatted). */
  cursor: string
  seq: number
  /** Bytes of the stored state. */
  size: number
  /** Who took it (`sub` of their token); absent for automatic checkpoints and anonymous users. */
  by?: string
  /** Taken automatically (pruned to `maxAutoVersions`) rather than on demand (kept). */
  auto: boolean
}

/** What is stored: the info plus a fingerprint of the content (see `fingerprint`). */
interface StoredInfo extends VersionInfo { fp: string }

export interface RestoreResult {
  /** Cursor and sequence number of the record that restored it (the current ones if nothing changed). */
  cursor: string
  seq: number
  version: VersionInfo
  /** A version holding the content the restore replaced: restore it to undo the restore. */
  before: VersionInfo
}

export interface VersionOptions {
  versionQuietMs: number
  versionIntervalMs: number
  maxAutoVersions: number
  logger: Logger
}

/** Longest version name. */
export const MAX_VERSION_NAME = 200
const ID = /^[0-9a-z]{9}[0-9a-z]{6}$/

/**
 * An unknown version: 404. Not a WeftError: the refusal table (shared/errors.ts) has no 404, on
 * purpose (a client reads a proxy's 404 as "no Weft here"); `statusOf` keeps a plain error's status.
 */
export class VersionNotFound extends Error {
  override name = 'VersionNotFound'
  readonly status = 404
  constructor (id: string) { super(`no version ${JSON.stringify(id.slice(0, 40))} of this doc`) }
}

const infoNs = (doc: string): string => `versions:${doc}`
const stateNs = (doc: string): string => `version-states:${doc}`

let lastMs = 0
/** A new version id: later ids sort after earlier ones (within a process, strictly). */
export function newVersionId (): string {
  lastMs = Math.max(Date.now(), lastMs + 1)
  const rand = randomBytes(6).reduce((s, b) => s + (b % 36).toString(36), '')
  return lastMs.toString(36).padStart(9, '0') + rand
}

/** True for a string shaped like a version id (anything else is answered as not found). */
export const isVersionId = (id: unknown): id is string => typeof id === 'string' && ID.test(id)

/**
 * The content of a Y.Doc as a short hash of its state vector and delete set: equal exactly
 * when the doc holds the same structs and the same deletions. A state vector alone would miss a
 * change that only deletes (deleting creates no struct).
 */
export function fingerprint (ydoc: Y.Doc): string {
  return createHash('sha256').update(Y.encodeSnapshot(Y.snapshot(ydoc))).digest('hex').slice(0, 32)
}

/** Removes every version of `doc` (both namespaces). Prefer `Versions.remove`, which also drops a pending checkpoint. */
export async function removeVersions (meta: MetaStore, doc: string): Promise<void> {
  await meta.remove(infoNs(doc))
  await meta.remove(stateNs(doc))
}

/** The doc's state as a version captures it, all read in one synchronous step. */
interface Capture { state: Uint8Array, seq: number, fp: string }

function capture (doc: SharedDoc): Capture {
  return { state: Y.encodeStateAsUpdate(doc.ydoc), seq: doc.seq, fp: fingerprint(doc.ydoc) }
}

const publicInfo = ({ fp: _fp, ...info }: StoredInfo): VersionInfo => info

export class Versions {
  private readonly checkpoints: Checkpoints
  /** Per doc: the tail of its serialised version work. */
  private readonly chains = new Map<string, Promise<unknown>>()
  /** Per doc: the fingerprint of its newest version, once known. */
  private readonly newestFp = new Map<string, string>()
  private readonly taken: { auto: () => void, manual: () => void }

  constructor (private readonly meta: MetaStore, private readonly registry: DocRegistry, private readonly opts: VersionOptions, private readonly metrics: Metrics, private readonly hooks?: Hooks) {
    this.taken = {
      auto: () => metrics.inc('versions_taken_total{kind="auto"}'),
      manual: () => metrics.inc('versions_taken_total{kind="manual"}')
    }
    this.checkpoints = new Checkpoints(registry, { quietMs: opts.versionQuietMs, intervalMs: opts.versionIntervalMs }, doc => { void this.checkpoint(doc) })
    registry.on('unloading', this.onUnloading)
  }

  /** What is remembered per doc lives while the doc is loaded (or has version work pending). */
  private readonly onUnloading = (doc: SharedDoc): void => {
    if (!this.chains.has(doc.name)) this.newestFp.delete(doc.name)
  }

  /** Every version of `doc`, newest first. */
  async list (doc: string): Promise<VersionInfo[]> {
    return (await this.stored(doc)).reverse().map(publicInfo)
  }

  async info (doc: string, id: string): Promise<VersionInfo | undefined> {
    const s = await this.storedInfo(doc, id)
    return s === undefined ? undefined : publicInfo(s)
  }

  /** The version's state (one Yjs update), or undefined for an unknown id. */
  async state (doc: string, id: string): Promise<Uint8Array | undefined> {
    if (!isVersionId(id)) return undefined
    return await this.meta.get(stateNs(checkNs(doc)), id)
  }

  /** The version as a Y.Doc of its own (the caller destroys it). Throws `VersionNotFound`. */
  async open (doc: string, id: string): Promise<{ ydoc: Y.Doc, info: VersionInfo }> {
    const info = await this.info(doc, id)
    const state = info === undefined ? undefined : await this.state(doc, id)
    if (info === undefined || state === undefined) throw new VersionNotFound(id)
    const ydoc = new Y.Doc()
    Y.applyUpdate(ydoc, state)
    return { ydoc, info }
  }

  /** A version taken on demand: always stored, even when nothing changed since the last. */
  take (doc: SharedDoc, opts: { name?: string, by?: string } = {}): Promise<VersionInfo> {
    const c = capture(doc)
    return this.serial(doc.name, async () => {
      const info = await this.store(doc.name, c, { ...opts, auto: false })
      this.taken.manual()
      return info
    })
  }

  /**
   * Brings `doc` back to version `id`'s content as one update through the write pipeline
   * (stored, then broadcast to every peer). The content it replaces is kept as a version first
   * (`before`), unless the newest version already holds it. Throws `VersionNotFound`.
   */
  restore (doc: SharedDoc, id: string, user?: string): Promise<RestoreResult> {
    return this.serial(doc.name, async () => {
      const info = await this.storedInfo(doc.name, id)
      const state = info === undefined ? undefined : await this.meta.get(stateNs(doc.name), id)
      if (info === undefined || state === undefined) throw new VersionNotFound(id)
      // Edits already accepted go first, so the restore reverts them rather than racing them.
      await doc.flushed()
      // One synchronous step: the content kept as `before` is exactly what the update reverts.
      const now = capture(doc)
      const update = restoreUpdate(doc.ydoc, state)
      const newest = (await this.stored(doc.name)).at(-1)
      const label = info.name !== undefined ? `"${info.name.slice(0, 150)}"` : `version ${id}`
      const kept = newest !== undefined && newest.fp === now.fp
      const before = kept ? publicInfo(newest) : await this.store(doc.name, now, { name: `Before restoring ${label}`, by: user, auto: false })
      if (!kept) this.taken.manual()
      let seq = doc.seq
      if (update !== null) {
        const origin = restoreOrigin(user)
        const from = doc.seq
        await doc.submit(update, origin)
        seq = doc.history.since(from, doc.seq)?.find(r => r.origin === origin)?.seq ?? doc.seq
      }
      this.metrics.inc('versions_restored_total')
      this.opts.logger.info({ doc: doc.name, version: id, seq, user, bytes: update?.byteLength ?? 0 }, 'restored a version')
      this.hooks?.restored({ doc: doc.name, version: id, seq, ...(info.name !== undefined ? { name: info.name } : {}), ...(user !== undefined ? { user } : {}) })
      return { cursor: formatCursor(doc.name, seq), seq, version: publicInfo(info), before }
    })
  }

  /**
   * Removes every version of `doc` (its delete): a checkpoint still pending for the loaded doc is
   * dropped, and one being stored finishes first, so nothing of the old doc is left behind.
   */
  remove (doc: string): Promise<void> {
    this.checkpoints.forget(doc)
    return this.serial(doc, async () => {
      await removeVersions(this.meta, checkNs(doc))
      this.newestFp.delete(doc)
    })
  }

  /** Waits for version work in progress (checkpoints of docs unloading at shutdown); stops the timers. */
  async close (): Promise<void> {
    while (this.chains.size > 0) await Promise.allSettled([...this.chains.values()])
    this.checkpoints.close()
    this.registry.off('unloading', this.onUnloading)
  }

  // ---- automatic checkpoints --------------------------------------------------------------

  /** An automatic checkpoint: skipped when the doc's content equals its newest version's. */
  private checkpoint (doc: SharedDoc): Promise<void> {
    const fp = fingerprint(doc.ydoc)
    const known = this.newestFp.get(doc.name)
    if (known === fp) return Promise.resolve()
    const c: Capture = { state: Y.encodeStateAsUpdate(doc.ydoc), seq: doc.seq, fp }
    return this.serial(doc.name, async () => {
      const newest = (await this.stored(doc.name)).at(-1)
      if (newest?.fp === fp) { this.newestFp.set(doc.name, fp); return }
      await this.store(doc.name, c, { auto: true })
      this.taken.auto()
      await this.prune(doc.name)
    }).catch((err: unknown) => {
      this.opts.logger.error({ doc: doc.name, err }, 'automatic checkpoint failed')
    })
  }

  /** Keeps the newest `maxAutoVersions` automatic versions. */
  private async prune (doc: string): Promise<void> {
    const autos = (await this.stored(doc)).filter(v => v.auto)
    for (const v of autos.slice(0, Math.max(0, autos.length - this.opts.maxAutoVersions))) {
      await this.meta.remove(infoNs(doc), v.id)
      await this.meta.remove(stateNs(doc), v.id)
    }
  }

  // ---- storage ------------------------------------------------------------------------------

  private async store (doc: string, c: Capture, opts: { name?: string, by?: string, auto: boolean }): Promise<VersionInfo> {
    const id = newVersionId()
    const info: StoredInfo = {
      id,
      ...(opts.name !== undefined ? { name: opts.name } : {}),
      at: new Date().toISOString(),
      cursor: formatCursor(doc, c.seq),
      seq: c.seq,
      size: c.state.byteLength,
      ...(opts.by !== undefined ? { by: opts.by } : {}),
      auto: opts.auto,
      fp: c.fp
    }
    await this.meta.put(stateNs(checkNs(doc)), id, c.state)
    await this.meta.put(infoNs(doc), id, Buffer.from(JSON.stringify(info)))
    this.newestFp.set(doc, c.fp)
    this.opts.logger.debug({ doc, version: id, auto: opts.auto, bytes: c.state.byteLength }, 'version taken')
    return publicInfo(info)
  }

  /** Stored infos, oldest first (ids sort by time). */
  private async stored (doc: string): Promise<StoredInfo[]> {
    const out: StoredInfo[] = []
    for (const e of await this.meta.list(infoNs(checkNs(doc)))) {
      const info = parseInfo(e.value)
      if (info !== null) out.push(info)
      else this.opts.logger.warn({ doc, version: e.key }, 'unreadable version info skipped')
    }
    return out
  }

  private async storedInfo (doc: string, id: string): Promise<StoredInfo | undefined> {
    if (!isVersionId(id)) return undefined
    const bytes = await this.meta.get(infoNs(checkNs(doc)), id)
    return bytes === undefined ? undefined : parseInfo(bytes) ?? undefined
  }

  /** Runs `step` after the doc's version work queued before it. */
  private serial<T> (doc: string, step: () => Promise<T>): Promise<T> {
    const run = (this.chains.get(doc) ?? Promise.resolve()).then(step)
    const tail = run.catch(() => {})
    this.chains.set(doc, tail)
    void tail.then(() => {
      if (this.chains.get(doc) !== tail) return
      this.chains.delete(doc)
      if (!this.registry.has(doc)) this.newestFp.delete(doc)
    })
    return run
  }
}

/** The origin of a restore's update: never a peer, so every peer receives it; `user` for hooks. */
function restoreOrigin (user: string | undefined): DocPeer {
  return { access: 'write', ...(user !== undefined ? { user } : {}), deliverUpdate () {}, deliverAwareness () {}, close () {} }
}

function parseInfo (bytes: Uint8Array): StoredInfo | null {
  try {
    const v = JSON.parse(Buffer.from(bytes).toString('utf8')) as StoredInfo
    return isVersionId(v?.id) && typeof v.seq === 'number' && typeof v.fp === 'string' ? v : null
  } catch {
    return null
  }
}

/** Meta namespaces hold at most 1024 characters: a doc name too long for them has no versions. */
function checkNs (doc: string): string {
  if (stateNs(doc).length > 1024) throw new WeftError('malformed', 'doc name too long for versions (at most 1000 characters)')
  return doc
}
