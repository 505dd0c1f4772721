/**
 * A doc's log: the only code that talks to storage for a loaded doc. It owns the sequence, the
 * resume window (history), the write pipeline and compaction; the doc (shared-doc.ts) owns the
 * Y.Doc and its peers, and applies what the log hands it, in sequence order, once per record.
 *
 * Durability order: an update is written to storage, and only then applied and broadcast. Updates
 * that arrive while a write is in flight wait and go together in the next batch (group commit):
 * one storage write per batch, however many peers are typing.
 *
 * Sequence numbers come from the store (`Storage.append`), so two writers of one doc — two nodes
 * over one database — are numbered one after the other. A batch numbered past the log's head
 * shows that records were stored elsewhere meanwhile: they are loaded (back-filled) and applied
 * first. `integrate` takes records another node stored (from the cluster bus) the same way: in
 * order, each once, gaps back-filled from storage, nothing stored again.
 */
import { initialSeq } from '../../shared/cursor.js'
import { WeftError } from '../../shared/errors.js'
import { DocDeletedError } from './tombstone.js'
import type { Logger } from '../logger.js'
import type { Storage, UpdateRecord } from '../storage/types.js'
import { History, type HistoryRecord } from './history.js'
import { InFlight } from './in-flight.js'

export interface DocLogOptions {
  storage: Storage
  logger: Logger
  /** Compact the stored log once this many records were appended since the last compaction. */
  compactAfterRecords: number
  /** … or once this many bytes were appended (the compacted state itself does not count). */
  compactAfterBytes: number
  /** Resume window kept in memory: records and bytes. */
  historyRecords: number
  historyBytes: number
  /** Called with the number of stored records quarantined on load (metrics). */
  onQuarantine?: (doc: string, records: number) => void
}

/** What the log needs from its doc. */
export interface LogSink {
  /** Applies a stored record and broadcasts it (called in sequence order, once per record). */
  apply (record: HistoryRecord): void
  /** The doc's state as one update: what a compaction stores. */
  state (): Uint8Array
  /** Storage refused a write: the peers whose updates it held are told (4500). */
  writeFailed (origins: ReadonlySet<unknown>): void
  /** After each stored batch (metrics): its size, the write's duration and each update's arrival. */
  stored? (updates: number, writeSeconds: number, arrivals: number[]): void
  /** A batch this node stored, numbered from `first` (the cluster bus publishes it). */
  committed? (first: number, updates: readonly Uint8Array[]): void
  /** Records stored elsewhere were loaded to fill a gap (metrics). */
  backfilled? (records: number): void
  /** `seq` is the doc's first stored record, about to be applied (server hooks' `onCreate`). */
  firstStored? (seq: number): void
}

export class StorageError extends WeftError {
  override name = 'StorageError'
  constructor (message: string) { super('storageFailed', message) }
}

/** Storage probes after a failed write: soon, then backing off to every 5 s while it fails. */
const PROBE_MIN_MS = 200
const PROBE_MAX_MS = 5000

interface PendingWrite {
  update: Uint8Array
  origin: unknown
  /** `performance.now()` when it was submitted. */
  at: number
  resolve: () => void
  reject: (err: Error) => void
}

export class DocLog {
  /** Sequence number of the newest record applied (stored here or elsewhere). */
  seq: number
  readonly history: History
  /** Writes accepted but not applied yet (docs/in-flight.ts): the write checks count them. */
  readonly inFlight = new InFlight()
  /** Set while storage refuses writes: the doc is read-only and /readyz fails. */
  failed: Error | null = null
  private pending: PendingWrite[] = []
  private writing: Promise<void> | null = null
  /** Applying in sequence order: the write loop and `integrate` take turns here. */
  private ordered: Promise<void> = Promise.resolve()
  private sinceCompaction = { records: 0, bytes: 0 }
  private compacting: Promise<void> | null = null
  private closed = false
  private retired = false
  private failures = 0
  private probeTimer: NodeJS.Timeout | null = null
  private probeMs = PROBE_MIN_MS
  private sink: LogSink | null = null
  /**
   * False while the log holds no stored record (a new doc): its `seq` is then a base this node
   * chose, not a record, and any record another node stored for the doc — even numbered below
   * that base, by a node that created the doc a moment earlier — is news to back-fill.
   */
  private based: boolean

  /**
   * Reads a doc's records for loading: the intact ones, in order. Records whose checksum fails
   * are quarantined (a flipped bit may still decode, into content nobody wrote).
   */
  static async read (name: string, opts: DocLogOptions): Promise<UpdateRecord[]> {
    const loaded = await opts.storage.load(name)
    const mismatched = loaded.filter(r => !r.intact).map(r => r.seq)
    if (mismatched.length > 0) await DocLog.quarantine(name, opts, mismatched, 'quarantined stored records whose checksum does not match')
    return loaded.filter(r => r.intact)
  }

  /** Moves records out of the doc's log (they stay in storage for a human to inspect). */
  static async quarantine (name: string, opts: DocLogOptions, seqs: number[], why: string): Promise<void> {
    opts.logger.error({ doc: name, seqs }, why)
    await opts.storage.quarantine(name, seqs)
    opts.onQuarantine?.(name, seqs.length)
  }

  /** `records`: what the doc was loaded from (already applied to it). */
  constructor (readonly name: string, private readonly opts: DocLogOptions, records: UpdateRecord[]) {
    // A doc never stored starts its numbers at a creation-time base, so a cursor from a past
    // life of a deleted doc falls outside the new one's window (shared/cursor.ts).
    this.seq = records.length > 0 ? records[records.length - 1]!.seq : initialSeq()
    this.based = records.length > 0
    this.history = new History(records.length > 0 ? records[0]!.seq - 1 : this.seq, opts.historyRecords, opts.historyBytes)
    for (const r of records) this.history.push({ seq: r.seq, update: r.update, origin: null })
    // The first record is the log's base (a compacted state, or the doc's first update): its
    // bytes are the doc's size, not growth, so they do not count toward compactAfterBytes.
    this.sinceCompaction = { records: records.length, bytes: records.slice(1).reduce((n, r) => n + r.update.byteLength, 0) }
  }

  /** Connects the doc that applies the records (once, right after loading). */
  attach (sink: LogSink): void { this.sink = sink }

  // ---- writes ----------------------------------------------------------------------------

  /**
   * Stores an update, then has the doc apply and broadcast it. Resolves once stored and
   * delivered; rejects with `StorageError` when storage failed (nothing was applied or
   * broadcast). The caller has validated the update.
   */
  submit (update: Uint8Array, origin: unknown): Promise<void> {
    if (this.closed) return Promise.reject(new StorageError('doc is unloaded'))
    if (this.retired) return Promise.reject(new DocDeletedError(this.name))
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
        const writeStart = performance.now()
        let first: number
        try {
          first = await this.opts.storage.append(this.name, batch.map(w => w.update), this.seq)
        } catch (err) {
          this.fail(err as Error, batch)
          continue
        }
        const stored = performance.now()
        this.recover()
        this.sink!.committed?.(first, batch.map(w => w.update))
        // Records stored elsewhere between our head and our batch are applied first.
        await this.inOrder(async () => {
          await this.backfill(first - 1)
          for (let i = 0; i < batch.length; i++) this.applyRecord({ seq: first + i, update: batch[i]!.update, origin: batch[i]!.origin })
        })
        for (const w of batch) w.resolve()
        this.sink!.stored?.(batch.length, (stored - writeStart) / 1000, batch.map(w => w.at))
        this.afterStore(batch)
      }
    } finally {
      this.writing = null
    }
  }

  /**
   * Records another node stored (the cluster bus): applied and broadcast in order, each once,
   * never stored again. Records at or below the head are known already (a duplicate, or one a
   * back-fill brought first); a record past the head + 1 means some were missed: they are loaded
   * from storage first. Resolves once all are applied.
   */
  integrate (records: readonly UpdateRecord[]): Promise<void> {
    return this.inOrder(async () => {
      for (const r of [...records].sort((a, b) => a.seq - b.seq)) {
        if (r.seq <= this.head) continue
        await this.backfill(r.seq - 1)
        if (r.seq > this.head) this.applyRecord({ seq: r.seq, update: r.update, origin: null })
      }
    })
  }

  /**
   * Applies whatever storage holds up to `upTo` that the log has not applied yet (the cluster's
   * head check: a record whose bus message was lost). Resolves once applied.
   */
  catchUp (upTo: number): Promise<void> {
    return this.inOrder(() => this.backfill(upTo))
  }

  /** Runs `step` after every step queued before it (the order records are applied in). */
  private inOrder (step: () => Promise<void>): Promise<void> {
    const run = this.ordered.then(step)
    this.ordered = run.catch(() => {})
    return run
  }

  /** Whether the log holds a stored record (its `seq` is one), rather than a chosen base. */
  get isBased (): boolean { return this.based }

  /** The newest stored record applied; below every record while there is none (`based`). */
  private get head (): number { return this.based ? this.seq : -Infinity }

  /** Loads and applies the records stored after the head, up to `upTo` (none: nothing to do). */
  private async backfill (upTo: number): Promise<void> {
    if (upTo <= this.head) return
    const missed = await this.opts.storage.load(this.name, this.based ? this.seq : undefined)
    let applied = 0
    for (const r of missed) {
      if (r.seq > upTo) break
      if (!r.intact) { this.opts.logger.error({ doc: this.name, seq: r.seq }, 'a record stored elsewhere fails its checksum; skipped'); continue }
      if (r.seq > this.head) { this.applyRecord({ seq: r.seq, update: r.update, origin: null }); applied++ }
    }
    if (applied > 0) this.sink!.backfilled?.(applied)
  }

  private applyRecord (record: HistoryRecord): void {
    if (!this.based) {
      // The first stored record of a new doc: the window starts here, not at the chosen base.
      this.based = true
      this.history.baseSeq = Math.min(this.history.baseSeq, record.seq - 1)
      this.sink!.firstStored?.(record.seq)
    }
    this.history.push(record)
    this.seq = record.seq
    this.sink!.apply(record)
  }

  private fail (err: Error, batch: PendingWrite[]): void {
    const wasHealthy = this.failed == null
    this.failed = err
    this.failures++
    this.opts.logger.error({ doc: this.name, err }, 'storage write failed; doc is read-only until storage recovers')
    const error = new StorageError(`storage write failed: ${err.message}`)
    for (const w of batch) w.reject(error)
    this.sink!.writeFailed(new Set(batch.map(w => w.origin)))
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
    if (storage.verify === undefined || this.probeTimer != null || this.closed) return
    this.probeTimer = setTimeout(() => {
      this.probeTimer = null
      if (this.failed == null || this.closed) return
      const failures = this.failures
      storage.verify!().then(() => {
        // A write that failed while the probe ran wins: it is newer news than the probe.
        if (failures === this.failures && !this.closed) this.recover()
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

  // ---- compaction -------------------------------------------------------------------------

  private afterStore (batch: PendingWrite[]): void {
    this.sinceCompaction.records += batch.length
    for (const w of batch) this.sinceCompaction.bytes += w.update.byteLength
    if (this.sinceCompaction.records >= this.opts.compactAfterRecords || this.sinceCompaction.bytes >= this.opts.compactAfterBytes) {
      void this.compact()
    }
  }

  /**
   * Replaces the stored log up to the last applied record by the doc's state as one update.
   * The doc holds exactly the records up to `this.seq` (apply follows store synchronously), so
   * the snapshot and the sequence number agree even while the next batch is being written.
   */
  compact (): Promise<void> {
    if (this.compacting != null) return this.compacting
    // A doc being deleted stores nothing more: a compaction now would bring its records back.
    if (this.retired) return Promise.resolve()
    if (this.sinceCompaction.records <= 1) return Promise.resolve()
    const upTo = this.seq
    const state = this.sink!.state()
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

  /** Refuses writes from now on (the doc is being deleted); what is in the pipeline goes on. */
  retire (): void { this.retired = true }

  /** Final flush and compaction (unless storage is failing, or not asked); then no more writes. Idempotent. */
  async close ({ compact = true }: { compact?: boolean } = {}): Promise<void> {
    if (this.closed) return
    await this.flushed()
    await this.ordered
    // A compaction already running stores before the caller's next step (a delete's wipe).
    if (!compact) await this.compacting
    else if (this.failed == null) await this.compact()
    this.closed = true
    if (this.probeTimer != null) { clearTimeout(this.probeTimer); this.probeTimer = null }
  }
}
