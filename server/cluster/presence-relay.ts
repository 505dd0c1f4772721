/**
 * Presence between nodes, over Redis pub/sub, never in the log. Each node publishes, per doc, the
 * awareness changes of its own clients, coalesced (one publish per `presenceMs` at most, each
 * client's newest state); the others apply them as coming from one relay peer per node and doc
 * (docs/broadcast.ts `relay`), so anti-spoofing holds across nodes: an id another node's client
 * holds is refused here as it would be there.
 *
 * Every node heartbeats on one channel. A node silent for three heartbeats (or one that said
 * goodbye) has its presence removed everywhere: well within the 30 s awareness timeout. A node
 * that starts following a doc asks the others for their presence in it, so a joiner sees every
 * node's people, not only those who move next. The same channel tells who else has a doc loaded
 * (its subscribers, anyone who speaks on it): the bus reads a doc's stream only then (log-bus.ts).
 */
import type { Redis } from 'ioredis'
import * as decoding from 'lib0/decoding'
import * as encoding from 'lib0/encoding'
import { decodeAwarenessEntries } from '../../shared/awareness.js'
import type { AwarenessBroadcast, DocPeer } from '../docs/broadcast.js'
import type { SharedDoc } from '../docs/shared-doc.js'
import type { Logger } from '../logger.js'
import type { Metrics } from '../metrics.js'
import type { ClusterKeys } from './keys.js'

export interface PresenceRelayOptions {
  nodeId: string
  keys: ClusterKeys
  logger: Logger
  metrics: Metrics
  /** Largest awareness state per client (the same bound as a connection's). */
  maxAwarenessStateBytes: number
  /** Changes of one doc within this window go in one publish. @default 50 */
  presenceMs?: number
  /** @default 2000 */
  heartbeatMs?: number
  /** Once subscribed to a doc's channel: no other node is (the bus need not read its stream). */
  onAlone?: (doc: SharedDoc) => void
  /** Another node spoke on a doc's channel: it has the doc loaded. */
  onOthers?: (doc: SharedDoc) => void
  /** Another node deleted a doc this node has loaded (docs/delete.ts). */
  onDeleted?: (doc: SharedDoc) => void
}

const UPDATE = 0
const QUERY = 1
/** The doc was deleted: every node that has it loaded retires it at once. */
const DELETED = 2

/** Another node, as the doc sees it: the owner of that node's clients' states. */
class RemoteNode implements DocPeer {
  readonly access = 'write' as const
  readonly relay = true
  /** Its node hears presence through the relay's own channel, not through flushes. */
  readonly hearsPresence = false
  constructor (readonly node: string) {}
  deliverUpdate (): void {}
  deliverAwareness (): void {}
  close (): void {}
}

interface DocState {
  doc: SharedDoc
  /** Ids whose newest change came from this node's own peers (what this node speaks for). */
  local: Set<number>
  /** Ids changed since the last publish. */
  pending: Set<number>
  timer: NodeJS.Timeout | null
  remotes: Map<string, RemoteNode>
}

export class PresenceRelay {
  private readonly docs = new Map<string, DocState>()
  private readonly byChannel = new Map<string, DocState>()
  private readonly lastHeard = new Map<string, number>()
  private readonly heartbeat: NodeJS.Timeout
  private closed = false
  private readonly published
  private readonly applied

  constructor (private readonly pub: Redis, private readonly sub: Redis, private readonly opts: PresenceRelayOptions) {
    this.published = opts.metrics.counter('cluster_presence_publishes_total')
    this.applied = opts.metrics.counter('cluster_presence_received_total')
    opts.metrics.gauge('cluster_nodes_seen', () => this.lastHeard.size + 1)
    sub.on('messageBuffer', this.onMessage)
    sub.subscribe(opts.keys.nodes).catch(() => {})
    const every = opts.heartbeatMs ?? 2000
    this.heartbeat = setInterval(() => {
      this.pub.publish(opts.keys.nodes, `hb ${opts.nodeId}`).catch(() => {})
      this.sweep(Date.now() - every * 3)
    }, every)
    this.heartbeat.unref()
  }

  follow (doc: SharedDoc): void {
    if (this.closed || this.docs.has(doc.name)) return
    const s: DocState = { doc, local: new Set(), pending: new Set(), timer: null, remotes: new Map() }
    const channel = this.opts.keys.presence(doc.name)
    this.docs.set(doc.name, s)
    this.byChannel.set(channel, s)
    // Once subscribed, ask the others who is here (they answer with their local states).
    this.sub.subscribe(channel).then(async () => {
      this.send(doc.name, QUERY, new Uint8Array())
      // Subscribers of the channel = nodes that have the doc loaded. One (this one): alone, until
      // another arrives (its QUERY reaches us: we are subscribed). A failed ask changes nothing.
      const reply = await this.pub.pubsub('NUMSUB', channel).catch(() => null) as [unknown, unknown] | null
      if (reply !== null && Number(reply[1]) === 1 && this.docs.get(doc.name) === s) this.opts.onAlone?.(doc)
    }, () => {})
  }

  unfollow (doc: SharedDoc): void {
    const s = this.docs.get(doc.name)
    if (s === undefined || s.doc !== doc) return
    // The doc unloads once its last local client left (at once when it holds nothing): that
    // client's removal is still in the doc's coalescing window, or in ours. Both go out now, or
    // the other nodes would show it until its node's heartbeat stopped.
    doc.presence.sendPending()
    if (s.timer !== null) clearTimeout(s.timer)
    this.flush(s)
    this.docs.delete(doc.name)
    this.byChannel.delete(this.opts.keys.presence(doc.name))
    this.sub.unsubscribe(this.opts.keys.presence(doc.name)).catch(() => {})
  }

  /** A presence flush of a doc (docs/doc-presence.ts): queue what this node's peers changed. */
  changed (doc: SharedDoc, b: AwarenessBroadcast): void {
    const s = this.docs.get(doc.name)
    if (s === undefined || s.doc !== doc) return
    for (const [id, origin] of b.origins) {
      if (origin instanceof RemoteNode) { s.local.delete(id); continue }
      // A peer's change ('peer-closed' and 'timeout' removals included) is ours to publish only
      // for ids we speak for: a removal of another node's client is that node's to announce.
      if (typeof origin === 'object' && origin !== null) s.local.add(id)
      else if (!s.local.has(id)) continue
      s.pending.add(id)
    }
    if (s.pending.size > 0 && s.timer === null) {
      s.timer = setTimeout(() => this.flush(s), this.opts.presenceMs ?? 50)
      s.timer.unref()
    }
  }

  private flush (s: DocState): void {
    s.timer = null
    const meta = s.doc.awareness.meta
    const ids = [...s.pending].filter(id => meta.has(id))
    s.pending.clear()
    for (const id of ids) if (!s.doc.awareness.getStates().has(id)) s.local.delete(id)
    if (ids.length === 0 || this.closed) return
    this.send(s.doc.name, UPDATE, s.doc.encodeAwareness(ids))
  }

  private send (doc: string, type: number, payload: Uint8Array): void {
    const e = encoding.createEncoder()
    encoding.writeVarUint(e, type)
    encoding.writeVarString(e, this.opts.nodeId)
    encoding.writeVarUint8Array(e, payload)
    this.published.inc()
    this.pub.publish(this.opts.keys.presence(doc), Buffer.from(encoding.toUint8Array(e))).catch(() => {})
  }

  private readonly onMessage = (channelBuf: Buffer, message: Buffer): void => {
    const channel = channelBuf.toString()
    if (channel === this.opts.keys.nodes) return this.onNodes(message.toString())
    const s = this.byChannel.get(channel)
    if (s === undefined) return
    let type: number, node: string, payload: Uint8Array
    try {
      const d = decoding.createDecoder(new Uint8Array(message.buffer, message.byteOffset, message.byteLength))
      type = decoding.readVarUint(d)
      node = decoding.readVarString(d)
      payload = decoding.readVarUint8Array(d)
    } catch {
      return
    }
    if (node === this.opts.nodeId) return
    this.lastHeard.set(node, Date.now())
    this.opts.onOthers?.(s.doc)
    if (type === DELETED) return this.opts.onDeleted?.(s.doc)
    if (type === QUERY) {
      const ids = [...s.local].filter(id => s.doc.awareness.getStates().has(id))
      if (ids.length > 0) this.send(s.doc.name, UPDATE, s.doc.encodeAwareness(ids))
      return
    }
    let remote = s.remotes.get(node)
    if (remote === undefined) s.remotes.set(node, remote = new RemoteNode(node))
    try {
      const entries = decodeAwarenessEntries(payload, { maxEntries: 100_000, maxStateLength: this.opts.maxAwarenessStateBytes })
      s.doc.applyAwareness(entries, remote)
      this.applied.inc()
    } catch (err) {
      this.opts.logger.warn({ doc: s.doc.name, node, err: (err as Error).message }, 'cluster: presence from another node did not apply')
    }
  }

  /** Tells the nodes that have `doc` loaded that it was deleted (this node has already retired it). */
  deleted (doc: string): void { this.send(doc, DELETED, new Uint8Array()) }

  private onNodes (text: string): void {
    const [kind, node] = text.split(' ')
    if (node === undefined || node === this.opts.nodeId) return
    if (kind === 'bye') this.drop(node)
    else this.lastHeard.set(node, Date.now())
  }

  /** Nodes not heard since `before` are gone: their presence goes everywhere. */
  private sweep (before: number): void {
    for (const [node, at] of this.lastHeard) if (at < before) this.drop(node)
  }

  private drop (node: string): void {
    this.lastHeard.delete(node)
    for (const s of this.docs.values()) {
      const remote = s.remotes.get(node)
      if (remote === undefined) continue
      s.remotes.delete(node)
      s.doc.presence.leave(remote)
    }
    this.opts.logger.info({ node }, 'cluster: a node left; its presence is removed')
  }

  /** Says goodbye (the others remove this node's presence at once). */
  async close (): Promise<void> {
    if (this.closed) return
    this.closed = true
    clearInterval(this.heartbeat)
    for (const s of this.docs.values()) if (s.timer !== null) clearTimeout(s.timer)
    await this.pub.publish(this.opts.keys.nodes, `bye ${this.opts.nodeId}`).catch(() => {})
  }
}
