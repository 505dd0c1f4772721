/**
 * Counters read around a measured window: Redis' own command counts (`INFO`) and Weft's
 * committed groups (`GET /metrics` of every node, straight to its port, not through the proxy).
 */
import type { Redis } from 'ioredis'

export type RedisCounts = { xadd: number, publish: number, commands: number }

export async function redisCounts (redis: Redis): Promise<RedisCounts> {
  const info = await redis.info('all')
  const calls = (cmd: string): number => Number(new RegExp(`^cmdstat_${cmd}:calls=(\\d+)`, 'm').exec(info)?.[1] ?? 0)
  return { xadd: calls('xadd'), publish: calls('publish'), commands: Number(/^total_commands_processed:(\d+)/m.exec(info)?.[1] ?? NaN) }
}

export async function redisPid (redis: Redis): Promise<number> {
  return Number(/^process_id:(\d+)/m.exec(await redis.info('server'))?.[1])
}

export const diff = <T extends Record<string, number>>(after: T, before: T): T =>
  Object.fromEntries(Object.keys(after).map(k => [k, after[k]! - before[k]!])) as T

export type WeftCounts = { groups: number, adds: number, addErrors: number, received: number, backfilled: number, catches: number }

/** Sums of a few Weft series over the given nodes (each series has a `node` label in a cluster). */
export async function weftCounts (ports: number[]): Promise<WeftCounts> {
  const sum: WeftCounts = { groups: 0, adds: 0, addErrors: 0, received: 0, backfilled: 0, catches: 0 }
  const series: Record<keyof WeftCounts, string> = {
    groups: 'weft_storage_batch_updates_count',
    adds: 'weft_cluster_bus_adds_total',
    addErrors: 'weft_cluster_bus_add_errors_total',
    received: 'weft_cluster_bus_groups_received_total',
    backfilled: 'weft_records_backfilled_total',
    catches: 'weft_cluster_head_check_catches_total'
  }
  for (const port of ports) {
    const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text()
    for (const [k, name] of Object.entries(series) as Array<[keyof WeftCounts, string]>) {
      for (const m of text.matchAll(new RegExp(`^${name}(?:\\{[^}]*\\})? (\\S+)$`, 'gm'))) sum[k] += Number(m[1])
    }
  }
  return sum
}
