/**
 * presence: rooms of 10, 20, 50 and 200 users (not 200 with --quick), every user moving a cursor
 * 10 times a second with a y-codemirror.next-like awareness state, one typist per room typing
 * an edit every 500 ms. Per target: server CPU per 1,000 awareness client-states delivered to
 * peers (a coalesced message carries several), payload bytes sent per second, presence latency,
 * and edit-to-peer p99 with presence flowing beside the same edits without presence.
 *
 * `--windows 0,5,20`: the same rooms against Weft with each presence coalescing window
 * (`--presence-coalesce-ms`), recorded as Weft rows named by window: the measured choice of
 * the default `presenceCoalesceMs`.
 */
import { cpuSince, mainCpuSince, meter, record, rotation, rssMb, sleep, withTarget, type BenchContext } from '../lib/context.js'
import type { RunningTarget, TargetName } from '../lib/targets.js'
import { parseRooms, type Room } from '../lib/rooms.js'

const targets: TargetName[] = ['weft', 'reference', 'hocuspocus', 'relay']
const HZ = 10
/** A light trickle: one edit per room every 500 ms (a room of 10 moves 100 cursors a second). */
const EDIT_INTERVAL_MS = 500

export async function presence (ctx: BenchContext): Promise<void> {
  // BENCH_PRESENCE_ROOMS="10x5,2x25": other room sizes (users × rooms), to see what a cost scales with.
  const sizes: Room[] = process.env.BENCH_PRESENCE_ROOMS !== undefined
    ? parseRooms('BENCH_PRESENCE_ROOMS', process.env.BENCH_PRESENCE_ROOMS, 1)
    : ctx.quick ? [{ users: 10, rooms: 5 }, { users: 20, rooms: 5 }, { users: 50, rooms: 1 }] : [{ users: 10, rooms: 5 }, { users: 20, rooms: 5 }, { users: 50, rooms: 2 }, { users: 200, rooms: 1 }]
  const durationMs = ctx.quick ? 3000 : 5000
  const quietMs = ctx.quick ? 1500 : 3000
  // Steady state, not start-up: until the JIT has compiled its paths a process pays far more per
  // message, and Weft has much more code to warm than the relay (bench/README.md, presence,
  // measured). BENCH_WARMUP_MS overrides it.
  const warmupMs = Number(process.env.BENCH_WARMUP_MS ?? 8000)
  for (let repeat = 0; repeat < ctx.repeats; repeat++) {
    for (const size of sizes) {
      const run = async (target: TargetName, as: TargetName, label: string): Promise<void> => {
        await withTarget(target, async t => { await measure(ctx, t, size, as, label, repeat, { durationMs, quietMs, warmupMs }) })
      }
      for (const target of rotation(ctx.only(targets), repeat + size.users)) await run(target, target, '')
      for (const w of ctx.windows ?? []) {
        process.env.BENCH_PRESENCE_WINDOW = String(w)
        await run('weft-window', 'weft', ` [window ${w} ms]`)
      }
    }
  }
}

async function measure (ctx: BenchContext, t: RunningTarget, size: Room, as: TargetName, label: string, repeat: number, ms: { durationMs: number, quietMs: number, warmupMs: number }): Promise<void> {
  const group = 'presence'
  const c = await ctx.loadgen.call('presence-connect', { group, url: t.wsUrl, dialect: t.info.dialect, syncOnOpen: !t.info.syncs, rooms: size.rooms, usersPerRoom: size.users, roomPrefix: 'presence-' })
  // Edits alone first: the baseline for "presence must not delay edits".
  const quiet = await ctx.loadgen.call('presence-run', { group, hz: 0, editIntervalMs: EDIT_INTERVAL_MS, durationMs: ms.quietMs })
  await ctx.loadgen.call('presence-run', { group, hz: HZ, editIntervalMs: EDIT_INTERVAL_MS, durationMs: ms.warmupMs })
  await sleep(200)
  const m = meter(t)
  const r = await ctx.loadgen.call('presence-run', { group, hz: HZ, editIntervalMs: EDIT_INTERVAL_MS, durationMs: ms.durationMs })
  const cpu = cpuSince(t, m)
  const mainCpu = mainCpuSince(t, m)
  const rss = rssMb(t)
  await ctx.loadgen.call('close-all')
  const name = `presence ${size.users} users (${size.rooms}×${size.users}, ${HZ} Hz)${label}`
  const add = (metric: string, unit: string, value: number, lowerIsBetter = true): void =>
    record(ctx, { scenario: 'presence', metric: `${name}: ${metric}`, unit, target: as, repeat, value: value ?? NaN, lowerIsBetter })
  add('CPU ms / 1k states delivered', 'ms', cpu / r.statesDelivered * 1000)
  add('main-thread CPU ms / 1k states delivered', 'ms', mainCpu / r.statesDelivered * 1000)
  // Per message in: what every server pays at least once (a read, a wake-up) before it sends
  // anything. With 1 user per room (BENCH_PRESENCE_ROOMS=1x50) the relay's figure is that floor.
  add('CPU µs / awareness message received', 'µs', cpu / r.statesSent * 1000)
  add('bytes sent / s', 'MB/s', r.bytes / r.seconds / 1e6)
  add('awareness messages / s', 'msg/s', r.awarenessFrames / r.seconds)
  add('states delivered', '%', 100 * r.statesDelivered / r.expectedStates, false)
  add('p99 presence latency', 'ms', r.presence.p99)
  add('p99 edit-to-peer, presence flowing', 'ms', r.edit.p99)
  add('p99 edit-to-peer, no presence', 'ms', quiet.edit.p99)
  add('RSS', 'MB', rss)
  // Over IPC an empty summary's NaN arrives as null.
  const f = (x: number | null): string => (x ?? NaN).toFixed(1)
  ctx.log(`  ${name} ${as}${as !== t.info.name ? ` (${t.info.name})` : ''} #${repeat}: connect ${c.connectMs.toFixed(0)} ms (${c.failures} failed), states sent ${r.statesSent}, delivered ${r.statesDelivered}/${r.expectedStates} (+${r.statesEchoed} echoes) in ${r.awarenessFrames} messages, ${(r.bytes / r.seconds / 1e6).toFixed(2)} MB/s, server CPU ${cpu} ms (main thread ${mainCpu}) → ${(cpu / r.statesDelivered * 1000).toFixed(2)} ms/1k, presence p50 ${f(r.presence.p50)} p99 ${f(r.presence.p99)} ms, edits ${r.editsDelivered}/${r.expectedEdits} p99 ${f(r.edit.p99)} ms (quiet ${f(quiet.edit.p99)} ms), loadgen CPU ${r.loadgenCpuMs.toFixed(0)} ms`)
}
