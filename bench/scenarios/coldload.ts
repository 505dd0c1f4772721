/**
 * coldload: the automerge-paper trace (260k edits, 104,852 chars) typed into the server as
 * updates of 1,000 txns each (260 updates), the server restarted (SIGTERM, same data dir), then
 * a fresh client's time from connect to holding the full text, checked against `endContent`.
 * 1,000 txns per update keeps the 260 updates inside Weft's default message burst (300; 100/s
 * sustained), as an offline provider would send its backlog.
 */
import { join } from 'node:path'
import { rootDir } from '../lib/build.js'
import { record, rotation, rssMb, sleep, withTarget, type BenchContext } from '../lib/context.js'
import type { TargetName } from '../lib/targets.js'

const targets: TargetName[] = ['weft', 'reference', 'hocuspocus']
export const tracesDir = join(rootDir, 'test/fixtures/editing-traces')

export async function coldload (ctx: BenchContext): Promise<void> {
  const trace = join(tracesDir, 'automerge-paper.json.gz')
  const chunk = 1000
  for (let repeat = 0; repeat < ctx.repeats; repeat++) {
    for (const target of rotation(ctx.only(targets), repeat)) {
      await withTarget(target, async t => {
        const args = { url: t.wsUrl, dialect: t.info.dialect, doc: 'paper', trace, edits: 1e9, chunk }
        const stored = await ctx.loadgen.call('cold-store', args)
        await ctx.loadgen.call('close-all')
        // Hocuspocus debounces stores by 2 s; the reference writes per update. Let all settle.
        await sleep(3000)
        await t.restart()
        const r = await ctx.loadgen.call('cold-fetch', args)
        const add = (metric: string, unit: string, value: number, lowerIsBetter = true): void =>
          record(ctx, { scenario: 'coldload', metric: `coldload (automerge-paper, ${stored.updates} updates): ${metric}`, unit, target, repeat, value, lowerIsBetter })
        add('time to first full sync after restart', 'ms', r.ms)
        add('text equals endContent', 'yes=1', r.ok ? 1 : 0, false)
        add('RSS after load', 'MB', rssMb(t))
        ctx.log(`  coldload ${target} #${repeat}: stored ${stored.updates} updates (${(stored.bytes / 1024).toFixed(0)} KB) in ${stored.storeMs.toFixed(0)} ms (ok ${stored.stored}), restart ${t.startMs.toFixed(0)} ms, full sync ${r.ms?.toFixed(0)} ms (first step2 ${r.firstStep2Ms?.toFixed(0)} ms), text ok ${r.ok} (${r.length}/${stored.expectedLength})`)
      })
    }
  }
}
