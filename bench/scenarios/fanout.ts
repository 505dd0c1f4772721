/**
 * fanout: R rooms × C raw clients, each typing one edit per interval, at 1×, 5× and 10× the
 * base rate (one edit per 500 ms). Edit-to-peer latency p50/p99/max, server CPU per 1,000
 * deliveries (peer deliveries only: echoes to the sender are counted apart), and RSS.
 */
import { cpuSince, meter, record, rotation, rssMb, withTarget, type BenchContext } from '../lib/context.js'
import type { TargetName } from '../lib/targets.js'

const targets: TargetName[] = ['weft', 'reference', 'hocuspocus', 'relay']

export async function fanout (ctx: BenchContext): Promise<void> {
  const rooms = 50
  const clients = 10
  const levels = ctx.levels ?? (ctx.quick ? [1, 5] : [1, 5, 10])
  const durationMs = ctx.quick ? 3000 : 8000
  // Steady state, not JIT start-up: with 1 s of warm-up Weft's 1× figure was 63 ms / 1k, with
  // 8 s 35.6 and with 15 s 35.2 (the others move less: their code paths are shorter). See
  // bench/README.md. BENCH_WARMUP_MS overrides it.
  const warmupMs = Number(process.env.BENCH_WARMUP_MS ?? 8000)
  for (let repeat = 0; repeat < ctx.repeats; repeat++) {
    for (const level of levels) {
      const intervalMs = 500 / level
      for (const target of rotation(ctx.only(targets), repeat + level)) {
        await withTarget(target, async t => {
          const c = await ctx.loadgen.call('connect', { group: 'fanout', url: t.wsUrl, dialect: t.info.dialect, syncOnOpen: !t.info.syncs, rooms, clientsPerRoom: clients, roomPrefix: 'room-' })
          await ctx.loadgen.call('type', { group: 'fanout', intervalMs, durationMs: warmupMs })
          const m = meter(t)
          const r = await ctx.loadgen.call('type', { group: 'fanout', intervalMs, durationMs })
          const cpu = cpuSince(t, m)
          const rss = rssMb(t)
          await ctx.loadgen.call('close-all')
          const name = `fanout ${level}× (${rooms}×${clients}, ${rooms * clients * 1000 / intervalMs} edits/s)`
          const add = (metric: string, unit: string, value: number, lowerIsBetter = true): void =>
            record(ctx, { scenario: 'fanout', metric: `${name}: ${metric}`, unit, target, repeat, value: value ?? NaN, lowerIsBetter })
          add('CPU ms / 1k deliveries', 'ms', cpu / r.delivered * 1000)
          add('p50 edit-to-peer', 'ms', r.latency.p50)
          add('p99 edit-to-peer', 'ms', r.latency.p99)
          add('max edit-to-peer', 'ms', r.latency.max)
          add('delivered', '%', 100 * r.delivered / r.expected, false)
          add('RSS', 'MB', rss)
          ctx.log(`  fanout ${level}× ${target} #${repeat}: connect ${c.connectMs.toFixed(0)} ms (${c.failures} failed), sent ${r.sent}, delivered ${r.delivered}/${r.expected}, echoes ${r.echoes}, server CPU ${cpu} ms → ${(cpu / r.delivered * 1000).toFixed(2)} ms/1k, p50 ${(r.latency.p50 ?? NaN).toFixed(2)} p99 ${(r.latency.p99 ?? NaN).toFixed(2)} max ${(r.latency.max ?? NaN).toFixed(1)} ms, RSS ${rss.toFixed(0)} MB, loadgen CPU ${r.loadgenCpuMs.toFixed(0)} ms, p50 by second ${r.p50BySecond.join(' ')}`)
        })
      }
    }
  }
}
