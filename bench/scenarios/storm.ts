/**
 * storm: R rooms × C clients (1,000+ in the full run) synced to docs with content; the server
 * restarts; every client reconnects at once with its state vector. Time until all are synced,
 * failures, and rooms whose content did not survive.
 */
import { record, rotation, withTarget, type BenchContext } from '../lib/context.js'
import type { TargetName } from '../lib/targets.js'

const targets: TargetName[] = ['weft', 'reference', 'hocuspocus']

export async function storm (ctx: BenchContext): Promise<void> {
  const rooms = ctx.quick ? 30 : 100
  const clientsPerRoom = ctx.quick ? 10 : 12
  for (let repeat = 0; repeat < ctx.repeats; repeat++) {
    for (const target of rotation(ctx.only(targets), repeat)) {
      await withTarget(target, async t => {
        const prep = await ctx.loadgen.call('storm-prepare', { url: t.wsUrl, dialect: t.info.dialect, rooms, clientsPerRoom, roomPrefix: 'storm-', editsPerRoom: 200 })
        await t.restart()
        const r = await ctx.loadgen.call('storm-reconnect')
        const name = `storm (${rooms * clientsPerRoom} clients, ${rooms} docs)`
        record(ctx, { scenario: 'storm', metric: `${name}: time until all synced`, unit: 'ms', target, repeat, value: r.allSyncedMs, lowerIsBetter: true })
        record(ctx, { scenario: 'storm', metric: `${name}: failures`, unit: 'clients', target, repeat, value: r.failures, lowerIsBetter: true })
        record(ctx, { scenario: 'storm', metric: `${name}: docs with lost content`, unit: 'docs', target, repeat, value: r.roomsWithLoss, lowerIsBetter: true })
        ctx.log(`  storm ${target} #${repeat}: prepared ${prep.clients} (${prep.failures} failed), reconnect: all synced in ${r.allSyncedMs?.toFixed(0)} ms (p50 ${r.p50Ms?.toFixed(0)} ms), ${r.failures} failed, ${r.roomsWithLoss} docs lost content`)
      })
    }
  }
}
