/**
 * A target as several processes behind nginx (the cluster scenario): a redis-server of its own
 * (test/helpers/redis-server.ts), N server processes (RunningTarget, each with the fleet's flags)
 * and nginx with the repo's config in front (test/helpers/nginx.ts: round robin, or the config's
 * own doc affinity for `weft-cluster-3-doc`). Clients use
 * nginx's URL; the bench reads each node directly. `listing()` names every process whose CPU is
 * the fleet's cost: the nodes, its redis-server, its nginx (master and worker) and PostgreSQL's
 * processes except the client backends of other applications (other tests on the shared server).
 */
import pg from 'pg'
import type { Redis } from 'ioredis'
import { startNginx, type Nginx } from '../../test/helpers/nginx.js'
import { startOwnRedis, type OwnRedis } from '../../test/helpers/redis-server.js'
import { recordFailure } from './context.js'
import { redisPid } from './counters.js'
import type { Counted, Listing } from './cpu-set.js'
import type { LoadGen } from './loadgen.js'
import { establishedOn, processes } from './proc.js'
import { RunningTarget, type TargetName } from './targets.js'

export const postgresUrl = process.env.BENCH_POSTGRES ?? 'postgres://postgres@127.0.0.1:5432/test'
/** The nodes' pool connections carry this application_name: their backends are told apart by it. */
const APP = `weft-bench-${process.pid}`

type Kind = 'single' | 'weft-cluster' | 'hocuspocus-cluster'
const shapes: Partial<Record<TargetName, { nodes: number, kind: Kind, balance?: 'doc', loadDivisor?: number }>> = {
  weft: { nodes: 1, kind: 'single' },
  'weft-cluster-1': { nodes: 1, kind: 'weft-cluster' },
  'weft-cluster-1-third': { nodes: 1, kind: 'weft-cluster', loadDivisor: 3 },
  'weft-cluster-2': { nodes: 2, kind: 'weft-cluster' },
  'weft-cluster-3': { nodes: 3, kind: 'weft-cluster' },
  'weft-cluster-3-doc': { nodes: 3, kind: 'weft-cluster', balance: 'doc' },
  'hocuspocus-redis': { nodes: 3, kind: 'hocuspocus-cluster' }
}

function nodeArgs (kind: Kind, i: number, redisUrl: string): string[] {
  if (kind === 'weft-cluster') return ['--postgres', `${postgresUrl}?application_name=${APP}`, '--redis', redisUrl, '--node-id', `n${i + 1}`]
  if (kind === 'hocuspocus-cluster') return ['--redis', redisUrl, '--id', `h${i + 1}`]
  return []
}

export class Fleet {
  nodes: RunningTarget[] = []
  ownRedis: OwnRedis | null = null
  redis: Redis | null = null
  private redisPid = 0
  nginx: Nginx | null = null
  private db: pg.Client | null = null

  private constructor (readonly name: TargetName, readonly kind: Kind, readonly loadDivisor: number) {}

  static async start (name: TargetName, fleet: (f: Fleet) => void): Promise<Fleet> {
    const shape = shapes[name]
    if (shape === undefined) throw new Error(`${name} cannot run as a fleet`)
    const f = new Fleet(name, shape.kind, shape.loadDivisor ?? 1)
    fleet(f) // the caller can dispose of what started if a later step throws
    if (shape.kind !== 'single') {
      f.ownRedis = await startOwnRedis()
      f.redis = f.ownRedis.client()
      f.redisPid = await redisPid(f.redis)
    }
    await Promise.all(Array.from({ length: shape.nodes }, async (_, i) => { f.nodes.push(await RunningTarget.start(name, [], nodeArgs(shape.kind, i, f.ownRedis?.url ?? ''))) }))
    f.nginx = await startNginx(f.nodes.map(n => n.port), shape.balance ?? 'round-robin')
    f.db = new pg.Client({ connectionString: postgresUrl })
    await f.db.connect()
    return f
  }

  get wsUrl (): string { return this.nginx!.wsUrl }
  get ports (): number[] { return this.nodes.map(n => n.port) }
  get info (): RunningTarget['info'] { return this.nodes[0]!.info }
  get errors (): string { return this.nodes.map(n => n.errors).join('') }

  /** WebSocket (and other) connections each node holds now. */
  connections (): number[] { return this.ports.map(establishedOn) }

  /**
   * Connects a group through nginx one client at a time, so round robin places client k on node
   * (first + k) % N; a probe client finds `first`, and the nodes' connection counts afterwards
   * confirm the placement. Returns the loadgen's connect result and whether it was confirmed.
   */
  async connectSpread (loadgen: LoadGen, spec: { group: string, rooms: number, clientsPerRoom: number, roomPrefix: string, writersPerRoom?: number }): Promise<{ clients: number, failures: number, connectMs: number, placed: boolean, perNode: number[] }> {
    const n = this.nodes.length
    const dialect = this.info.dialect
    const before = this.connections()
    await loadgen.call('connect', { group: `${spec.group}-probe`, url: this.wsUrl, dialect, rooms: 1, clientsPerRoom: 1, roomPrefix: `${spec.roomPrefix}probe-`, writersPerRoom: 0 })
    const probed = this.connections()
    const probeNode = probed.findIndex((c, i) => c > before[i]!)
    const first = (probeNode + 1) % n
    const c = await loadgen.call('connect', { ...spec, url: this.wsUrl, dialect, sequential: true, placement: { nodes: n, first } })
    const after = this.connections()
    const total = spec.rooms * spec.clientsPerRoom
    const expected = Array.from({ length: n }, (_, j) => Math.floor(total / n) + (((j - first + n) % n) < total % n ? 1 : 0))
    const perNode = after.map((x, i) => x - probed[i]!)
    return { ...c, placed: probeNode >= 0 && perNode.every((x, i) => x === expected[i]), perNode }
  }

  /** The processes whose CPU is this fleet's cost, by part (for CpuSet). */
  async listing (): Promise<Listing> {
    const all = processes()
    const counted: Counted[] = this.nodes.map(n => ({ pid: n.pid, part: 'nodes' }))
    if (this.redisPid > 0) counted.push({ pid: this.redisPid, part: 'redis' })
    const masters = new Set(all.filter(p => p.comm === 'nginx' && p.ppid === process.pid).map(p => p.pid))
    for (const p of all) if (p.comm === 'nginx' && (masters.has(p.pid) || masters.has(p.ppid))) counted.push({ pid: p.pid, part: 'nginx' })
    const { rows } = await this.db!.query<{ pid: number }>("select pid from pg_stat_activity where backend_type = 'client backend' and application_name is distinct from $1", [APP])
    const foreign = new Set(rows.map(r => r.pid))
    for (const p of all) if (p.comm === 'postgres' && !foreign.has(p.pid)) counted.push({ pid: p.pid, part: 'postgres' })
    return { counted, foreign: [...foreign] }
  }

  async dispose (): Promise<void> {
    await this.nginx?.stop().catch(() => {})
    await Promise.all(this.nodes.map(async n => await n.dispose()))
    await this.ownRedis?.stop()
    await this.db?.end().catch(() => {})
  }
}

/** Starts a fleet, runs `body`, always disposes of it; a run that throws is recorded as a failure. */
export async function withFleet (name: TargetName, body: (f: Fleet) => Promise<void>): Promise<void> {
  let fleet: Fleet | null = null
  try {
    await Fleet.start(name, f => { fleet = f })
    await body(fleet!)
  } catch (err) {
    recordFailure(name, err as Error, (fleet as Fleet | null)?.errors ?? '')
  } finally {
    await (fleet as Fleet | null)?.dispose()
  }
}
