/**
 * One loaded document: the Y.Doc and its peers, coordinating the doc's log (doc-log.ts: sequence,
 * history, write pipeline, compaction — everything that talks to storage) and its presence
 * (doc-presence.ts: awareness, caps, coalescing).
 *
 * The Y.Doc only ever holds stored state: the log stores an update before it hands it here to
 * apply and broadcast, so a step2, a snapshot or an SSE event can never show a peer something a
 * crash could take back.
 */
import * as Y from 'yjs'
import type * as awarenessProtocol from 'y-protocols/awareness'
import { CloseCode, CloseReason } from '../../shared/close-codes.js'
import type { DecodedAwarenessEntry } from '../../shared/awareness.js'
import type { UpdateRecord } from '../storage/types.js'
import { UpdateBroadcast, type AwarenessBroadcast, type DocPeer } from './broadcast.js'
import { presenceLimits, type PresenceLimits, type PresenceOutcome, type PresenceRefusal } from './presence.js'
import type { History, HistoryRecord } from './history.js'
import { DocLog, StorageError, type DocLogOptions, type LogSink } from './doc-log.js'
import { DocPresence } from './doc-presence.js'
import { defaultPresenceCoalesceMs } from './presence-window.js'
import { isEmptyUpdate } from './validate.js'
import { BLANK_SEQ } from '../../shared/cursor.js'
import { isBuried, readTombstone, type Tombstone } from './tombstone.js'

export interface DocOptions extends DocLogOptions, Partial<PresenceLimits> {
  /**
   * Awareness changes arriving within one window go out as one message: this many ms per 8
   * peers, at most 5× (docs/presence-window.ts); 0: each at once. @default 20
   * (`presenceCoalesceMs`; chosen in bench/README.md, presence)
   */
  presenceCoalesceMs?: number
  /** Called after every broadcast update (embedding events, metrics). */
  onUpdate?: (doc: SharedDoc, b: UpdateBroadcast) => void
  /** Called after every awareness flush (once per coalescing window, not per change). */
  onAwareness?: (doc: SharedDoc, b: AwarenessBroadcast) => void
  /** Called when a peer's awareness is refused or ignored (metrics). */
  onPresenceRefused?: (doc: SharedDoc, outcome: PresenceRefusal) => void
  /** Called with the number of records stored elsewhere that filled a gap (metrics). */
  onBackfilled?: (doc: SharedDoc, records: number) => void
  /** Called when this node stored a batch, numbered from `first` (the cluster bus publishes it). */
  onCommitted?: (doc: SharedDoc, first: number, updates: readonly Uint8Array[]) => void
  /** Called when the doc's first record (`seq`) is about to be applied: stored here or elsewhere. */
  onFirstStored?: (doc: SharedDoc, seq: number) => void
  /**
   * Called after each stored and broadcast batch (metrics): its size, the storage write's
   * duration, and for each update the time from its arrival to its broadcast, in seconds.
   */
  onStored?: (doc: SharedDoc, updates: number, writeSeconds: number, latencies: number[]) => void
}

export { StorageError }

export class SharedDoc implements LogSink {
  readonly ydoc = new Y.Doc({ gc: true })
  readonly peers = new Set<DocPeer>()
  readonly presence: DocPresence
  readonly log: DocLog
  lastChange = 0
  updatesStored = 0
  /** What a deleted past life of this doc left (docs/tombstone.ts): the write gate refuses it. */
  tombstone: Tombstone | null = null
  /** The record being applied (0: none): the Y.Doc may change only then. */
  private applyingSeq = 0
  private destroyed = false

  private constructor (readonly name: string, private readonly opts: DocOptions, records: UpdateRecord[]) {
    this.log = new DocLog(name, opts, records)
    this.presence = new DocPresence(this.ydoc, name, this.peers, {
      limits: presenceLimits(opts),
      windowMs: opts.presenceCoalesceMs ?? defaultPresenceCoalesceMs,
      onRefused: outcome => opts.onPresenceRefused?.(this, outcome),
      onFlush: b => opts.onAwareness?.(this, b)
    })
  }

  get awareness (): awarenessProtocol.Awareness { return this.presence.awareness }
  /**
   * Sequence number of the newest record applied: the cursor of SSE, polls and snapshots. A doc
   * nothing was stored for yet has the blank cursor (docs/blank.ts), never the base its log
   * chose: that base says nothing about records another node may have stored meanwhile, and a
   * cursor made of it could skip them (a poller handed it, then served from it on another node,
   * missed the first records).
   */
  get seq (): number { return this.log.isBased ? this.log.seq : BLANK_SEQ }
  get history (): History { return this.log.history }
  /** Set while storage refuses writes: the doc is read-only and /readyz fails. */
  get failed (): Error | null { return this.log.failed }

  /**
   * Loads a doc from storage. Records whose checksum fails or that do not decode are
   * quarantined; the rest load. All good records are applied in one transaction (one cleanup
   * pass, not one per record).
   */
  static async load (name: string, opts: DocOptions): Promise<SharedDoc> {
    const [records, tombstone] = await Promise.all([DocLog.read(name, opts), readTombstone(opts.storage, name)])
    return SharedDoc.build(name, opts, records).then(doc => { doc.tombstone = tombstone; return doc })
  }

  private static async build (name: string, opts: DocOptions, records: UpdateRecord[]): Promise<SharedDoc> {
    // Fast path: every record was validated before it was stored, so apply them all at once and
    // decode each one separately only when an apply throws (then start over on a fresh doc, so a
    // half-applied record leaves nothing behind). Decoding every record first cost about a third
    // of the Yjs work of a cold load (bench coldload, automerge-paper: decode 11-43 ms, apply 36-71).
    const fast = new SharedDoc(name, opts, records)
    try {
      Y.transact(fast.ydoc, () => { for (const r of records) Y.applyUpdate(fast.ydoc, r.update) }, null)
      return fast.ready()
    } catch {
      // Not destroy(): that would compact (store) the half-applied state.
      fast.presence.destroy()
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
    if (bad.length > 0) await DocLog.quarantine(name, opts, bad, 'quarantined stored records that do not decode')
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
    return doc.ready()
  }

  /** Loaded: from now on changes are broadcast (loading is not a change anyone needs to hear about). */
  private ready (): this {
    this.ydoc.on('update', this.onYUpdate)
    this.log.attach(this)
    return this
  }

  // ---- writes (doc-log.ts) ----------------------------------------------------------------

  /**
   * Stores an update, then applies and broadcasts it. Resolves once stored and delivered;
   * rejects with `StorageError` when storage failed (nothing was applied or broadcast).
   * The caller has validated the update (docs/write-gate.ts).
   */
  submit (update: Uint8Array, origin: DocPeer | null): Promise<void> {
    if (this.destroyed) return Promise.reject(new StorageError('doc is unloaded'))
    if (isEmptyUpdate(update)) return Promise.resolve()
    return this.log.submit(update, origin)
  }

  /**
   * Records stored by another node: applied and broadcast in order, not stored again (doc-log.ts).
   * After a delete, records of the doc's past life may still come from the bus (a stream Redis
   * could not drop): they are left out, as the write gate refuses their content (tombstone.ts).
   */
  integrate (records: readonly UpdateRecord[]): Promise<void> {
    const t = this.tombstone
    return this.log.integrate(t === null ? records : records.filter(r => !isBuried(Y.decodeUpdate(r.update), t)))
  }

  /** Applies what storage holds up to `upTo` that this doc lacks (doc-log.ts `catchUp`). */
  catchUp (upTo: number): Promise<void> { return this.log.catchUp(upTo) }

  /**
   * Before a reader's cursor is served: a cursor another node handed out may name records this
   * node has not applied yet (its bus is a few ms behind). They are stored, so catch up from
   * storage first, and the cursor is served exactly instead of reset. A cursor past anything
   * stored (garbage, a past life of the doc) costs one storage read, then gets its reset.
   */
  async reach (cursorSeq: number | null): Promise<void> {
    if (cursorSeq === null || cursorSeq === BLANK_SEQ || cursorSeq <= this.seq) return
    await this.log.catchUp(cursorSeq).catch(() => {})
  }

  /** Resolves when everything submitted so far is stored (or failed). */
  flushed (): Promise<void> { return this.log.flushed() }

  /** See `DocLog.compact`. */
  compact (): Promise<void> { return this.log.compact() }

  /** LogSink: applies one stored record; the Y.Doc's update event broadcasts it. */
  apply (record: HistoryRecord): void {
    this.applyingSeq = record.seq
    try {
      Y.applyUpdate(this.ydoc, record.update, record.origin)
    } catch (err) {
      // Validated before storing, so this is a Yjs integration error on a crafted update.
      // It stays stored (a reload quarantines it if it does not decode) and is logged.
      this.opts.logger.error({ doc: this.name, seq: record.seq, err }, 'stored update failed to apply')
    }
    this.applyingSeq = 0
  }

  /** LogSink: the state a compaction stores. */
  state (): Uint8Array { return Y.encodeStateAsUpdate(this.ydoc) }

  /**
   * LogSink: the writers whose updates failed to store learn at once (4500) and reconnect with
   * backoff; their resync retries the write. The others stay: readers, and editors that did not
   * write meanwhile keep their presence (a database away for a while must not make every
   * cursor in the doc blink); their next write fails the same way until storage recovers.
   */
  writeFailed (origins: ReadonlySet<unknown>): void {
    for (const peer of [...this.peers]) {
      if (peer.access === 'write' && origins.has(peer)) peer.close(CloseCode.storageFailed, CloseReason[CloseCode.storageFailed]!)
    }
  }

  /** LogSink: a batch this node stored (before it is applied: the bus may carry it at once). */
  committed (first: number, updates: readonly Uint8Array[]): void { this.opts.onCommitted?.(this, first, updates) }

  /** LogSink: the doc's first stored record is about to be applied. */
  firstStored (seq: number): void { this.opts.onFirstStored?.(this, seq) }

  /** LogSink: records stored elsewhere filled a gap. */
  backfilled (records: number): void { this.opts.onBackfilled?.(this, records) }

  /** LogSink: metrics of a stored batch. */
  stored (updates: number, writeSeconds: number, arrivals: number[]): void {
    if (this.opts.onStored === undefined) return
    const now = performance.now()
    this.opts.onStored(this, updates, writeSeconds, arrivals.map(at => (now - at) / 1000))
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
    // The one echo rule: a peer never hears what it wrote.
    for (const peer of this.peers) {
      if (peer !== origin) peer.deliverUpdate(b)
    }
    this.opts.onUpdate?.(this, b)
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
  /** Ticks of the next coalescing window, from the peers presence reaches (tests). */
  get presenceWindowTicks (): number { return this.presence.windowTicks }

  // ---- peers ------------------------------------------------------------------------------

  addPeer (peer: DocPeer): void {
    this.presence.sendPending()
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
    await this.log.close()
    this.release()
  }

  /**
   * The doc is being deleted: no more writes (refused as `docDeleted`), every peer is ended with
   * 4410 (SSE streams get a `deleted` event, polls a 410), writes already in the pipeline settle,
   * and nothing more is stored — no final compaction. Then everything is released; the caller
   * removes what storage holds.
   */
  async retire (): Promise<void> {
    if (this.destroyed) return
    this.log.retire()
    for (const peer of [...this.peers]) peer.close(CloseCode.docDeleted, CloseReason[CloseCode.docDeleted]!)
    await this.log.close({ compact: false })
    this.release()
  }

  private release (): void {
    this.destroyed = true
    this.ydoc.off('update', this.onYUpdate)
    this.presence.destroy()
    this.ydoc.destroy()
    this.peers.clear()
  }
}
