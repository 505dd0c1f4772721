/**
 * `/metrics` with prom-client: Weft's own counters, gauges and histograms in a registry per Weft
 * instance (several can share a process, as in tests and embedders' apps), plus the process
 * metrics operators expect (`process_cpu_seconds_total`, `nodejs_eventloop_lag_seconds`, GC,
 * heap, handles), collected once per process and merged in at scrape time.
 *
 * Call sites count by name: `inc('ws_closed_total{code="4400"}')` creates the counter
 * `weft_ws_closed_total` with label `code` on first use. The hot paths (bytes and messages per
 * delivery) take a bound child once (`counter(name, labels)`) so each count is one addition.
 */
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client'

/** What each of Weft's metrics means (the `# HELP` line); names not listed get a generic one. */
const help: Record<string, string> = {
  updates_total: 'Updates stored and broadcast',
  docs_loaded: 'Docs in memory',
  ws_connections: 'Open WebSocket connections',
  ws_connections_total: 'WebSocket connections accepted',
  ws_closed_total: 'WebSocket connections closed by the server, by close code',
  ws_upgrades_refused_total: 'WebSocket upgrades refused before the socket opened, by HTTP status',
  ws_messages_total: 'WebSocket messages handled',
  ws_message_errors_total: 'WebSocket messages that failed unexpectedly (connection closed)',
  ws_slow_consumers_total: 'WebSocket connections closed for not reading (4508)',
  ws_throttled_total: 'Times a WebSocket connection was paused for going over its message rate',
  ws_dead_connections_total: 'WebSocket connections dropped for missing a pong',
  http_sessions: 'HTTP-only editor sessions (SSE + POST, long poll)',
  http_sessions_total: 'HTTP-only editor sessions started',
  http_updates_total: 'Updates received over POST',
  http_errors_total: 'HTTP error answers, by route and status',
  http_snapshots_total: 'Snapshots served',
  docs_deleted_total: 'Docs deleted (DELETE /docs/:doc, weft.deleteDoc)',
  versions_taken_total: 'Versions stored, by kind: auto (checkpoints) or manual (on demand, and before a restore)',
  versions_restored_total: 'Docs brought back to a version (POST /docs/:doc/versions/:id/restore)',
  http_snapshot_cache_hits_total: 'Snapshots served from the cache (doc unchanged)',
  polls_total: 'Long polls answered',
  polls_pending: 'Long polls held open',
  sse_observers: 'Open SSE streams',
  sse_observers_total: 'SSE streams opened',
  sse_feeds: 'Docs with at least one SSE stream',
  sse_resumes_total: 'SSE streams resumed exactly from a cursor',
  sse_resets_total: 'SSE streams whose cursor could not be served (reset sent)',
  sse_slow_observers_total: 'SSE streams cut for not reading',
  limit_refused_total: 'Requests and connections refused by a limit, by limit',
  presence_refused_total: 'Awareness updates refused, by reason',
  presence_flushes_total: 'Awareness messages broadcast (one per doc per coalescing window, or per change with presenceCoalesceMs 0)',
  presence_states_total: 'Client states carried by broadcast awareness messages (each sent once to every peer)',
  presence_states_coalesced_total: 'Awareness changes never sent because a newer state of the same client went out in the same window',
  client_id_conflicts_total: 'Updates refused for reusing another session\'s Yjs client id',
  quarantined_records_total: 'Stored records quarantined on load (checksum or decode failure)',
  records_backfilled_total: 'Records another node stored, loaded from storage to fill a gap (a lost or late bus message, the head check)',
  auth_failures_total: 'Requests refused by auth, by reason',
  bytes_received_total: 'Bytes of messages received from clients, by transport',
  bytes_sent_total: 'Bytes of messages sent to clients, by transport',
  storage_write_seconds: 'Time to store one batch of updates',
  storage_batch_updates: 'Updates per storage batch (group commit)',
  edit_to_broadcast_seconds: 'From an update\'s arrival at its doc to its broadcast (validation done; queueing, storage, apply)',
  // Webhooks (server/webhooks/): the gauge and histogram are registered when webhooks are on.
  webhook_deliveries_total: 'Webhook delivery attempts, by outcome: ok (2xx), retry (failed, will retry), dropped (given up, or over maxPending)',
  webhook_pending: 'Webhook deliveries not accepted yet (waiting, retrying or being sent)',
  webhook_delivery_seconds: 'Time of one webhook attempt (request to answer, or to the failure)',
  // Cluster mode only (server/cluster/): registered when a cluster starts.
  cluster_bus_adds_total: 'Committed groups this node added to the bus (one XADD each)',
  cluster_bus_add_errors_total: 'Adds refused (a newer group was first) or failed (Redis away); readers back-fill them',
  cluster_bus_groups_received_total: 'Groups other nodes stored, received from the bus',
  cluster_bus_lag_seconds: 'From a group\'s add to this node reading it',
  cluster_head_check_catches_total: 'Docs found behind their stored head by the periodic head check (a lost add, or Redis away)',
  cluster_presence_publishes_total: 'Presence messages this node published (coalesced per doc)',
  cluster_presence_received_total: 'Presence messages from other nodes applied',
  cluster_redis_up: 'Whether the bus\'s Redis connection is ready (1) or not (0)',
  cluster_postgres_up: 'Whether the shared storage answers (1) or not (0)',
  cluster_nodes_seen: 'Nodes heard from (this one included)'
}

/** Label names of the labelled counters (the rest have none). */
const labelNames: Record<string, string[]> = {
  ws_closed_total: ['code'],
  ws_upgrades_refused_total: ['status'],
  http_errors_total: ['route', 'status'],
  limit_refused_total: ['limit'],
  presence_refused_total: ['reason'],
  auth_failures_total: ['reason'],
  bytes_received_total: ['transport'],
  bytes_sent_total: ['transport'],
  versions_taken_total: ['kind'],
  webhook_deliveries_total: ['outcome']
}

/** Buckets per histogram: storage in ms-to-seconds steps, batches in counts. */
const buckets: Record<string, number[]> = {
  storage_write_seconds: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
  storage_batch_updates: [1, 2, 4, 8, 16, 32, 64, 128, 256],
  edit_to_broadcast_seconds: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
  webhook_delivery_seconds: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
  cluster_bus_lag_seconds: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5]
}

let processRegistry: Registry | null = null

/** Process metrics, once per process: they describe the process, whatever runs in it. */
function processMetrics (): Registry {
  if (processRegistry == null) {
    processRegistry = new Registry()
    collectDefaultMetrics({ register: processRegistry })
  }
  return processRegistry
}

type Labels = Record<string, string>

function parse (nameWithLabels: string): { name: string, labels: Labels } {
  const brace = nameWithLabels.indexOf('{')
  if (brace < 0) return { name: nameWithLabels, labels: {} }
  const labels: Labels = {}
  for (const m of nameWithLabels.slice(brace + 1, -1).matchAll(/(\w+)="([^"]*)"/g)) labels[m[1]!] = m[2]!
  return { name: nameWithLabels.slice(0, brace), labels }
}

export interface BoundCounter { inc (by?: number): void }
export interface BoundHistogram { observe (value: number): void }

export class Metrics {
  readonly registry = new Registry()

  constructor () {
    // Every counter exists from the start (at 0, or with no samples until a label is seen), so
    // dashboards and alerts find the series before the first event (Prometheus' advice).
    for (const name of Object.keys(help)) if (name.endsWith('_total') && !name.startsWith('cluster_')) this.counterFor(name, labelNames[name] ?? [])
  }

  /** A `node` label on every series of this instance (cluster mode, or `nodeId` given). */
  setNode (node: string): void { this.registry.setDefaultLabels({ node }) }
  private readonly counters = new Map<string, Counter>()
  private readonly histograms = new Map<string, Histogram>()
  /** Counter values by full name (labels included), for tests and `get()`. */
  private readonly values = new Map<string, number>()
  /** Hot-path counts waiting to be handed to their counter (see `counter()`). */
  private readonly flushers = new Map<Counter, Array<() => void>>()

  /** Adds `by` to a counter; `name` may carry labels: `closed_total{code="4400"}`. */
  inc (nameWithLabels: string, by = 1): void {
    const { name, labels } = parse(nameWithLabels)
    this.counterFor(name, Object.keys(labels)).inc(labels, by)
    this.values.set(nameWithLabels, (this.values.get(nameWithLabels) ?? 0) + by)
  }

  /**
   * A counter with fixed labels for hot paths (bytes per delivery): counting is one addition to
   * a plain number, handed to prom-client at scrape time (prom-client's own `labels().inc()`
   * hashes the labels on every call: ~115 ns, measured). `get()` does not see these.
   */
  counter (name: string, labels: Labels = {}): BoundCounter {
    const counter = this.counterFor(name, Object.keys(labels))
    const acc = { pending: 0, inc (by = 1): void { this.pending += by } }
    let flushers = this.flushers.get(counter)
    if (flushers === undefined) this.flushers.set(counter, flushers = [])
    flushers.push(() => {
      if (acc.pending === 0) return
      counter.inc(labels, acc.pending)
      acc.pending = 0
    })
    return acc
  }

  /** The value `inc()` gave a counter (0 when never counted). */
  get (nameWithLabels: string): number { return this.values.get(nameWithLabels) ?? 0 }

  /** A gauge read at scrape time. */
  gauge (name: string, read: () => number): void {
    new Gauge({ name: `weft_${name}`, help: help[name] ?? `Weft ${name}`, registers: [this.registry], collect () { this.set(read()) } })
  }

  /** A histogram with the buckets declared above for `name`. */
  histogram (name: string, labels: Labels = {}): BoundHistogram {
    let h = this.histograms.get(name)
    if (h === undefined) {
      h = new Histogram({ name: `weft_${name}`, help: help[name] ?? `Weft ${name}`, labelNames: Object.keys(labels), buckets: buckets[name] ?? [0.001, 0.01, 0.1, 1, 10], registers: [this.registry] })
      this.histograms.set(name, h)
    }
    return h.labels(labels)
  }

  /** The exposition text: Weft's metrics, then the process's. */
  async render (): Promise<string> {
    return await Registry.merge([this.registry, processMetrics()]).metrics()
  }

  get contentType (): string { return this.registry.contentType }

  private counterFor (name: string, labelNames: string[]): Counter {
    let c = this.counters.get(name)
    if (c === undefined) {
      const flushers = this.flushers
      c = new Counter({
        name: `weft_${name}`,
        help: help[name] ?? `Weft ${name}`,
        labelNames,
        registers: [this.registry],
        collect () { for (const flush of flushers.get(this) ?? []) flush() }
      })
      this.counters.set(name, c)
    }
    return c
  }
}
