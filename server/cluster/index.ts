/**
 * Cluster mode (`--redis URL` with `--postgres URL`): several nodes serve the same docs behind
 * any load balancer. Postgres is the log and each doc's sequencer (storage/postgres.ts: numbers
 * from a per-doc head row), so a cursor from one node is valid on every node; Redis carries
 * committed groups (log-bus.ts, Streams) and presence (presence-relay.ts, pub/sub). A node
 * follows the docs it has loaded: it attaches through the registry's lifecycle (`loaded`,
 * `unloading`) and hears each stored batch and presence flush through the doc hooks Weft wires.
 */
import { hostname } from 'node:os'
import type { Redis } from 'ioredis'
import { redisConnection } from './redis.js'
import type { AwarenessBroadcast } from '../docs/broadcast.js'
import type { DocRegistry } from '../docs/registry.js'
import type { SharedDoc } from '../docs/shared-doc.js'
import type { Logger } from '../logger.js'
import type { Metrics } from '../metrics.js'
import type { Storage } from '../storage/types.js'
import { clusterKeys } from './keys.js'
import { LogBus } from './log-bus.js'
import { PresenceRelay } from './presence-relay.js'

export interface ClusterOptions {
  /** Redis URL, e.g. `redis://127.0.0.1:6379`. */
  redis: string
  /** This node's name in logs, metrics and on the bus. @default `<hostname>-<pid>` */
  nodeId?: string
  /** Prefix of every Redis key, for several clusters on one Redis. @default "weft" */
  prefix?: string
  /** How often each node compares the stored heads with its docs (ms). @default 1000 */
  headCheckMs?: number
  /** Presence of one doc goes out at most this often per node (ms). @default 50 */
  presenceMs?: number
  /** Node heartbeat (ms); a node silent for three is gone. @default 2000 */
  heartbeatMs?: number
}

export const defaultNodeId = (): string => `${hostname()}-${process.pid}`

export class Cluster {
  readonly nodeId: string
  private readonly bus: LogBus
  private readonly relay: PresenceRelay
  private readonly pub: Redis
  private readonly sub: Redis
  private closed = false

  constructor (private readonly registry: DocRegistry, storage: Storage, opts: ClusterOptions, private readonly logger: Logger, metrics: Metrics, maxAwarenessStateBytes: number) {
    this.nodeId = opts.nodeId ?? defaultNodeId()
    const keys = clusterKeys(opts.prefix)
    this.bus = new LogBus({ redisUrl: opts.redis, nodeId: this.nodeId, keys, storage, logger, metrics, headCheckMs: opts.headCheckMs, onGone: doc => { this.retire(doc, 'the head check') } })
    const quiet = (): void => {} // the bus logs Redis being away, once per few seconds
    this.pub = redisConnection(opts.redis, 'commands', quiet)
    this.sub = redisConnection(opts.redis, 'listener', quiet)
    // The relay knows which docs other nodes have loaded (their channel subscriptions and
    // messages); the bus reads a doc's stream only while another node may write it.
    this.relay = new PresenceRelay(this.pub, this.sub, {
      nodeId: this.nodeId, keys, logger, metrics, maxAwarenessStateBytes, presenceMs: opts.presenceMs, heartbeatMs: opts.heartbeatMs,
      onAlone: doc => { this.bus.alone(doc) },
      onOthers: doc => { this.bus.others(doc) },
      onDeleted: doc => { this.retire(doc, 'its message') }
    })
    metrics.gauge('cluster_postgres_up', () => storage.ready === undefined || storage.ready() ? 1 : 0)
    registry.on('loaded', this.onLoaded)
    registry.on('unloading', this.onUnloading)
    for (const doc of registry.docs()) this.onLoaded(doc)
  }

  private readonly onLoaded = (doc: SharedDoc): void => {
    this.bus.follow(doc)
    this.relay.follow(doc)
  }

  private readonly onUnloading = (doc: SharedDoc): void => {
    this.bus.unfollow(doc)
    this.relay.unfollow(doc)
  }

  /**
   * This node deleted `doc` (docs/delete.ts): its stream goes, and the nodes that have it loaded
   * retire it too (a node that misses the message finds the head gone at its next head check).
   */
  async deleted (doc: string): Promise<void> {
    await this.bus.drop(doc)
    this.relay.deleted(doc)
  }

  /**
   * Another node deleted `doc`: its peers here are ended as there (4410, SSE `deleted`, polls
   * 410) and it leaves memory; storage is that node's to clean. Loaded again, it reads the
   * tombstone and refuses the deleted content here too.
   */
  private retire (doc: SharedDoc, how: string): void {
    if (this.closed || this.registry.get(doc.name) !== doc) return
    this.logger.info({ doc: doc.name, how }, 'cluster: the doc was deleted on another node; retired here')
    this.registry.delete(doc.name, async () => {}).catch(err => { this.logger.warn({ doc: doc.name, err }, 'cluster: retiring a deleted doc failed') })
  }

  /** A batch this node stored: one add to the doc's stream. */
  committed (doc: SharedDoc, first: number, updates: readonly Uint8Array[]): void { this.bus.publish(doc, first, updates) }

  /** A presence flush: this node's clients' changes go to the others. */
  awareness (doc: SharedDoc, b: AwarenessBroadcast): void { this.relay.changed(doc, b) }

  async close (): Promise<void> {
    if (this.closed) return
    this.closed = true
    this.registry.off('loaded', this.onLoaded)
    this.registry.off('unloading', this.onUnloading)
    await this.relay.close()
    await this.bus.close()
    this.sub.disconnect()
    await this.pub.quit().catch(() => { this.pub.disconnect() })
  }
}
