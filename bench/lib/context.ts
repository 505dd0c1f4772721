/** What every scenario gets: the load generator, the run mode, and where results go. */
import type { LoadGen } from './loadgen.js'
import { cpuMs, mainThreadCpuMs, rssKb } from './proc.js'
import { RunningTarget, type TargetName } from './targets.js'

export interface Sample {
  scenario: string
  metric: string
  unit: string
  target: TargetName
  repeat: number
  value: number
  /** Lower is better (true for costs and latencies, false for throughput/convergence). */
  lowerIsBetter: boolean
}

export interface BenchContext {
  quick: boolean
  repeats: number
  loadgen: LoadGen
  samples: Sample[]
  log: (line: string) => void
  /** `--targets a,b`: the subset of a scenario's targets to run. */
  only: (list: TargetName[]) => TargetName[]
  /** `--levels 1,5`: fan-out load levels to run. */
  levels?: number[]
  /** `--windows 0,5,20`: presence coalescing windows (ms) to sweep Weft over (presence scenario). */
  windows?: number[]
}

export function record (ctx: BenchContext, s: Sample): void {
  ctx.samples.push(s)
}

/** Rotates the target order per repeat, so no target always runs first (or last) on a warm machine. */
export function rotation<T> (list: T[], repeat: number): T[] {
  const k = repeat % list.length
  return [...list.slice(k), ...list.slice(0, k)]
}

export const sleep = async (ms: number): Promise<void> => await new Promise(resolve => setTimeout(resolve, ms))

export interface Meter { cpu0: number, main0: number, t0: number }
export const meter = (t: RunningTarget): Meter => ({ cpu0: cpuMs(t.pid), main0: mainThreadCpuMs(t.pid), t0: performance.now() })
export const cpuSince = (t: RunningTarget, m: Meter): number => cpuMs(t.pid) - m.cpu0
/** The main thread's share of `cpuSince` (JavaScript; the rest is GC helpers and libuv's pool). */
export const mainCpuSince = (t: RunningTarget, m: Meter): number => mainThreadCpuMs(t.pid) - m.main0
export const rssMb = (t: RunningTarget): number => rssKb(t.pid) / 1024

/** Runs that threw: logged, kept in the results, and the bench goes on with the next run. */
export const failures: Array<{ target: TargetName, error: string }> = []
let logFailure: (line: string) => void = line => { process.stderr.write(line + '\n') }
export function onFailure (log: (line: string) => void): void { logFailure = log }
export function recordFailure (name: TargetName, err: Error, stderr = ''): void {
  const error = err.message.split('\n')[0]!
  failures.push({ target: name, error })
  logFailure(`  FAILED ${name}: ${error}${stderr !== '' ? ` (server stderr: ${stderr.slice(-300)})` : ''}`)
}

/**
 * Starts a target, runs `body`, and always disposes of it. A run that throws (a target that
 * never answers, a loadgen error) is recorded as a failure instead of ending the whole bench.
 */
export async function withTarget (name: TargetName, body: (t: RunningTarget) => Promise<void>, nodeFlags: string[] = []): Promise<void> {
  let t: RunningTarget | null = null
  try {
    t = await RunningTarget.start(name, nodeFlags)
    await body(t)
  } catch (err) {
    recordFailure(name, err as Error, t?.errors ?? '')
  } finally {
    await t?.dispose()
  }
}
