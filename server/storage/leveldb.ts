/**
 * LevelDB, the embedded default (`./data`). Keys sort by doc then sequence:
 *   u\0<doc>\0<seq as 14 hex digits>  → stored record (record-codec.ts: checksum + update)
 *   q\0<doc>\0<seq as 14 hex digits>  → quarantined stored record
 *   m\0<namespace>\0<key>              → a meta value (types.ts MetaStore: versions, webhook deliveries)
 *   h\0probe                          → written and removed to prove a recovered store works
 * Doc names never contain control characters (checked at the edge), so \0 is a safe separator,
 * and fixed-width hex keeps lexicographic order equal to numeric order (seq < 2^53).
 * Writes are LevelDB batches: atomic, and in the OS before the promise resolves, so a SIGKILLed
 * process loses nothing that was acknowledged (a power cut may; see README "Durability").
 *
 * After a failed write the store refuses writes until it has reopened. A write that fails part
 * way (ENOSPC on a full disk) leaves a torn record in LevelDB's write-ahead log, and LevelDB
 * keeps appending after it: on the next open it drops the rest of that log block ("dropping
 * bytes … checksum mismatch"), taking later, acknowledged writes with it. Closing and opening
 * replays the log up to the torn record (an unacknowledged write), writes what it holds to a
 * table file and starts a fresh log; a probe write and read then prove the store works.
 */
import { Level } from 'level'
import { checkMetaName, type MetaStore, type Storage, type StoredDocInfo } from './types.js'
import { decodeRecord, encodeRecord, storedUpdateLength } from './record-codec.js'

const SEP = '\u0000'
const END = '\u0001'
const seqKey = (seq: number): string => seq.toString(16).padStart(14, '0')
const updateKey = (doc: string, seq: number): string => `u${SEP}${doc}${SEP}${seqKey(seq)}`
const quarantineKey = (doc: string, seq: number): string => `q${SEP}${doc}${SEP}${seqKey(seq)}`
const docRange = (doc: string): { gte: string, lt: string } => ({ gte: `u${SEP}${doc}${SEP}`, lt: `u${SEP}${doc}${END}` })
const seqOf = (key: string): number => parseInt(key.slice(key.lastIndexOf(SEP) + 1), 16)
const metaKey = (ns: string, key: string): string => `m${SEP}${ns}${SEP}${key}`
const metaRange = (ns: string): { gte: string, lt: string } => ({ gte: `m${SEP}${ns}${SEP}`, lt: `m${SEP}${ns}${END}` })
/** LevelDB hands out Buffers; meta values are plain Uint8Arrays on every backend. */
const plain = (b: Uint8Array): Uint8Array => new Uint8Array(b.buffer, b.byteOffset, b.byteLength)
const PROBE_KEY = `h${SEP}probe`
/** Reopen attempts after a failure: quickly at first, then at most every 5 s while the disk stays full. */
const RETRY_MIN_MS = 100
const RETRY_MAX_MS = 5000

type Op = { type: 'put', key: string, value: Uint8Array } | { type: 'del', key: string }
interface Waiter { resolve: () => void, reject: (err: Error) => void }

export function leveldbStorage (location: string): Storage {
  const db = new Level<string, Uint8Array>(location, { keyEncoding: 'utf8', valueEncoding: 'view' })
  let closing: Promise<void> | null = null
  /** Set by a failed write, cleared by a successful reopen: while set, no write is issued. */
  let broken: Error | null = null
  let recovering: Promise<void> | null = null
  let retryMs = RETRY_MIN_MS
  let lastAttempt = 0
  let retryTimer: NodeJS.Timeout | null = null

  function scheduleRetry (): void {
    if (retryTimer != null || closing != null) return
    retryTimer = setTimeout(() => {
      retryTimer = null
      if (broken != null) recover().catch(() => {})
    }, retryMs)
    retryTimer.unref()
  }

  function markBroken (err: Error): void {
    if (broken == null) retryMs = RETRY_MIN_MS
    broken = err
    scheduleRetry()
  }

  async function reopen (): Promise<void> {
    lastAttempt = Date.now()
    try {
      if (closing != null) throw new Error('storage is closed')
      if (db.status === 'open') await db.close()
      await db.open()
      await db.put(PROBE_KEY, new Uint8Array([1]))
      if ((await db.get(PROBE_KEY))?.[0] !== 1) throw new Error('LevelDB probe read back wrong bytes')
      await db.del(PROBE_KEY)
      broken = null
      if (retryTimer != null) { clearTimeout(retryTimer); retryTimer = null }
    } catch (err) {
      broken = err as Error
      retryMs = Math.min(retryMs * 2, RETRY_MAX_MS)
      scheduleRetry()
      throw err
    }
  }

  /** One reopen at a time; everyone waiting for the store shares it. */
  function recover (): Promise<void> {
    recovering ??= reopen().finally(() => { recovering = null })
    return recovering
  }

  /** Resolves when writes may be issued: at once when healthy, else after a reopen. */
  async function writable (): Promise<void> {
    if (broken == null) return
    // Throttled: while the disk stays full, writers are refused without a reopen each.
    if (recovering == null && Date.now() - lastAttempt < retryMs) {
      throw new Error(`storage is recovering from a failed write: ${broken.message}`)
    }
    await recover()
  }

  // All writes go through one queue with ONE LevelDB batch in flight at a time. Group commit:
  // everything queued meanwhile (any doc, appends and compactions alike) goes as the next batch —
  // one native call and one thread-pool hop instead of one per doc. Each write stays atomic (it
  // is part of one atomic batch) and resolves only once written. One-at-a-time also means no
  // batch is issued before the previous one's failure is known: a batch issued behind a failed
  // one could land after its torn log record and be acknowledged, then lost on replay.
  let queued: { ops: Op[], waiters: Waiter[] } | null = null
  let inFlight = false
  function flush (): void {
    if (inFlight || queued === null) return
    const q = queued
    queued = null
    inFlight = true
    writable()
      .then(async () => {
        try {
          await db.batch(q.ops)
        } catch (err) {
          markBroken(err as Error)
          throw err
        }
      })
      .then(() => { for (const w of q.waiters) w.resolve() }, (err: Error) => { for (const w of q.waiters) w.reject(err) })
      .finally(() => { inFlight = false; flush() })
  }
  async function write (ops: Op[]): Promise<void> {
    if (ops.length === 0) return
    if (queued === null) {
      queued = { ops: [], waiters: [] }
      setImmediate(flush)
    }
    const q = queued
    for (const op of ops) q.ops.push(op)
    await new Promise<void>((resolve, reject) => q.waiters.push({ resolve, reject }))
  }

  /**
   * The newest sequence number of each doc written through this store (one process owns a
   * LevelDB): read from disk at a doc's first append, then kept, so appends number themselves
   * without a read.
   */
  const heads = new Map<string, number>()
  const readingHead = new Map<string, Promise<number>>()
  function headOf (doc: string): Promise<number> {
    let reading = readingHead.get(doc)
    if (reading === undefined) {
      reading = (async () => {
        await readable()
        let last = -Infinity
        for await (const key of db.keys({ ...docRange(doc), reverse: true, limit: 1 })) last = seqOf(key)
        const head = Math.max(heads.get(doc) ?? -Infinity, last)
        heads.set(doc, head)
        return head
      })().finally(() => readingHead.delete(doc))
      readingHead.set(doc, reading)
    }
    return reading
  }

  /** Reads wait out a reopen in progress (the database is closed for a moment). */
  async function readable (): Promise<void> {
    if (recovering != null) await recovering.catch(() => {})
  }

  const meta: MetaStore = {
    async put (ns, key, value) {
      checkMetaName('namespace', ns); checkMetaName('key', key)
      await write([{ type: 'put', key: metaKey(ns, key), value }])
    },
    async get (ns, key) {
      await readable()
      const value = await db.get(metaKey(ns, key))
      return value === undefined ? undefined : plain(value)
    },
    async list (ns) {
      await readable()
      const out = []
      const at = metaRange(ns).gte.length
      for await (const [key, value] of db.iterator(metaRange(ns))) out.push({ key: key.slice(at), value: plain(value) })
      return out
    },
    async remove (ns, key) {
      await readable()
      if (key !== undefined) return await write([{ type: 'del', key: metaKey(ns, key) }])
      const ops: Op[] = []
      for await (const k of db.keys(metaRange(ns))) ops.push({ type: 'del', key: k })
      await write(ops)
    }
  }

  return {
    kind: 'leveldb',
    meta,
    async open () {
      await db.open()
    },
    async load (doc, after) {
      await readable()
      const out = []
      const range = after === undefined ? docRange(doc) : { gt: updateKey(doc, after), lt: docRange(doc).lt }
      for await (const [key, value] of db.iterator(range)) {
        const seq = seqOf(key)
        out.push({ seq, ...decodeRecord(seq, value) })
      }
      return out
    },
    async append (doc, updates, after) {
      if (!heads.has(doc)) await headOf(doc)
      // No await from reading the head to taking the numbers: the next append of this doc, even
      // one that waited for the same disk read, is numbered after these.
      const first = Math.max(heads.get(doc) ?? -Infinity, after) + 1
      const last = first + updates.length - 1
      heads.set(doc, last)
      try {
        await write(updates.map((update, i) => ({ type: 'put' as const, key: updateKey(doc, first + i), value: encodeRecord(first + i, update) })))
      } catch (err) {
        // Read the head from disk again next time: these numbers were never stored.
        if (heads.get(doc) === last) heads.delete(doc)
        throw err
      }
      return first
    },
    async replace (doc, upToSeq, update) {
      await readable()
      const ops: Op[] = []
      for await (const key of db.keys({ ...docRange(doc), lte: updateKey(doc, upToSeq) })) {
        ops.push({ type: 'del', key })
      }
      ops.push({ type: 'put', key: updateKey(doc, upToSeq), value: encodeRecord(upToSeq, update) })
      await write(ops)
    },
    async quarantine (doc, seqs) {
      await readable()
      const ops: Op[] = []
      for (const seq of seqs) {
        const value = await db.get(updateKey(doc, seq))
        if (value === undefined) continue
        ops.push({ type: 'put', key: quarantineKey(doc, seq), value }, { type: 'del', key: updateKey(doc, seq) })
      }
      await write(ops)
    },
    async delete (doc) {
      await readable()
      heads.delete(doc)
      const ops: Op[] = []
      for await (const key of db.keys(docRange(doc))) ops.push({ type: 'del', key })
      for await (const key of db.keys({ gte: `q${SEP}${doc}${SEP}`, lt: `q${SEP}${doc}${END}` })) ops.push({ type: 'del', key })
      await write(ops)
    },
    async list () {
      await readable()
      const docs = new Map<string, StoredDocInfo>()
      for await (const [key, value] of db.iterator({ gte: `u${SEP}`, lt: `u${END}` })) {
        const name = key.slice(2, key.lastIndexOf(SEP))
        let info = docs.get(name)
        if (info === undefined) docs.set(name, info = { name, records: 0, bytes: 0 })
        info.records++
        info.bytes += storedUpdateLength(value)
      }
      return [...docs.values()]
    },
    close () {
      closing ??= (async () => {
        if (retryTimer != null) clearTimeout(retryTimer)
        await readable()
        await db.close()
      })()
      return closing
    },
    ready: () => broken == null && db.status === 'open',
    verify: writable
  }
}
