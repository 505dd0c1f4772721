/**
 * cluster: what several nodes cost, on a machine too small to show what they add. Each target is
 * a fleet behind nginx (bench/lib/fleet.ts): Weft with 1, 2 and 3 nodes in cluster mode
 * (PostgreSQL + a Redis of its own), plain Weft on LevelDB as the reference, and Hocuspocus with
 * its Redis extension on 3 instances. Clients connect through nginx, one at a time, so round
 * robin spreads them and each client's node is known (latency across nodes vs on the same node).
 *
 * - spread: 20 docs × 5 editors, an edit every 500 ms each (1×: 200 edits/s, 800 deliveries/s).
 * - hot doc: 1 writer at 10 edits/s, 200 observers (WebSockets that only read).
 *
 * `weft-cluster-1-third` is one node at a third of each rate: what each of three nodes carries.
 * A node's cost per delivery falls as its load rises (fewer wake-ups per edit, warmer caches and
 * JIT), so 3 nodes at 1× compare with one node at 1× (the same total load) and with one node at
 * ⅓ (the same load per node: whether capacity grows linearly).
 *
 * Cost = CPU (utime + stime) over the measured window of every node, the fleet's redis-server,
 * nginx and PostgreSQL (bench/lib/cpu-set.ts), per 1,000 peer deliveries, in total and by part.
 * Redis' command counts (INFO) and the nodes' committed groups (/metrics) give adds per group.
 */
import { record, rotation, type BenchContext } from '../lib/context.js'
import { diff, redisCounts, weftCounts, type RedisCounts, type WeftCounts } from '../lib/counters.js'
import { CpuSet } from '../lib/cpu-set.js'
import { withFleet, type Fleet } from '../lib/fleet.js'
import type { TargetName } from '../lib/targets.js'

const targets: TargetName[] = ['weft', 'weft-cluster-1', 'weft-cluster-1-third', 'weft-cluster-2', 'weft-cluster-3', 'weft-cluster-3-doc', 'hocuspocus-redis']

interface Workload { key: string, name: string, rooms: number, clientsPerRoom: number, writersPerRoom?: number, intervalMs: number, peer: string }

/** 20 docs: at 40 (400 edits/s) a cluster of one alone used over a core and p99 went to 235 ms. */
const SPREAD_DOCS = 20
const workloads: Workload[] = [
  { key: 'spread', name: `cluster spread (${SPREAD_DOCS} docs × 5 editors, ${SPREAD_DOCS * 5 * 2} edits/s)`, rooms: SPREAD_DOCS, clientsPerRoom: 5, intervalMs: 500, peer: 'peer' },
  { key: 'hot', name: 'cluster hot doc (1 writer at 10 edits/s, 200 observers)', rooms: 1, clientsPerRoom: 201, writersPerRoom: 1, intervalMs: 100, peer: 'observer' }
]

export async function cluster (ctx: BenchContext): Promise<void> {
  // A fresh process costs far more per edit in its first seconds (JIT): warm up before measuring.
  const ms = { warmup: ctx.quick ? 3000 : 5000, measured: ctx.quick ? 4000 : 10_000 }
  for (let repeat = 0; repeat < ctx.repeats; repeat++) {
    for (const target of rotation(ctx.only(targets), repeat)) {
      await withFleet(target, async fleet => {
        for (const w of workloads) await measure(ctx, fleet, w, repeat, ms)
      })
    }
  }
}

async function measure (ctx: BenchContext, f: Fleet, w: Workload, repeat: number, ms: { warmup: number, measured: number }): Promise<void> {
  const target = f.name
  const weft = f.kind !== 'hocuspocus-cluster'
  // Fresh docs every run: the shared PostgreSQL keeps every earlier run's.
  const roomPrefix = `bench-${target}-${w.key}-${Date.now().toString(36)}-`
  const c = await f.connectSpread(ctx.loadgen, { group: w.key, rooms: w.rooms, clientsPerRoom: w.clientsPerRoom, roomPrefix, writersPerRoom: w.writersPerRoom })
  // `weft-cluster-1-third`: one node at the load each of three carries (same metric names, so
  // the report sets 3 nodes against one at the same load per node).
  const intervalMs = w.intervalMs * f.loadDivisor
  await ctx.loadgen.call('type', { group: w.key, intervalMs, durationMs: ms.warmup })

  const cpu = new CpuSet(async () => await f.listing())
  const redis0 = f.redis === null ? null : await redisCounts(f.redis)
  const weft0 = weft ? await weftCounts(f.ports) : null
  await cpu.start()
  const r = await ctx.loadgen.call('type', { group: w.key, intervalMs, durationMs: ms.measured })
  const parts = await cpu.stop()
  const bus: RedisCounts | null = f.redis === null ? null : diff(await redisCounts(f.redis), redis0!)
  const log: WeftCounts | null = weft ? diff(await weftCounts(f.ports), weft0!) : null
  await ctx.loadgen.call('close-all')

  const add = (metric: string, unit: string, value: number | null | undefined, lowerIsBetter = true): void =>
    record(ctx, { scenario: 'cluster', metric: `${w.name}: ${metric}`, unit, target, repeat, value: value ?? NaN, lowerIsBetter })
  const perK = (x: number | undefined): number => (x ?? 0) / r.delivered * 1000
  const total = ['nodes', 'redis', 'postgres', 'nginx'].reduce((s, p) => s + (parts[p] ?? 0), 0)
  add('CPU ms / 1k deliveries, total', 'ms', perK(total))
  for (const p of ['nodes', 'redis', 'postgres', 'nginx']) add(`CPU ms / 1k deliveries: ${p}`, 'ms', perK(parts[p]))
  add(`p50 edit-to-${w.peer}`, 'ms', r.latency.p50)
  add(`p99 edit-to-${w.peer}`, 'ms', r.latency.p99)
  // Only where the placement was confirmed (nginx put client k on node (first + k) % N).
  if (c.placed && f.nodes.length > 1) {
    add(`p99 edit-to-${w.peer}, across nodes`, 'ms', r.acrossNodes.p99)
    add(`p99 edit-to-${w.peer}, same node`, 'ms', r.sameNode.p99)
    add('deliveries across nodes', '%', 100 * r.acrossNodes.n / r.delivered, false)
  }
  add('delivered', '%', 100 * r.delivered / r.expected, false)
  if (log !== null) add('committed groups per edit', 'groups', log.groups / r.sent)
  if (log !== null && bus !== null) add('Redis XADD per committed group', 'adds', bus.xadd / log.groups)
  if (bus !== null) {
    add('Redis PUBLISH per edit', 'msgs', bus.publish / r.sent)
    add('Redis commands per edit', 'cmds', bus.commands / r.sent)
  }
  const f1 = (x: number | null | undefined): string => (x ?? NaN).toFixed(1)
  ctx.log(`  ${w.key} ${target} #${repeat}: ${c.clients} clients in ${c.connectMs.toFixed(0)} ms (${c.failures} failed), per node ${c.perNode.join('/')} (placement ${c.placed ? 'confirmed' : 'NOT confirmed'}); ` +
    `sent ${r.sent}, delivered ${r.delivered}/${r.expected} (${r.acrossNodes.n} across nodes); CPU ms nodes ${parts.nodes ?? 0} redis ${parts.redis ?? 0} postgres ${parts.postgres ?? 0} nginx ${parts.nginx ?? 0} → ${perK(total).toFixed(1)} ms/1k; ` +
    `p50 ${f1(r.latency.p50)} p99 ${f1(r.latency.p99)} (across ${f1(r.acrossNodes.p99)}, same ${f1(r.sameNode.p99)}) ms` +
    (log !== null ? `; groups ${log.groups}, bus adds ${log.adds} (+${log.addErrors} refused), received ${log.received}, back-filled ${log.backfilled}, head-check catches ${log.catches}` : '') +
    (bus !== null ? `; redis xadd ${bus.xadd} publish ${bus.publish} commands ${bus.commands}` : '') + `; loadgen CPU ${r.loadgenCpuMs.toFixed(0)} ms`)
}
