/**
 * One loaded document: the Y.Doc, its peers, the write pipeline and compaction; its presence
 * (awareness, caps, coalescing) is a DocPresence of its own (doc-presence.ts).
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
import type { DecodedAwarenessEntry } from '../../shared/awareness.js'
import type { Logger } from '../logger.js'
import type { Storage, UpdateRecord } from '../storage/types.js'
import { UpdateBroadcast, type AwarenessBroadcast, type DocPeer } from './broadcast.js'
import { presenceLimits, type PresenceLimits, type PresenceOutcome, type PresenceRefusal } from './presence.js'
import { History } from './history.js'
import { DocPresence } from './doc-presence.js'
import { defaultPresenceCoalesceMs } from './presence-window.js'
import { isEmptyUpdate } from './validate.js'
import { WeftError } from '../errors.js'

export interface DocOptions extends Partial<PresenceLimits> {
  storage: Storage
  logger: Logger
  /** Compact the stored log once this many records were appended since the last compaction. */
  compactAfterRecords: number
  /** … or once this many bytes were appended (the compacted state itself does not count). */
  compactAfterBytes: number
  /** Resume window kept in memory: records and bytes. */
  historyRecords: number
  historyBytes: number
  /**
   * Awareness changes arriving within this window go out as one message (docs/presence-window.ts);
   * 0: each at once. @default 20 (`presenceCoalesceMs`; chosen in bench/README.md, presence)
   */
  presenceCoalesceMs?: number
  /** Called after every broadcast update (embedding events, cluster publish, metrics). */
  onUpdate?: (doc: SharedDoc, b: UpdateBroadcast) => void
  /** Called after every awareness flush (once per coalescing window, not per change). */
  onAwareness?: (doc: SharedDoc, b: AwarenessBroadcast) => void
  /** Called when a peer's awareness is refused or ignored (metrics). */
  onPresenceRefused?: (doc: SharedDoc, outcome: PresenceRefusal) => void
  /** Called with the number of stored records quarantined on load (metrics). */
  onQuarantine?: (doc: string, records: number) => void
  /**
   * Called after each stored and broadcast batch (metrics): its size, the storage write's
   * duration, and for each update the time from its arrival to its broadcast, in seconds.
   */
  onStored?: (doc: SharedDoc, updates: number, writeSeconds: number, latencies: number[]) => void
}

/** Storage probes after a failed write: soon, then backing off to every 5 s while it fails. */
const PROBE_MIN_MS = 200
const PROBE_MAX_MS = 5000

interface PendingWrite {
  update: Uint8Array
  origin: DocPeer | null
  /** `performance.now()` when it was submitted. */
  at: number
  resolve: () => void
  reject: (err: Error) => void
}

export class StorageError extends WeftError {
  override name = 'StorageError'
  constructor (message: string) { super('storageFailed', message) }
}

export class SharedDoc {
  readonly ydoc = new Y.Doc({ gc: true })
  readonly peers = new Set<DocPeer>()
  readonly presence: DocPresence
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
  private failures = 0
  private probeTimer: NodeJS.Timeout | null = null
  private probeMs = PROBE_MIN_MS

  private constructor (readonly name: string, private readonly opts: DocOptions, records: UpdateRecord[]) {
    this.seq = records.length > 0 ? records[records.length - 1]!.seq : initialSeq()
    this.history = new History(records.length > 0 ? records[0]!.seq - 1 : this.seq, opts.historyRecords, opts.historyBytes)
    for (const r of records) this.history.push({ seq: r.seq, update: r.update, origin: null })
    this.presence = new DocPresence(this.ydoc, name, this.peers, {
      limits: presenceLimits(opts),
      windowMs: opts.presenceCoalesceMs ?? defaultPresenceCoalesceMs,
      onRefused: outcome => opts.onPresenceRefused?.(this, outcome),
      onFlush: b => opts.onAwareness?.(this, b)
    })
    // The first record is the log's base (a compacted state, or the doc's first update): its
    // bytes are the doc's size, not growth, so they do not count toward compactAfterBytes.
    this.sinceCompaction = { records: records.length, bytes: records.slice(1).reduce((n, r) => n + r.update.byteLength, 0) }
  }

  get awareness (): awarenessProtocol.Awareness { return this.presence.awareness }

  /**
   * Loads a doc from storage. Records whose checksum fails or that do not decode are
   * quarantined; the rest load. All good records are applied in one transaction (one cleanup
   * pass, not one per record).
   */
  static async load (name: string, opts: DocOptions): Promise<SharedDoc> {
    const loaded = await opts.storage.load(name)
    // A record whose bytes changed after they were stored (a flipped bit on disk) may still
    // decode, into content nobody wrote: the checksum, not decoding, is what catches it.
    const mismatched = loaded.filter(r => !r.intact).map(r => r.seq)
    if (mismatched.length > 0) await SharedDoc.quarantine(name, opts, mismatched, 'quarantined stored records whose checksum does not match')
    const records: UpdateRecord[] = loaded.filter(r => r.intact)
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
    if (bad.length > 0) await SharedDoc.quarantine(name, opts, bad, 'quarantined stored records that do not decode')
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

  private static async quarantine (name: string, opts: DocOptions, seqs: number[], why: string): Promise<void> {
    opts.logger.error({ doc: name, seqs }, why)
    await opts.storage.quarantine(name, seqs)
    opts.onQuarantine?.(name, seqs.length)
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
      this.pending.push({ update, origin, at: performance.now(), resolve, reject })
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
        const writeStart = performance.now()
        try {
          await this.opts.storage.append(this.name, records)
        } catch (err) {
          this.fail(err as Error, batch)
          continue
        }
        const stored = performance.now()
        this.seq = first + batch.length - 1
        this.recover()
        for (let i = 0; i < batch.length; i++) this.apply(records[i]!, batch[i]!.origin)
        for (const w of batch) w.resolve()
        if (this.opts.onStored !== undefined) {
          const broadcast = performance.now()
          this.opts.onStored(this, batch.length, (stored - writeStart) / 1000, batch.map(w => (broadcast - w.at) / 1000))
        }
        this.afterStore(records)
      }
    } finally {
      this.writing = null
    }
  }

  private apply (record: UpdateRecord, origin: DocPeer | null): void {
    this.history.push({ seq: record.seq, update: record.update, origin })
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
    this.failures++
    this.opts.logger.error({ doc: this.name, err }, 'storage write failed; doc is read-only until storage recovers')
    const error = new StorageError(`storage write failed: ${err.message}`)
    for (const w of batch) w.reject(error)
    // Writers learn at once (4500) and reconnect with backoff; their resync retries the write.
    for (const peer of [...this.peers]) {
      if (peer.access === 'write') peer.close(CloseCode.storageFailed, CloseReason[CloseCode.storageFailed]!)
    }
    if (wasHealthy) {
      this.probeMs = PROBE_MIN_MS
      this.scheduleProbe()
    }
  }

  /**
   * While failed, asks storage (with backoff) whether it has recovered, so the doc (and /readyz)
   * leaves its failed state when the disk has room again even if nobody writes to this doc.
   * Without `verify()` the doc recovers on its next successful write.
   */
  private scheduleProbe (): void {
    const storage = this.opts.storage
    if (storage.verify === undefined || this.probeTimer != null || this.destroyed) return
    this.probeTimer = setTimeout(() => {
      this.probeTimer = null
      if (this.failed == null || this.destroyed) return
      const failures = this.failures
      storage.verify!().then(() => {
        // A write that failed while the probe ran wins: it is newer news than the probe.
        if (failures === this.failures && !this.destroyed) this.recover()
      }, () => {
        this.probeMs = Math.min(this.probeMs * 2, PROBE_MAX_MS)
        this.scheduleProbe()
      })
    }, this.probeMs)
    this.probeTimer.unref()
  }

  private recover (): void {
    if (this.failed == null) return
    if (this.probeTimer != null) { clearTimeout(this.probeTimer); this.probeTimer = null }
    this.failed = null
    this.opts.logger.info({ doc: this.name }, 'storage writes succeed again')
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
      // What was appended while this ran stays counted; the new base (the state) does not. It
      // used to: a doc of 1 MiB or more then met compactAfterBytes on every write and rewrote
      // its whole state per keystroke (100 edits on a 3 MiB doc: 547 MiB written, 3.9 s CPU).
      this.sinceCompaction.records = Math.max(1, this.sinceCompaction.records - counted.records + 1)
      this.sinceCompaction.bytes = Math.max(0, this.sinceCompaction.bytes - counted.bytes)
      this.opts.logger.debug({ doc: this.name, upTo, bytes: state.byteLength }, 'compacted')
    }, (err: Error) => {
      // Nothing is lost: the uncompacted log is still there. Try again after the next writes.
      this.opts.logger.warn({ doc: this.name, err }, 'compaction failed')
    }).finally(() => { this.compacting = null })
    return this.compacting
  }

  // ---- presence (doc-presence.ts) ----------------------------------------------------------

  /** See `DocPresence.apply`. */
  applyAwareness (entries: DecodedAwarenessEntry[], peer: DocPeer): PresenceOutcome { return this.presence.apply(entries, peer) }
  /** Most entries one awareness message may carry (see `DocPresence.maxEntries`). */
  get maxAwarenessEntries (): number { return this.presence.maxEntries }
  /** Bytes of awareness state the doc holds. */
  get presenceBytes (): number { return this.presence.bytes }
  /** The full awareness state as one update, or null when nobody is present. */
  encodeAllAwareness (): Uint8Array | null { return this.presence.encodeAll() }
  /** The awareness update for `ids`, encoded as for a broadcast. */
  encodeAwareness (ids: readonly number[]): Uint8Array { return this.presence.encode(ids) }
  /** Awareness changes waiting for the end of the coalescing window (tests). */
  get presencePending (): number { return this.presence.pending }
  /** Whether the coalescing window's timer is set (tests). */
  get presenceWindowOpen (): boolean { return this.presence.windowOpen }

  // ---- peers ------------------------------------------------------------------------------

  addPeer (peer: DocPeer): void {
    this.presence.joining()
    this.peers.add(peer)
  }

  /** Detaches a peer and removes the awareness states it introduced. */
  removePeer (peer: DocPeer): void {
    if (!this.peers.delete(peer)) return
    this.presence.leave(peer)
  }

  /** Final flush and compaction, then release everything. Idempotent. */
  async destroy (): Promise<void> {
    if (this.destroyed) return
    await this.flushed()
    if (this.failed == null) await this.compact()
    this.destroyed = true
    if (this.probeTimer != null) { clearTimeout(this.probeTimer); this.probeTimer = null }
    this.ydoc.off('update', this.onYUpdate)
    this.presence.destroy()
    this.ydoc.destroy()
    this.peers.clear()
  }
}
