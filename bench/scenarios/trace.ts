/**
 * trace: real traces (automerge-paper, seph-blog1, friendsforever_flat) typed live by 3 editors
 * per doc taking turns, at a human rate (one txn per 150 ms per doc, ~80 wpm) and 10× that.
 * Edit-to-peer latency, and convergence: every editor and a fresh client hold the trace's text.
 */
import { join } from 'node:path'
import { record, rotation, withTarget, type BenchContext } from '../lib/context.js'
import type { TargetName } from '../lib/targets.js'
import { tracesDir } from './coldload.js'

const targets: TargetName[] = ['weft', 'reference', 'hocuspocus']

export async function trace (ctx: BenchContext): Promise<void> {
  const traces = ['automerge-paper', 'seph-blog1', 'friendsforever_flat'].map(n => join(tracesDir, `${n}.json.gz`))
  const rooms = ctx.quick ? 6 : 15
  const durationMs = ctx.quick ? 3000 : 8000
  for (let repeat = 0; repeat < ctx.repeats; repeat++) {
    for (const [speed, intervalMs] of [['human', 150], ['10×', 15]] as const) {
      for (const target of rotation(ctx.only(targets), repeat)) {
        await withTarget(target, async t => {
          const r = await ctx.loadgen.call('trace', { url: t.wsUrl, dialect: t.info.dialect, traces, rooms, editorsPerRoom: 3, intervalMs, durationMs, burst: 40, roomPrefix: 'trace-' })
          const name = `trace ${speed} (${rooms} docs × 3 editors, 1 txn / ${intervalMs} ms per doc)`
          const add = (metric: string, unit: string, value: number, lowerIsBetter = true): void =>
            record(ctx, { scenario: 'trace', metric: `${name}: ${metric}`, unit, target, repeat, value: value ?? NaN, lowerIsBetter })
          add('p50 edit-to-peer', 'ms', r.latency.p50)
          add('p99 edit-to-peer', 'ms', r.latency.p99)
          add('docs converged to the trace text', '%', 100 * Math.min(r.roomsConverged, r.freshConverged) / r.rooms, false)
          ctx.log(`  trace ${speed} ${target} #${repeat}: ${r.txnsTyped} txns typed (${r.stalls} hand-over waits), converged ${r.roomsConverged}/${r.rooms} editors, ${r.freshConverged}/${r.rooms} fresh, p50 ${(r.latency.p50 ?? NaN).toFixed(2)} p99 ${(r.latency.p99 ?? NaN).toFixed(2)} ms, ${r.failures} failed`)
        })
      }
    }
  }
}
