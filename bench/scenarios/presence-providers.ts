/**
 * presence-providers: presence as stock y-websocket providers make it (bench/load/providers.ts):
 * rooms of real providers moving cursors 10 times a second, each sending back every change it
 * hears, as the stock provider does. Per target: the server's CPU and the providers' own CPU
 * (the receiving side) per 1,000 new client states the providers applied, and the frames they
 * received and sent. Hocuspocus is left out: its protocol needs its own provider.
 *
 * `BENCH_PROVIDER_ROOMS="10x2,20x1"` (users × rooms) sets the rooms.
 */
import { cpuSince, meter, record, rotation, sleep, withTarget, type BenchContext } from '../lib/context.js'
import type { RunningTarget, TargetName } from '../lib/targets.js'
import { parseRooms, type Room } from '../lib/rooms.js'

const targets: TargetName[] = ['weft', 'reference', 'relay']
const HZ = 10

export async function presenceProviders (ctx: BenchContext): Promise<void> {
  const sizes = parseRooms('BENCH_PROVIDER_ROOMS', process.env.BENCH_PROVIDER_ROOMS ?? '10x2,20x1', 2)
  const durationMs = ctx.quick ? 3000 : 5000
  // Steady state (see presence.ts); shorter than there: the relay's echo storm makes every
  // second of warm-up cost the loadgen many times what it costs elsewhere.
  const warmupMs = Number(process.env.BENCH_WARMUP_MS ?? 5000)
  for (let repeat = 0; repeat < ctx.repeats; repeat++) {
    for (const size of sizes) {
      for (const target of rotation(ctx.only(targets), repeat + size.users)) {
        await withTarget(target, async t => { await measure(ctx, t, size, repeat, durationMs, warmupMs) })
      }
    }
  }
}

async function measure (ctx: BenchContext, t: RunningTarget, size: Room, repeat: number, durationMs: number, warmupMs: number): Promise<void> {
  const group = 'providers'
  const c = await ctx.loadgen.call('providers-connect', { group, url: t.wsUrl, rooms: size.rooms, usersPerRoom: size.users, roomPrefix: 'providers-' })
  await ctx.loadgen.call('providers-run', { group, hz: HZ, durationMs: warmupMs })
  await sleep(300)
  const m = meter(t)
  const r = await ctx.loadgen.call('providers-run', { group, hz: HZ, durationMs })
  const cpu = cpuSince(t, m)
  await ctx.loadgen.call('close-all')
  const name = `stock providers ${size.users} users (${size.rooms}×${size.users}, ${HZ} Hz)`
  const add = (metric: string, unit: string, value: number, lowerIsBetter = true): void =>
    record(ctx, { scenario: 'presence-providers', metric: `${name}: ${metric}`, unit, target: t.info.name, repeat, value, lowerIsBetter })
  add('server CPU ms / 1k states applied', 'ms', cpu / r.statesReceived * 1000)
  add('providers\' CPU ms / 1k states applied', 'ms', r.clientCpuMs / r.statesReceived * 1000)
  add('frames received by providers / s', 'msg/s', r.framesIn / r.seconds)
  add('frames sent by providers / s', 'msg/s', r.framesOut / r.seconds)
  add('states applied', '%', 100 * r.statesReceived / r.expected, false)
  ctx.log(`  ${name} ${t.info.name} #${repeat}: connect ${c.connectMs.toFixed(0)} ms (${c.failures} failed), moves ${r.moves}, states applied ${r.statesReceived}/${r.expected}, frames in ${r.framesIn} out ${r.framesOut}, server CPU ${cpu} ms → ${(cpu / r.statesReceived * 1000).toFixed(2)} ms/1k, providers' CPU ${r.clientCpuMs.toFixed(0)} ms → ${(r.clientCpuMs / r.statesReceived * 1000).toFixed(2)} ms/1k`)
}
