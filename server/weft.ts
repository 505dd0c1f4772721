/**
 * createWeft: the embedding API. Builds the registry, transports and routes from one options
 * object; `attach()` puts them on an http.Server, `router` mounts them in an Express app.
 */
import { EventEmitter } from 'node:events'
import type { Server as HttpServer, IncomingMessage, ServerResponse } from 'node:http'
import type { Duplex } from 'node:stream'
import express from 'express'
import { createContext, type WeftContext } from './context.js'
import type { AwarenessBroadcast, DocPeer, UpdateBroadcast } from './docs/broadcast.js'
import { DocHandle } from './docs/handle.js'
import { DocRegistry } from './docs/registry.js'
import { checkDocName } from './doc-name.js'
import { createRouter } from './http/router.js'
import { silentLogger } from './logger.js'
import { Metrics } from './metrics.js'
import { resolveOptions, type WeftOptions } from './options.js'
import { leveldbStorage } from './storage/leveldb.js'
import { createTransports, type Transports } from './transports/index.js'
import { Cluster } from './cluster/index.js'
import { Hooks } from './hooks.js'
import { Webhooks } from './webhooks/webhooks.js'
import { contentReader } from './webhooks/content.js'
import { deleteDocument } from './http/delete.js'
import type { RestoreResult, VersionInfo } from './docs/versions.js'
import { disconnect } from './transports/disconnect.js'

export interface UpdateEvent { doc: string, update: Uint8Array, seq: number, origin: unknown }
/**
 * Presence changed in a doc. Fired once per flush: with `presenceCoalesceMs` > 0, one event lists
 * every client changed within the window (each once); with 0, one event per change.
 */
export interface AwarenessEvent { doc: string, added: number[], updated: number[], removed: number[] }

export interface WeftEvents {
  update: [UpdateEvent]
  awareness: [AwarenessEvent]
}

export interface WeftStats {
  docsLoaded: number
  docLoads: number
  pendingUnloads: number
  connections: number
  peers: number
}

export class Weft extends EventEmitter<WeftEvents> {
  /** Every HTTP route, as an Express 5 router. */
  readonly router: express.Router
  /** Internal state, exposed for tests and tools; not a stable API. */
  readonly context: WeftContext
  private readonly transports: Transports
  private readonly hooks: Hooks
  /** Webhooks (server/webhooks/), null when off; exposed for tests and tools, not a stable API. */
  readonly webhooks: Webhooks | null = null
  /** Cluster mode's bus and presence relay (null on a single node). */
  private readonly cluster: Cluster | null
  private readonly attached = new Map<HttpServer, { upgrade: (...a: any[]) => void, request?: (...a: any[]) => void }>()
  private closing: Promise<void> | null = null

  /** Use `createWeft()`: it opens storage before anything can connect. */
  constructor (options: WeftOptions = {}) {
    super()
    const resolved = resolveOptions(options, () => leveldbStorage('./data'), silentLogger)
    const metrics = new Metrics()
    const hooks = new Hooks(resolved.hooks, resolved.logger, { quietMs: resolved.changeDebounceMs, maxDelayMs: resolved.changeMaxDelayMs })
    if (resolved.nodeId !== undefined) metrics.setNode(resolved.nodeId)
    // Cluster mode: built once the registry exists; the doc hooks below reach it from then on.
    let cluster: Cluster | null = null
    const writeSeconds = metrics.histogram('storage_write_seconds')
    const batchUpdates = metrics.histogram('storage_batch_updates')
    const editToBroadcast = metrics.histogram('edit_to_broadcast_seconds')
    const presenceFlushes = metrics.counter('presence_flushes_total')
    const presenceStates = metrics.counter('presence_states_total')
    const presenceCoalesced = metrics.counter('presence_states_coalesced_total')
    const registry = new DocRegistry({
      ...resolved,
      onUpdate: (doc, b: UpdateBroadcast) => {
        metrics.inc('updates_total')
        if (hooks.any) hooks.changed(doc.name, b.seq, (b.origin as DocPeer | null)?.user)
        this.emit('update', { doc: doc.name, update: b.update, seq: b.seq, origin: b.origin })
      },
      // Once per flush: with coalescing on, one event covers every client changed in the window.
      onAwareness: (doc, b: AwarenessBroadcast) => {
        cluster?.awareness(doc, b)
        presenceFlushes.inc()
        presenceStates.inc(b.size)
        if (b.folded > 0) presenceCoalesced.inc(b.folded)
        this.emit('awareness', { doc: doc.name, ...b.changes })
      },
      onCommitted: (doc, first, updates) => {
        cluster?.committed(doc, first, updates)
        // Only what this node stores is told by its hooks (in a cluster: once, not by every node).
        if (hooks.any) hooks.committed(doc.name, first, updates.length)
      },
      onFirstStored: (doc, seq) => { if (hooks.any) hooks.firstStored(doc.name, seq) },
      onBackfilled: (_doc, records) => { metrics.inc('records_backfilled_total', records) },
      onQuarantine: (_doc, records) => { metrics.inc('quarantined_records_total', records) },
      onStored: (_doc, updates, seconds, latencies) => {
        writeSeconds.observe(seconds)
        batchUpdates.observe(updates)
        for (const l of latencies) editToBroadcast.observe(l)
      },
      // reason: read-only (ignored), too-large (4413 / 413), doc-full (ignored until there is room).
      onPresenceRefused: (_doc, outcome) => { metrics.inc(`presence_refused_total{reason="${outcome.kind}"}`) }
    })
    if (resolved.cluster !== undefined) cluster = new Cluster(registry, resolved.storage, { ...resolved.cluster, nodeId: resolved.nodeId }, resolved.logger, metrics, resolved.maxAwarenessStateBytes)
    this.cluster = cluster
    this.context = createContext(resolved, metrics, registry, hooks)
    // A delete here retires the doc on every node that has it loaded.
    if (cluster !== null) this.context.docWipes.push(async doc => { await cluster!.deleted(doc) })
    this.hooks = hooks
    if (resolved.webhooks !== undefined) {
      const webhooks = new Webhooks(resolved.webhooks, { storage: resolved.storage, logger: resolved.logger, metrics, contentOf: contentReader(registry, resolved.storage), clusterNodeId: resolved.cluster !== undefined ? resolved.nodeId : undefined })
      hooks.add(webhooks, webhooks.windows)
      this.webhooks = webhooks
    }
    if (hooks.any) {
      registry.on('loaded', doc => hooks.loaded(doc.name))
      registry.on('unloading', doc => hooks.unloaded(doc.name))
    }
    this.transports = createTransports(this.context)
    this.router = createRouter(this.context, this.transports)
    metrics.gauge('docs_loaded', () => registry.size)
    metrics.gauge('ws_connections', () => this.transports.websocket.connections)
  }

  /**
   * Serves WebSocket upgrades on `server`, and the HTTP routes too when the server has no
   * request handler of its own (with Express, mount `weft.router` instead).
   */
  attach (server: HttpServer): this {
    if (this.attached.has(server)) return this
    const upgrade = (req: IncomingMessage, socket: Duplex, head: Buffer): void => this.transports.websocket.handleUpgrade(req, socket, head)
    server.on('upgrade', upgrade)
    const entry: { upgrade: typeof upgrade, request?: (req: IncomingMessage, res: ServerResponse) => void } = { upgrade }
    if (server.listenerCount('request') === 0) {
      const app = express()
      app.disable('x-powered-by')
      app.use(this.router)
      entry.request = app
      server.on('request', app)
    }
    this.attached.set(server, entry)
    return this
  }

  /** A Y.Doc for server-side edits: stored and broadcast like a client's. Call `release()` when done. */
  async openDoc (name: string): Promise<DocHandle> {
    checkDocName(name, this.context.options.maxDocNameLength)
    const lease = await this.context.registry.lease(name)
    return new DocHandle(lease.doc, lease.release)
  }

  /**
   * Ends the sessions that match (all of a doc's, a user's, or a user's on one doc), on every
   * transport and this node: WebSockets are closed with 4401 ("authenticate again": after a
   * permission change the next upgrade is refused or granted anew), HTTP editor sessions end,
   * SSE streams end. Returns how many were ended.
   */
  disconnect (which: { doc?: string, user?: string }): number {
    return disconnect(this.context.registry, which)
  }

  /**
   * Deletes a doc for good (server/http/delete.ts, docs/delete.ts): its peers on this node are
   * ended (4410, SSE `deleted`, polls 410), its records, versions and head leave storage, and a
   * tombstone keeps stale editors from restoring it. The name is a new, empty doc afterwards.
   * No access check: call it after your own. Resolves false when there was no such doc.
   */
  async deleteDoc (name: string, by: { user?: string } = {}): Promise<boolean> {
    checkDocName(name, this.context.options.maxDocNameLength)
    return await deleteDocument(this.context, name, by.user)
  }

  /** A doc's versions, newest first (docs/versions.ts), without loading it. */
  async listVersions (name: string): Promise<VersionInfo[]> {
    checkDocName(name, this.context.options.maxDocNameLength)
    return await this.context.versions.list(name)
  }

  /** Takes a version of a doc now, as `POST /docs/:doc/versions` does. No access check. */
  async takeVersion (name: string, opts: { name?: string, user?: string } = {}): Promise<VersionInfo> {
    checkDocName(name, this.context.options.maxDocNameLength)
    const lease = await this.context.registry.lease(name)
    try {
      return await this.context.versions.take(lease.doc, { name: opts.name, by: opts.user })
    } finally { lease.release() }
  }

  /**
   * Brings a doc back to a version's content as one ordinary update (every peer receives it),
   * keeping the replaced content as the `before` version. No access check. Rejects with
   * `VersionNotFound` for an unknown id.
   */
  async restoreVersion (name: string, id: string, by: { user?: string } = {}): Promise<RestoreResult> {
    checkDocName(name, this.context.options.maxDocNameLength)
    const lease = await this.context.registry.lease(name)
    try {
      return await this.context.versions.restore(lease.doc, id, by.user)
    } finally { lease.release() }
  }

  stats (): WeftStats {
    const docs = this.context.registry.docs()
    return {
      docsLoaded: this.context.registry.size,
      docLoads: this.context.registry.loads,
      pendingUnloads: this.context.registry.pendingUnloads,
      connections: this.transports.websocket.connections,
      peers: docs.reduce((n, d) => n + d.peers.size, 0)
    }
  }

  /**
   * Graceful shutdown: refuse new peers, close sockets with 1012, end streams and polls,
   * flush and compact every doc, close storage. Idempotent.
   */
  close (): Promise<void> {
    this.closing ??= (async () => {
      this.context.closing = true
      for (const [server, entry] of this.attached) {
        server.off('upgrade', entry.upgrade)
      }
      await this.transports.close()
      await this.context.registry.close()
      // The checkpoints of docs that unloaded with edits pending are stored before storage closes.
      await this.context.versions.close()
      this.hooks.flush()
      // Every event stored, what is due tried for a moment; the rest waits in storage.
      await this.webhooks?.close()
      // After the registry: the docs' final flushes are published before the bus closes.
      await this.cluster?.close()
      await this.context.options.storage.close()
      for (const [server, entry] of this.attached) {
        if (entry.request !== undefined) server.off('request', entry.request)
      }
      this.attached.clear()
    })()
    return this.closing
  }
}

/** Creates a Weft instance and opens its storage (a bad data dir fails here, clearly). */
export async function createWeft (options: WeftOptions = {}): Promise<Weft> {
  const weft = new Weft(options)
  await weft.context.options.storage.open()
  // Deliveries a previous run left are queued again.
  await weft.webhooks?.start()
  return weft
}
