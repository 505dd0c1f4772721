/**
 * One loaded document: the Y.Doc, its awareness, its peers, and the write pipeline.
 *
 * Durability order: an update is validated, written to storage, and only then applied to the
 * Y.Doc and broadcast. So the Y.Doc only ever holds stored state: a step2, a snapshot or an SSE
 * event can never show a peer something a crash could take back. Updates that arrive while a
 * write is in flight wait and go together in the next batch (group commit): one storage write
 * per batch, however many peers are typing.
 */
import * as Y from 'yjs'
import * as awarenessProtocol from 'y-protocols/awareness'
import { initialSeq } from '../../shared/cursor.js'
import { CloseCode, CloseReason } from '../../shared/close-codes.js'
import type { AwarenessEntry } from '../../shared/awareness.js'
import { encodeAwarenessEntries } from '../../shared/awareness.js'
import type { Logger } from '../logger.js'
import type { Storage, UpdateRecord } from '../storage/types.js'
import { AwarenessBroadcast, UpdateBroadcast, type AwarenessChanges, type DocPeer } from './broadcast.js'
import { History } from './history.js'
import { isEmptyUpdate } from './validate.js'

export interface DocOptions {
  storage: Storage
  logger: Logger
  /** Compact the stored log once this many records were appended since the last compaction. */
  compactAfterRecords: number
  /** … or once this many bytes were appended. */
  compactAfterBytes: number
  /** Resume window kept in memory: records and bytes. */
  historyRecords: number
  historyBytes: number
  /** Called after every broadcast update (embedding events, cluster publish, metrics). */
  onUpdate?: (doc: SharedDoc, b: UpdateBroadcast) => void
  onAwareness?: (doc: SharedDoc, b: AwarenessBroadcast) => void
  /** Called when the doc's write health changes (for /readyz). */
  onHealth?: (doc: SharedDoc) => void
}

interface PendingWrite {
  update: Uint8Array
  origin: DocPeer | null
  resolve: () => void
  reject: (err: Error) => void
}

export class StorageError extends Error {
  override name = 'StorageError'
}

export class SharedDoc {
  readonly ydoc = new Y.Doc({ gc: true })
  readonly awareness = new awarenessProtocol.Awareness(this.ydoc)
  readonly peers = new Set<DocPeer>()
  /** Which peer introduced each awareness client id (anti-spoofing). */
  private readonly awarenessOwners = new Map<number, DocPeer>()
  /** Sequence number of the newest stored record. */
  seq: number
  readonly history: History
  /** Set while storage refuses writes: the doc is read-only and /readyz fails. */
  failed: Error | null = null
  lastChange = 0
  updatesStored = 0
  private pending: PendingWrite[] = []
  private writing: Promise<void> | null = null
  private applyingSeq = 0
  private sinceCompaction = { records: 0, bytes: 0 }
  private compacting: Promise<void> | null = null
  private destroyed = false

  private constructor (readonly name: string, private readonly opts: DocOptions, records: UpdateRecord[]) {
    this.seq = records.length > 0 ? records[records.length - 1]!.seq : initialSeq()
    this.history = new History(records.length > 0 ? records[0]!.seq - 1 : this.seq, opts.historyRecords, opts.historyBytes)
    for (const r of records) this.history.push(r)
    this.sinceCompaction = { records: records.length, bytes: records.reduce((n, r) => n + r.update.byteLength, 0) }
    // The server has no presence of its own.
    this.awareness.setLocalState(null)
    this.awareness.on('update', this.onAwarenessUpdate)
  }

  /**
   * Loads a doc from storage. Records that do not decode are quarantined; the rest load.
   * All good records are applied in one transaction (one cleanup pass, not one per record).
   */
  static async load (name: string, opts: DocOptions): Promise<SharedDoc> {
    const records = await opts.storage.load(name)
    // Fast path: every record was validated before it was stored, so apply them all at once and
    // decode each one separately only when an apply throws (then start over on a fresh doc, so a
    // half-applied record leaves nothing behind). Decoding every record first cost about a third
    // of the Yjs work of a cold load (bench coldload, automerge-paper: decode 11-43 ms, apply 36-71).
    const fast = new SharedDoc(name, opts, records)
    try {
      Y.transact(fast.ydoc, () => { for (const r of records) Y.applyUpdate(fast.ydoc, r.update) }, null)
      fast.ydoc.on('update', fast.onYUpdate)
      return fast
    } catch {
      // Not destroy(): that would compact (store) the half-applied state.
      fast.awareness.destroy()
      fast.ydoc.destroy()
    }
    const good: UpdateRecord[] = []
    const bad: number[] = []
    for (const r of records) {
      try {
        Y.decodeUpdate(r.update)
        good.push(r)
      } catch {
        bad.push(r.seq)
      }
    }
    if (bad.length > 0) {
      opts.logger.error({ doc: name, seqs: bad }, 'quarantined stored records that do not decode')
      await opts.storage.quarantine(name, bad)
    }
    const doc = new SharedDoc(name, opts, good)
    Y.transact(doc.ydoc, () => {
      for (const r of good) {
        try {
          Y.applyUpdate(doc.ydoc, r.update)
        } catch (err) {
          opts.logger.error({ doc: name, seq: r.seq, err }, 'stored record failed to apply')
        }
      }
    }, null)
    // Listen only now: loading is not a change anyone needs to hear about.
    doc.ydoc.on('update', doc.onYUpdate)
    return doc
  }

  // ---- writes ----------------------------------------------------------------------------

  /**
   * Stores an update, then applies and broadcasts it. Resolves once stored and delivered;
   * rejects with `StorageError` when storage failed (nothing was applied or broadcast).
   * The caller has validated the update.
   */
  submit (update: Uint8Array, origin: DocPeer | null): Promise<void> {
    if (this.destroyed) return Promise.reject(new StorageError('doc is unloaded'))
    if (isEmptyUpdate(update)) return Promise.resolve()
    return new Promise((resolve, reject) => {
      this.pending.push({ update, origin, resolve, reject })
      this.writing ??= this.writeLoop()
    })
  }

  /** Resolves when everything submitted so far is stored (or failed). */
  async flushed (): Promise<void> {
    while (this.writing != null) await this.writing
  }

  private async writeLoop (): Promise<void> {
    try {
      while (this.pending.length > 0) {
        const batch = this.pending
        this.pending = []
        const first = this.seq + 1
        const records = batch.map((w, i) => ({ seq: first + i, update: w.update }))
        try {
          await this.opts.storage.append(this.name, records)
        } catch (err) {
          this.fail(err as Error, batch)
          continue
        }
        this.seq = first + batch.length - 1
        this.recover()
        for (let i = 0; i < batch.length; i++) this.apply(records[i]!, batch[i]!.origin)
        for (const w of batch) w.resolve()
        this.afterStore(records)
      }
    } finally {
      this.writing = null
    }
  }

  private apply (record: UpdateRecord, origin: DocPeer | null): void {
    this.history.push(record)
    this.applyingSeq = record.seq
    try {
      Y.applyUpdate(this.ydoc, record.update, origin)
    } catch (err) {
      // Validated before storing, so this is a Yjs integration error on a crafted update.
      // It stays stored (a reload quarantines it if it does not decode) and is logged.
      this.opts.logger.error({ doc: this.name, seq: record.seq, err }, 'stored update failed to apply')
    }
    this.applyingSeq = 0
  }

  private fail (err: Error, batch: PendingWrite[]): void {
    const wasHealthy = this.failed == null
    this.failed = err
    this.opts.logger.error({ doc: this.name, err }, 'storage write failed; doc is read-only until a write succeeds')
    const error = new StorageError(`storage write failed: ${err.message}`)
    for (const w of batch) w.reject(error)
    // Writers learn at once (4500) and reconnect with backoff; their resync retries the write.
    for (const peer of [...this.peers]) {
      if (peer.access === 'write') peer.close(CloseCode.storageFailed, CloseReason[CloseCode.storageFailed]!)
    }
    if (wasHealthy) this.opts.onHealth?.(this)
  }

  private recover (): void {
    if (this.failed == null) return
    this.failed = null
    this.opts.logger.info({ doc: this.name }, 'storage writes succeed again')
    this.opts.onHealth?.(this)
  }

  private readonly onYUpdate = (update: Uint8Array, origin: unknown): void => {
    if (this.applyingSeq === 0) {
      // Only the write pipeline may change the Y.Doc; anything else would skip storage.
      this.opts.logger.error({ doc: this.name }, 'the shared Y.Doc was changed outside the write pipeline; use openDoc()')
      return
    }
    this.lastChange = Date.now()
    this.updatesStored++
    const b = new UpdateBroadcast(this.name, update, this.applyingSeq, origin)
    for (const peer of this.peers) {
      if (peer !== origin) peer.deliverUpdate(b)
    }
    this.opts.onUpdate?.(this, b)
  }

  // ---- compaction -------------------------------------------------------------------------

  private afterStore (records: UpdateRecord[]): void {
    this.sinceCompaction.records += records.length
    for (const r of records) this.sinceCompaction.bytes += r.update.byteLength
    if (this.sinceCompaction.records >= this.opts.compactAfterRecords || this.sinceCompaction.bytes >= this.opts.compactAfterBytes) {
      void this.compact()
    }
  }

  /**
   * Replaces the stored log up to the last applied record by the doc's state as one update.
   * The Y.Doc holds exactly the records up to `this.seq` (apply follows store synchronously),
   * so the snapshot and the sequence number agree even while the next batch is being written.
   */
  compact (): Promise<void> {
    if (this.compacting != null) return this.compacting
    if (this.sinceCompaction.records <= 1) return Promise.resolve()
    const upTo = this.seq
    const state = Y.encodeStateAsUpdate(this.ydoc)
    const counted = { ...this.sinceCompaction }
    this.compacting = this.opts.storage.replace(this.name, upTo, state).then(() => {
      this.sinceCompaction.records = Math.max(1, this.sinceCompaction.records - counted.records + 1)
      this.sinceCompaction.bytes = Math.max(state.byteLength, this.sinceCompaction.bytes - counted.bytes + state.byteLength)
      this.opts.logger.debug({ doc: this.name, upTo, bytes: state.byteLength }, 'compacted')
    }, (err: Error) => {
      // Nothing is lost: the uncompacted log is still there. Try again after the next writes.
      this.opts.logger.warn({ doc: this.name, err }, 'compaction failed')
    }).finally(() => { this.compacting = null })
    return this.compacting
  }

  // ---- awareness --------------------------------------------------------------------------

  /**
   * Applies an awareness update from `peer`, keeping only entries for client ids the peer
   * introduced itself (or that nobody holds). Returns the ids that were refused.
   */
  applyAwareness (entries: AwarenessEntry[], peer: DocPeer): number[] {
    const allowed: AwarenessEntry[] = []
    const refused: number[] = []
    for (const e of entries) {
      // Stale entries (not newer than what the server has; y-protocols' own rule) change nothing:
      // skip them before any ownership check. The stock provider echoes every awareness change
      // it hears back to the server, so in a room of n such clients each change comes back n-1
      // times: those echoes are neither spoofing attempts (no warning) nor claims. A late echo
      // of a departed peer's last state would otherwise make the echoer the owner of its id,
      // and the peer, reconnecting with the same client id, would be refused.
      const meta = this.awareness.meta.get(e.clientID)
      if (meta !== undefined && !(meta.clock < e.clock || (meta.clock === e.clock && e.json === 'null' && this.awareness.getStates().has(e.clientID)))) continue
      const owner = this.awarenessOwners.get(e.clientID)
      if (owner !== undefined && owner !== peer) { refused.push(e.clientID); continue }
      if (owner === undefined && e.json === 'null') continue // removing a state nobody holds: nothing to do
      this.awarenessOwners.set(e.clientID, peer)
      allowed.push(e)
    }
    if (allowed.length > 0) awarenessProtocol.applyAwarenessUpdate(this.awareness, encodeAwarenessEntries(allowed), peer)
    return refused
  }

  /** The full awareness state as one update, or null when nobody is present. */
  encodeAllAwareness (): Uint8Array | null {
    const ids = [...this.awareness.getStates().keys()]
    return ids.length > 0 ? awarenessProtocol.encodeAwarenessUpdate(this.awareness, ids) : null
  }

  private readonly onAwarenessUpdate = (changes: AwarenessChanges, origin: unknown): void => {
    const changed = [...changes.added, ...changes.updated, ...changes.removed]
    if (changed.length === 0) return
    const b = new AwarenessBroadcast(this.name, changes, awarenessProtocol.encodeAwarenessUpdate(this.awareness, changed), origin)
    for (const peer of this.peers) {
      if (peer !== origin || peer.echoAwareness === true) peer.deliverAwareness(b)
    }
    this.opts.onAwareness?.(this, b)
  }

  // ---- peers ------------------------------------------------------------------------------

  addPeer (peer: DocPeer): void {
    this.peers.add(peer)
  }

  /** Detaches a peer and removes the awareness states it introduced. */
  removePeer (peer: DocPeer): void {
    if (!this.peers.delete(peer)) return
    const owned: number[] = []
    for (const [id, owner] of this.awarenessOwners) {
      if (owner === peer) owned.push(id)
    }
    for (const id of owned) this.awarenessOwners.delete(id)
    const present = owned.filter(id => this.awareness.getStates().has(id))
    if (present.length > 0) awarenessProtocol.removeAwarenessStates(this.awareness, present, 'peer-closed')
  }

  /** Final flush and compaction, then release everything. Idempotent. */
  async destroy (): Promise<void> {
    if (this.destroyed) return
    await this.flushed()
    if (this.failed == null) await this.compact()
    this.destroyed = true
    this.ydoc.off('update', this.onYUpdate)
    this.awareness.off('update', this.onAwarenessUpdate)
    this.awareness.destroy()
    this.ydoc.destroy()
    this.peers.clear()
    this.awarenessOwners.clear()
  }
}
