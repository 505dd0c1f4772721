/**
 * The log's fan-out between nodes: Redis Streams carry committed groups, never anything that is
 * not stored. Postgres is the truth; the bus only makes other nodes hear of a group at once.
 *
 * - **Publish**: one `XADD` per committed group (docs/doc-log.ts stores it, then this adds it),
 *   to the doc's stream, with the stream id `<last seq>-0`. Redis refuses an id at or below the
 *   stream's top, so a retried or reordered add can never duplicate; readers back-fill what a
 *   refused or lost add did not bring. Streams are trimmed by length, never deleted.
 * - **Follow**: each node reads the streams of the docs it has loaded, spread over a few reader
 *   connections (shards), each an `XREAD BLOCK` loop. A bad key (another type) fails only its
 *   shard's read, which then drops that key and goes on; the head check still covers that doc.
 *   Groups are handed to the doc's log (`integrate`): in sequence order, once, gaps back-filled.
 * - **Alone**: a doc no other node has loaded (cluster/index.ts asks Redis when it starts
 *   following, and hears another node's arrival on the doc's presence channel) is not read: its
 *   only adds are this node's own, and reading them back would cost a wake-up and a command per
 *   group for nothing. It is read again, for good, from the doc's head, once another node shows
 *   up, Redis reconnects (what was said meanwhile is lost), or the head check finds it behind.
 * - **Head check**: about once a second, one query for the stored heads of every loaded doc; a doc
 *   behind catches up from storage. It catches a lost last add, and it is the whole fan-out while
 *   Redis is down (writes go on: a failed add is counted, not an error to the writer).
 */
import type { Redis } from 'ioredis'
import { redisConnection } from './redis.js'
import type { SharedDoc } from '../docs/shared-doc.js'
import type { Logger } from '../logger.js'
import type { Metrics } from '../metrics.js'
import type { Storage } from '../storage/types.js'
import { decodeGroup, encodeGroup } from './group-codec.js'
import type { ClusterKeys } from './keys.js'

export interface LogBusOptions {
  redisUrl: string
  nodeId: string
  keys: ClusterKeys
  storage: Storage
  logger: Logger
  metrics: Metrics
  /** Reader connections the followed streams are spread over. @default 4 */
  shards?: number
  /** Entries kept per stream (approximate trim). @default 1000 */
  streamMaxLen?: number
  /** How often the stored heads are compared with the docs'. @default 1000 */
  headCheckMs?: number
  /**
   * The head check found no head for a doc this node holds stored records of: another node
   * deleted it (docs/delete.ts) and its message did not arrive (Redis away).
   */
  onGone?: (doc: SharedDoc) => void
}

interface Followed {
  doc: SharedDoc
  key: string
  /** The last stream id read: XREAD continues after it. */
  lastId: string
  /** The key could not be read (another type): left to the head check. */
  bad: boolean
  /** No other node has the doc loaded: not read (see the module comment). */
  alone: boolean
  /** Another node has (or had) the doc: read until unfollowed, whatever `alone()` says later. */
  shared: boolean
}

/** A reader connection and the streams it follows. */
interface Shard {
  conn: Redis
  id: number | null
  streams: Map<string, Followed>
  /** Resolves the wait of a shard with nothing to read. */
  wake: (() => void) | null
  /** Blocked in XREAD (a newly followed doc unblocks it). */
  blocked: boolean
}

const BLOCK_MS = 1000

export class LogBus {
  private readonly cmd: Redis
  private readonly shards: Shard[]
  private readonly followed = new Map<string, Followed>()
  private readonly headTimer: NodeJS.Timeout
  private closed = false
  private checking = false
  private lastError = 0
  private readonly lag
  private readonly adds
  private readonly addErrors
  private readonly received
  private readonly catches

  constructor (private readonly opts: LogBusOptions) {
    // Adds fail at once while Redis is away (a write must not wait for the bus).
    this.cmd = redisConnection(opts.redisUrl, 'commands', this.onRedisError)
    // A reconnect: news of other nodes may have been lost meanwhile, so every doc is read again.
    let readies = 0
    this.cmd.on('ready', () => { if (readies++ > 0) for (const f of this.followed.values()) this.share(f) })
    this.shards = Array.from({ length: opts.shards ?? 4 }, () => {
      const conn = redisConnection(opts.redisUrl, 'listener', this.onRedisError)
      const shard: Shard = { conn, id: null, streams: new Map(), wake: null, blocked: false }
      conn.on('ready', () => { conn.client('ID').then(id => { shard.id = Number(id) }, () => {}) })
      return shard
    })
    const m = opts.metrics
    this.lag = m.histogram('cluster_bus_lag_seconds')
    this.adds = m.counter('cluster_bus_adds_total')
    this.addErrors = m.counter('cluster_bus_add_errors_total')
    this.received = m.counter('cluster_bus_groups_received_total')
    this.catches = m.counter('cluster_head_check_catches_total')
    m.gauge('cluster_redis_up', () => this.cmd.status === 'ready' ? 1 : 0)
    for (const shard of this.shards) void this.read(shard)
    this.headTimer = setInterval(() => { void this.checkHeads() }, opts.headCheckMs ?? 1000)
    this.headTimer.unref()
  }

  private readonly onRedisError = (err: Error): void => {
    // ioredis reconnects by itself; one line per few seconds is enough to say Redis is away.
    const now = Date.now()
    if (now - this.lastError > 5000) {
      this.lastError = now
      this.opts.logger.warn({ err: err.message }, 'redis: connection error (the bus falls back to the head check)')
    }
  }

  /** A group this node stored: one XADD, id derived from its last sequence number. */
  publish (doc: SharedDoc, first: number, updates: readonly Uint8Array[]): void {
    if (this.closed || updates.length === 0) return
    const last = first + updates.length - 1
    const key = this.opts.keys.stream(doc.name)
    this.cmd.xadd(key, 'MAXLEN', '~', String(this.opts.streamMaxLen ?? 1000), `${last}-0`,
      'n', this.opts.nodeId, 'f', String(first), 't', String(Date.now()), 'u', Buffer.from(encodeGroup(updates))
    ).then(() => { this.adds.inc() }, (err: Error) => {
      // At or below the top: a newer group got there first; readers back-fill this one.
      this.addErrors.inc()
      this.opts.logger.debug({ doc: doc.name, first, last, err: err.message }, 'bus: add refused or failed')
    })
  }

  /** Starts reading a loaded doc's stream (after its current head). */
  follow (doc: SharedDoc): void {
    if (this.closed || this.followed.has(doc.name)) return
    // After the doc's head; a doc with nothing stored yet has the blank cursor (0): every group is news.
    const f: Followed = { doc, key: this.opts.keys.stream(doc.name), lastId: `${doc.seq}-0`, bad: false, alone: false, shared: false }
    this.followed.set(doc.name, f)
    const shard = this.shardOf(doc.name)
    shard.streams.set(f.key, f)
    this.wake(shard)
  }

  /** No other node has the doc loaded (as Redis said when this node started following it). */
  alone (doc: SharedDoc): void {
    const f = this.followed.get(doc.name)
    if (f === undefined || f.doc !== doc || f.shared) return
    // A read blocked on it ends at its next add (or in a second); the next read leaves it out.
    f.alone = true
  }

  /** Another node has the doc loaded (it said so on the doc's presence channel). */
  others (doc: SharedDoc): void {
    const f = this.followed.get(doc.name)
    if (f !== undefined && f.doc === doc) this.share(f)
  }

  private share (f: Followed): void {
    f.shared = true
    if (!f.alone) return
    f.alone = false
    // Everything up to the doc's head is applied; each entry's id is its group's last number.
    f.lastId = `${f.doc.seq}-0`
    this.wake(this.shardOf(f.doc.name))
  }

  private shardOf (name: string): Shard { return this.shards[hash(name) % this.shards.length]! }

  /** A shard waiting with nothing to read, or blocked on other streams, starts a new read. */
  private wake (shard: Shard): void {
    if (shard.wake !== null) shard.wake()
    else if (shard.blocked && shard.id !== null) this.cmd.client('UNBLOCK', shard.id).catch(() => {})
  }

  unfollow (doc: SharedDoc): void {
    const f = this.followed.get(doc.name)
    if (f === undefined || f.doc !== doc) return
    this.followed.delete(doc.name)
    this.shardOf(doc.name).streams.delete(f.key)
  }

  private async read (shard: Shard): Promise<void> {
    while (!this.closed) {
      const streams = [...shard.streams.values()].filter(f => !f.bad && !f.alone)
      if (streams.length === 0) {
        await new Promise<void>(resolve => { shard.wake = resolve; setTimeout(resolve, BLOCK_MS).unref() })
        shard.wake = null
        continue
      }
      let res: Array<[Buffer, Array<[Buffer, Buffer[]]>]> | null
      try {
        shard.blocked = true
        res = await shard.conn.xreadBuffer('COUNT', 256, 'BLOCK', BLOCK_MS, 'STREAMS', ...streams.map(f => f.key), ...streams.map(f => f.lastId)) as typeof res
      } catch (err) {
        if (this.closed) return
        if (/WRONGTYPE/.test((err as Error).message)) await this.dropBadKeys(shard, streams)
        else await sleep(200)
        continue
      } finally {
        shard.blocked = false
      }
      if (res === null) continue
      for (const [keyBuf, entries] of res) {
        const f = shard.streams.get(keyBuf.toString())
        if (f === undefined) continue
        for (const [idBuf, fields] of entries) {
          f.lastId = idBuf.toString()
          this.deliver(f, fields)
        }
      }
    }
  }

  private deliver (f: Followed, fields: Buffer[]): void {
    const get = (name: string): Buffer | undefined => {
      for (let i = 0; i + 1 < fields.length; i += 2) if (fields[i]!.toString() === name) return fields[i + 1]
      return undefined
    }
    const node = get('n')?.toString()
    const sent = Number(get('t')?.toString())
    if (Number.isFinite(sent)) this.lag.observe(Math.max(0, Date.now() - sent) / 1000)
    if (node === this.opts.nodeId) return // our own group: applied when we stored it
    const first = Number(get('f')?.toString())
    const bytes = get('u')
    if (!Number.isSafeInteger(first) || bytes === undefined) return
    let records
    try {
      records = decodeGroup(first, new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength))
    } catch (err) {
      this.opts.logger.warn({ doc: f.doc.name, first, err: (err as Error).message }, 'bus: an entry that is not a group; the head check covers it')
      return
    }
    this.received.inc()
    f.doc.integrate(records).catch((err: Error) => this.opts.logger.warn({ doc: f.doc.name, err }, 'bus: integrating a group failed; the head check retries'))
  }

  /** A WRONGTYPE failed the shard's read: find the keys that are not streams and stop reading them. */
  private async dropBadKeys (shard: Shard, streams: Followed[]): Promise<void> {
    for (const f of streams) {
      const type = await this.cmd.type(f.key).catch(() => 'unknown')
      if (type !== 'stream' && type !== 'none') {
        f.bad = true
        this.opts.logger.error({ doc: f.doc.name, key: f.key, type }, 'bus: the doc\'s stream key holds another type; following it by head check only')
      }
    }
  }

  /** Compares every followed doc with its stored head; a doc behind catches up from storage. */
  private async checkHeads (): Promise<void> {
    const storage = this.opts.storage
    if (this.checking || this.closed || storage.heads === undefined || this.followed.size === 0) return
    this.checking = true
    try {
      const heads = await storage.heads([...this.followed.keys()])
      for (const [name, f] of [...this.followed]) {
        const head = heads.get(name)
        if (head === undefined) {
          // Stored records, and now no head: the doc was deleted on another node.
          if (f.doc.log.isBased && this.followed.get(name) === f) this.opts.onGone?.(f.doc)
          continue
        }
        if (head <= f.doc.seq) continue
        this.catches.inc()
        this.share(f) // someone else writes it: its next adds come over the stream
        await f.doc.reach(head)
      }
    } catch {
      // Storage away: reads go on from memory; the next check tries again.
    } finally {
      this.checking = false
    }
  }

  /**
   * A deleted doc's stream goes (docs/delete.ts): its entries are the deleted life's records, and
   * a node loading the name afresh reads a doc's stream from its start. Old cursors are reset by
   * then, so nothing points into it. If Redis is away, the doc's tombstone keeps those records
   * out (SharedDoc.integrate).
   */
  async drop (doc: string): Promise<void> {
    await this.cmd.del(this.opts.keys.stream(doc)).catch((err: Error) => {
      this.opts.logger.warn({ doc, err: err.message }, 'bus: could not drop a deleted doc\'s stream; its tombstone keeps the old records out')
    })
  }

  async close (): Promise<void> {
    if (this.closed) return
    this.closed = true
    clearInterval(this.headTimer)
    for (const s of this.shards) s.wake?.()
    // Readers may be blocked in XREAD for up to a second: cut them; the command connection quits.
    for (const s of this.shards) s.conn.disconnect()
    await this.cmd.quit().catch(() => { this.cmd.disconnect() })
  }
}

function sleep (ms: number): Promise<void> { return new Promise(resolve => setTimeout(resolve, ms).unref()) }

/** FNV-1a: which shard follows a doc. */
function hash (text: string): number {
  let h = 0x811c9dc5
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 0x01000193)
  return h >>> 0
}
