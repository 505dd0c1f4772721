/**
 * idle: memory per idle connection. One client per room first (so the docs are loaded and the
 * doc cost is not charged to connections), then N more idle clients; KB per connection is the
 * RSS growth over N after a settle. SSE: the same with idle observers on one doc.
 */
import { record, rotation, rssMb, sleep, withTarget, type BenchContext } from '../lib/context.js'
import { rssKb } from '../lib/proc.js'
import type { RunningTarget, TargetName } from '../lib/targets.js'

const wsTargets: TargetName[] = ['weft', 'reference', 'hocuspocus', 'relay']
const sseTargets: TargetName[] = ['weft', 'sse-broadcast']
/**
 * Every target runs with a 1 MB young generation and the inspector here: RSS is read after a
 * full GC (through the inspector), so up to 16 MB of not yet collected garbage does not swamp
 * the per-connection figure (16 KB over 1,000 connections).
 */
const youngGen = ['--max-semi-space-size=1', '--inspect=127.0.0.1:0']
async function settledRssKb (t: RunningTarget, ms: number): Promise<number> {
  await sleep(ms)
  await t.collectGarbage()
  await sleep(500)
  return rssKb(t.pid)
}

export async function idle (ctx: BenchContext): Promise<void> {
  const rooms = 50
  const n = ctx.quick ? 1000 : 3000
  const settleMs = ctx.quick ? 1500 : 3000
  for (let repeat = 0; repeat < ctx.repeats; repeat++) {
    for (const target of rotation(ctx.only(wsTargets), repeat)) {
      await withTarget(target, async t => {
        await ctx.loadgen.call('connect', { group: 'base', url: t.wsUrl, dialect: t.info.dialect, syncOnOpen: !t.info.syncs, rooms, clientsPerRoom: 1, roomPrefix: 'idle-' })
        const before = await settledRssKb(t, settleMs)
        const c = await ctx.loadgen.call('connect', { group: 'idle', url: t.wsUrl, dialect: t.info.dialect, syncOnOpen: !t.info.syncs, rooms, clientsPerRoom: n / rooms, roomPrefix: 'idle-', firstIndex: rooms })
        const after = await settledRssKb(t, settleMs)
        const kb = (after - before) / (n - c.failures)
        record(ctx, { scenario: 'idle', metric: `idle: KB per idle WebSocket (${n} over ${rooms} docs)`, unit: 'KB', target, repeat, value: kb, lowerIsBetter: true })
        record(ctx, { scenario: 'idle', metric: `idle: RSS with ${n + rooms} idle WebSockets`, unit: 'MB', target, repeat, value: rssMb(t), lowerIsBetter: true })
        ctx.log(`  idle ws ${target} #${repeat}: ${n} connected in ${c.connectMs.toFixed(0)} ms (${c.failures} failed), RSS ${before} → ${after} KB, ${kb.toFixed(1)} KB/conn`)
        await ctx.loadgen.call('close-all')
      }, youngGen)
    }
    for (const target of rotation(ctx.only(sseTargets), repeat)) {
      await withTarget(target, async t => {
        const doc = 'idle-sse'
        await ctx.loadgen.call('connect', { group: 'writer', url: t.wsUrl, dialect: t.info.dialect, syncOnOpen: !t.info.syncs, rooms: 1, clientsPerRoom: 1, roomPrefix: doc })
        const probe = await ctx.loadgen.call('sse-connect', { group: 'probe', url: t.httpUrl, doc: `${doc}0`, count: 1 })
        if (probe.failures > 0) { ctx.log(`  idle sse ${target}: no SSE endpoint (skipped)`); await ctx.loadgen.call('close-all'); return }
        const before = await settledRssKb(t, settleMs)
        const c = await ctx.loadgen.call('sse-connect', { group: 'observers', url: t.httpUrl, doc: `${doc}0`, count: n })
        const after = await settledRssKb(t, settleMs)
        const kb = (after - before) / (n - c.failures)
        record(ctx, { scenario: 'idle', metric: `idle: KB per idle SSE observer (${n} on one doc)`, unit: 'KB', target, repeat, value: kb, lowerIsBetter: true })
        ctx.log(`  idle sse ${target} #${repeat}: ${n} observers in ${c.connectMs.toFixed(0)} ms (${c.failures} failed), RSS ${before} → ${after} KB, ${kb.toFixed(1)} KB/observer`)
        await ctx.loadgen.call('close-all')
      }, youngGen)
    }
  }
}
