/**
 * Cluster nodes for tests (test/cluster): several whole Wefts in this process, each on its own
 * port, over one PostgreSQL (a table prefix of the file's own) and a Redis of the file's own.
 * `useCluster()` is called inside a describe: it starts the Redis before the tests, ends what
 * each test opened after it (restarting the Redis if a test killed it), and drops the tables
 * and the Redis at the end.
 */
import { afterAll, afterEach, beforeAll } from 'vitest'
import pg from 'pg'
import { postgresStorage } from '../../server/storage/postgres.js'
import { dropWeftTables, postgresUrl } from './services.js'
import { startServer, type TestServer } from './server.js'
import { startOwnRedis, type OwnRedis } from './redis-server.js'
import { stockClient, synced, type StockClient } from './providers.js'
import type { SseClient } from './sse.js'
import type { WeftOptions } from '../../server/options.js'

export interface ClusterFixture {
  /** Table prefix of this file's nodes. */
  readonly prefix: string
  /** This file's own Redis (started before the tests). */
  readonly redis: OwnRedis
  /** What a test opened, ended after it. */
  readonly nodes: TestServer[]
  readonly clients: StockClient[]
  readonly streams: SseClient[]
  /** A doc name no earlier test used. */
  docName (): string
  /** A node of this file's cluster; `extra` options go on top (hooks, webhooks, authenticate …). */
  startNode (id: string, databaseUrl?: string, compactAfterRecords?: number, headCheckMs?: number, extra?: WeftOptions): Promise<TestServer>
  threeNodes (): Promise<TestServer[]>
  /** Every record of a doc, as PostgreSQL holds it. */
  storedSeqs (doc: string): Promise<number[]>
  /** A metric of a node, summed over its labels. */
  metric (node: TestServer, name: string): Promise<number>
  /** One stock provider per node on `doc`, synced (and destroyed after the test). */
  editors (doc: string, ...on: TestServer[]): Promise<StockClient[]>
  /** How many times Redis ran `cmd` (its own command stats). */
  commandCalls (cmd: string): Promise<number>
}

export const textOf = (c: StockClient): string => c.text.toString()

export function useCluster (name: string): ClusterFixture {
  const prefix = `weft_${name}${process.pid}`
  let redis: OwnRedis | undefined
  let docs = 0
  const nodes: TestServer[] = []
  const clients: StockClient[] = []
  const streams: SseClient[] = []

  beforeAll(async () => { redis = await startOwnRedis() })
  afterEach(async () => {
    for (const s of streams.splice(0)) s.close()
    for (const c of clients.splice(0)) c.destroy()
    await Promise.all(nodes.splice(0).map(n => n.close()))
    if (redis !== undefined) await redis.start() // a test may have killed it
  })
  afterAll(async () => {
    await redis?.stop()
    await dropWeftTables(prefix)
  })

  const fixture: ClusterFixture = {
    prefix,
    get redis (): OwnRedis {
      if (redis === undefined) throw new Error('the cluster fixture\'s Redis is not started (call useCluster() inside a describe)')
      return redis
    },
    nodes,
    clients,
    streams,
    docName: () => `cluster-${Date.now().toString(36)}-${docs++}`,
    async startNode (id, databaseUrl = postgresUrl, compactAfterRecords = 1_000_000, headCheckMs, extra = {}) {
      const node = await startServer({
        storage: postgresStorage(databaseUrl, { tablePrefix: prefix, poolSize: 4 }),
        cluster: { redis: fixture.redis.url, nodeId: id, headCheckMs },
        nodeId: id,
        compactAfterRecords,
        compactAfterBytes: 1 << 30,
        ...extra
      })
      nodes.push(node)
      return node
    },
    async threeNodes () {
      return await Promise.all(['a', 'b', 'c'].map(id => fixture.startNode(id)))
    },
    async storedSeqs (doc) {
      const client = new pg.Client({ connectionString: postgresUrl })
      await client.connect()
      try {
        const { rows } = await client.query<{ seq: string }>(`SELECT seq FROM ${prefix}_updates WHERE doc = $1 ORDER BY seq`, [doc])
        return rows.map(r => Number(r.seq))
      } finally {
        await client.end()
      }
    },
    async metric (node, name) {
      const text = await node.weft.context.metrics.render()
      let sum = 0
      for (const line of text.split('\n')) if (line.startsWith(`weft_${name}`) && (line[`weft_${name}`.length] === ' ' || line[`weft_${name}`.length] === '{')) sum += Number(line.slice(line.lastIndexOf(' ') + 1))
      return sum
    },
    async editors (doc, ...on) {
      const made = on.map(n => stockClient(n.wsUrl, doc))
      clients.push(...made)
      await synced(...made)
      return made
    },
    async commandCalls (cmd) {
      const info = await fixture.redis.client().info('commandstats')
      const m = new RegExp(`cmdstat_${cmd}:calls=(\\d+)`).exec(info)
      return m === null ? 0 : Number(m[1])
    }
  }
  return fixture
}
