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
import { parseAwarenessStates, type DecodedAwarenessEntry } from '../../shared/awareness.js'
import type { Logger } from '../logger.js'
import type { Storage, UpdateRecord } from '../storage/types.js'
import { AwarenessBroadcast, UpdateBroadcast, type AwarenessChanges, type DocPeer } from './broadcast.js'
import { DEPARTED_MEMORY_MS, Departures, PresenceLedger, presenceLimits, type PresenceLimits, type PresenceOutcome, type PresenceRefusal } from './presence.js'
import { History } from './history.js'
import { PresenceWindow, type PresenceBatch } from './presence-window.js'
import { AwarenessStates } from './awareness-states.js'
import { isEmptyUpdate } from './validate.js'
import { defaults } from '../config/defaults.js'

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
  /** Called when the doc's write health changes (for /readyz). */
  onHealth?: (doc: SharedDoc) => void
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

export class StorageError extends Error {
  override name = 'StorageError'
}

export class SharedDoc {
  readonly ydoc = new Y.Doc({ gc: true })
  readonly awareness = new awarenessProtocol.Awareness(this.ydoc)
  readonly peers = new Set<DocPeer>()
  /** Which peer claimed each awareness client id (anti-spoofing) and the bytes each holds. */
  private readonly presence: PresenceLedger
  private readonly departures = new Departures()
  /** Applies checked awareness and encodes it, each state parsed and stringified once. */
  private readonly awarenessStates = new AwarenessStates(this.awareness)
  /** Awareness changes waiting for the end of the coalescing window. */
  private readonly presenceWindow: PresenceWindow
  /** `encodeAllAwareness()` until the next awareness change; undefined: not encoded yet. */
  private allAwareness: Uint8Array | null | undefined
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
    for (const r of records) this.history.push(r)
    this.presence = new PresenceLedger(presenceLimits(opts))
    this.presenceWindow = new PresenceWindow(opts.presenceCoalesceMs ?? defaults.presenceCoalesceMs, this.broadcastPresence)
    // The first record is the log's base (a compacted state, or the doc's first update): its
    // bytes are the doc's size, not growth, so they do not count toward compactAfterBytes.
    this.sinceCompaction = { records: records.length, bytes: records.slice(1).reduce((n, r) => n + r.update.byteLength, 0) }
    // The server has no presence of its own.
    this.awareness.setLocalState(null)
    this.awareness.on('update', this.onAwarenessUpdate)
  }

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
      this.opts.onHealth?.(this)
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

  // ---- awareness --------------------------------------------------------------------------

  /**
   * Applies an awareness update from `peer`: entries for client ids another peer claimed are
   * refused (listed in the outcome), the rest is judged against the presence caps as a whole
   * and applied only if it fits (server/docs/presence.ts). Read-only peers set no presence
   * unless `readOnlyPresence`. `entries` come from `decodeAwarenessEntries`: the states of the
   * entries kept are checked here (`ProtocolError` if one is not valid JSON; nothing applied).
   */
  applyAwareness (entries: DecodedAwarenessEntry[], peer: DocPeer): PresenceOutcome {
    if (!this.presence.allows(peer)) return this.refusePresence({ kind: 'read-only' })
    // One entry per id, the newest: what y-protocols ends up with, so the caps judge exactly that.
    const fresh = new Map<number, DecodedAwarenessEntry>()
    const refused: number[] = []
    for (const e of entries) {
      // Stale entries (not newer than what the server has; y-protocols' own rule) change nothing:
      // skip them before any ownership check. The stock provider echoes every awareness change
      // it hears back to the server, so in a room of n such clients each change comes back n-1
      // times: those echoes are neither spoofing attempts (no warning) nor claims. A late echo
      // of a departed peer's last state would otherwise make the echoer the owner of its id,
      // and the peer, reconnecting with the same client id, would be refused.
      const meta = this.awareness.meta.get(e.clientID)
      if (meta !== undefined && !(meta.clock < e.clock || (meta.clock === e.clock && e.isNull && this.awareness.getStates().has(e.clientID)))) continue
      const owner = this.presence.ownerOf(e.clientID)
      if (owner !== undefined && owner !== peer) { refused.push(e.clientID); continue }
      if (owner === undefined && e.isNull) continue // removing a state nobody holds: nothing to do
      const seen = fresh.get(e.clientID)
      if (seen === undefined || seen.clock <= e.clock) fresh.set(e.clientID, e)
    }
    const verdict = this.presence.judge(peer, fresh.values())
    if (verdict != null) return this.refusePresence(verdict)
    const kept = [...fresh.values()]
    const states = parseAwarenessStates(kept)
    if (kept.length > 0) {
      // Claimed before applying: the update event below releases whatever the entries remove.
      for (const e of kept) if (!e.isNull) this.presence.hold(peer, e.clientID, e.size)
      this.awarenessStates.apply(kept, states, peer)
    }
    return { kind: 'applied', refused }
  }

  private refusePresence (outcome: PresenceRefusal): PresenceOutcome {
    this.opts.onPresenceRefused?.(this, outcome)
    return outcome
  }

  /**
   * Most entries one awareness message may carry. The stock provider echoes every state it
   * hears, in one message: a joiner echoes everyone present at once, so a fixed bound (it was
   * 64) closed every joiner of a room of more than 64 with 4400. An echo names only ids the doc
   * knows (`meta` keeps departed ones too); a peer may add at most its cap of new ones.
   */
  get maxAwarenessEntries (): number { return this.awareness.meta.size + this.presence.limits.maxPresenceIdsPerConnection }

  /** Bytes of awareness state the doc holds (what a joiner is sent, about). */
  get presenceBytes (): number { return this.presence.bytes }

  /** The full awareness state as one update, or null when nobody is present. */
  encodeAllAwareness (): Uint8Array | null {
    // Kept until presence changes: every joiner is sent it, and encoding re-serialises every
    // state (about 30 ms for 0.7 MB of presence under load): a reconnect storm would pay it n times.
    if (this.allAwareness === undefined) {
      const ids = [...this.awareness.getStates().keys()]
      this.allAwareness = ids.length > 0 ? this.awarenessStates.encode(ids) : null
    }
    return this.allAwareness
  }

  /** The awareness update for `ids` (known ones: in `awareness.meta`), encoded as for a broadcast. */
  encodeAwareness (ids: readonly number[]): Uint8Array { return this.awarenessStates.encode(ids) }

  /** Drops the clocks of ids gone for `DEPARTED_MEMORY_MS` and not updated since. */
  private forgetDeparted (now: number): void {
    const before = now - DEPARTED_MEMORY_MS
    for (const id of this.departures.takeBefore(before)) {
      // An id claimed again (and perhaps gone again) since is newer news: its meta stays, and
      // its later departure is queued behind this one.
      const meta = this.awareness.meta.get(id)
      if (meta !== undefined && meta.lastUpdated < before && id !== this.awareness.clientID && !this.awareness.getStates().has(id)) this.awareness.meta.delete(id)
    }
  }

  private readonly onAwarenessUpdate = (changes: AwarenessChanges, origin: unknown): void => {
    this.allAwareness = undefined
    // Every way a state goes (its owner's "null", the 30 s timeout, its peer leaving) frees its id.
    const now = Date.now()
    for (const id of changes.removed) {
      this.presence.release(id)
      this.awarenessStates.forget(id)
      this.departures.add(id, now)
    }
    this.forgetDeparted(now)
    this.presenceWindow.add(changes, origin)
  }

  /**
   * Sends one window's changes: encoded once, from the doc's states as they are now (each
   * client's newest), the same bytes to every peer but those that made some of the changes.
   */
  private readonly broadcastPresence = (batch: PresenceBatch): void => {
    const meta = this.awareness.meta
    const changed = [...batch.changes.added, ...batch.changes.updated, ...batch.changes.removed].filter(id => meta.has(id))
    if (changed.length === 0) return
    const b = new AwarenessBroadcast(this.name, batch.changes, this.awarenessStates.encode(changed), batch.origins, batch.folded)
    for (const peer of this.peers) {
      const mine = peer.echoAwareness === true ? b : b.without(peer)
      if (mine !== null) peer.deliverAwareness(mine)
    }
    this.opts.onAwareness?.(this, b)
  }

  /** Awareness changes waiting for the end of the coalescing window (tests: nothing left behind). */
  get presencePending (): number { return this.presenceWindow.size }
  /** Whether the coalescing window's timer is set. */
  get presenceWindowOpen (): boolean { return this.presenceWindow.open }

  // ---- peers ------------------------------------------------------------------------------

  addPeer (peer: DocPeer): void {
    // The joiner is about to be sent the whole presence: pending changes go to the others now.
    this.presenceWindow.sendPending()
    this.peers.add(peer)
  }

  /** Detaches a peer and removes the awareness states it introduced. */
  removePeer (peer: DocPeer): void {
    if (!this.peers.delete(peer)) return
    const owned = this.presence.idsOf(peer)
    if (owned.length > 0) awarenessProtocol.removeAwarenessStates(this.awareness, owned, 'peer-closed')
    // Held ids always have a state (removal releases them), so none is left; this is a guard.
    for (const id of owned) this.presence.release(id)
  }

  /** Final flush and compaction, then release everything. Idempotent. */
  async destroy (): Promise<void> {
    if (this.destroyed) return
    await this.flushed()
    if (this.failed == null) await this.compact()
    this.destroyed = true
    if (this.probeTimer != null) { clearTimeout(this.probeTimer); this.probeTimer = null }
    this.ydoc.off('update', this.onYUpdate)
    this.awareness.off('update', this.onAwarenessUpdate)
    this.presenceWindow.close()
    this.awareness.destroy()
    this.ydoc.destroy()
    this.peers.clear()
    this.presence.clear()
    this.departures.clear()
    this.awarenessStates.clear()
  }
}
