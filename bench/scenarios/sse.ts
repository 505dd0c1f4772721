/**
 * sse: one writer (a raw WebSocket client typing an edit every 50 ms) and thousands of SSE
 * observers of the same doc. Server CPU per 1,000 event deliveries and edit-to-observer latency,
 * Weft's `GET /docs/:doc/events` against the bare `node:http` broadcaster.
 */
import { cpuSince, meter, record, rotation, rssMb, withTarget, type BenchContext } from '../lib/context.js'
import type { TargetName } from '../lib/targets.js'

const targets: TargetName[] = ['weft', 'sse-broadcast']

export async function sse (ctx: BenchContext): Promise<void> {
  const observers = ctx.quick ? 500 : 2000
  const durationMs = ctx.quick ? 4000 : 10_000
  const intervalMs = 50
  for (let repeat = 0; repeat < ctx.repeats; repeat++) {
    for (const target of rotation(ctx.only(targets), repeat)) {
      await withTarget(target, async t => {
        await ctx.loadgen.call('connect', { group: 'writer', url: t.wsUrl, dialect: t.info.dialect, syncOnOpen: !t.info.syncs, rooms: 1, clientsPerRoom: 1, roomPrefix: 'sse-' })
        const c = await ctx.loadgen.call('sse-connect', { group: 'obs', url: t.httpUrl, doc: 'sse-0', count: observers })
        if (c.observers === 0) { ctx.log(`  sse ${target}: no SSE endpoint (skipped)`); await ctx.loadgen.call('close-all'); return }
        await ctx.loadgen.call('sse-type', { group: 'obs', writer: 'writer', intervalMs, durationMs: 1000 })
        const m = meter(t)
        const r = await ctx.loadgen.call('sse-type', { group: 'obs', writer: 'writer', intervalMs, durationMs })
        const cpu = cpuSince(t, m)
        const name = `sse (1 writer, ${observers} observers, ${1000 / intervalMs} edits/s)`
        const add = (metric: string, unit: string, value: number, lowerIsBetter = true): void =>
          record(ctx, { scenario: 'sse', metric: `${name}: ${metric}`, unit, target, repeat, value: value ?? NaN, lowerIsBetter })
        add('CPU ms / 1k deliveries', 'ms', cpu / r.delivered * 1000)
        add('p50 edit-to-observer', 'ms', r.latency.p50)
        add('p99 edit-to-observer', 'ms', r.latency.p99)
        add('delivered', '%', 100 * r.delivered / r.expected, false)
        add('RSS', 'MB', rssMb(t))
        ctx.log(`  sse ${target} #${repeat}: ${c.observers} observers (${c.failures} failed), sent ${r.sent}, delivered ${r.delivered}/${r.expected}, CPU ${cpu} ms → ${(cpu / r.delivered * 1000).toFixed(2)} ms/1k, p50 ${(r.latency.p50 ?? NaN).toFixed(2)} p99 ${(r.latency.p99 ?? NaN).toFixed(2)} ms`)
        await ctx.loadgen.call('close-all')
      })
    }
  }
}
