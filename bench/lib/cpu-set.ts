/**
 * CPU of a set of processes that may change while it is measured (PostgreSQL backends come and
 * go with the pools), by part ("nodes", "redis", ...). `list()` names the processes that count
 * now; it is sampled at the start, every `everyMs`, and at the end. A process counts from its
 * CPU at the start (or from 0 if it appeared later: it was born in the window) to its last
 * sample; one that exits between samples loses only what it used since the last one. A pid that
 * `list()` ever reports as foreign is dropped entirely (a backend of another application).
 */
import { cpuMs } from './proc.js'

export interface Counted { pid: number, part: string }
export interface Listing { counted: Counted[], foreign?: number[] }

export class CpuSet {
  private readonly first = new Map<number, number>()
  private readonly last = new Map<number, number>()
  private readonly partOf = new Map<number, string>()
  private readonly foreign = new Set<number>()
  private timer: NodeJS.Timeout | null = null
  private sampling: Promise<void> = Promise.resolve()

  constructor (private readonly list: () => Promise<Listing>, private readonly everyMs = 250) {}

  private async sample (atStart: boolean): Promise<void> {
    const { counted, foreign = [] } = await this.list()
    for (const pid of foreign) { this.foreign.add(pid); this.first.delete(pid); this.last.delete(pid) }
    for (const { pid, part } of counted) {
      if (this.foreign.has(pid)) continue
      let ms: number
      try { ms = cpuMs(pid) } catch { continue } // exited
      if (!this.first.has(pid)) this.first.set(pid, atStart ? ms : 0)
      this.last.set(pid, ms)
      this.partOf.set(pid, part)
    }
  }

  async start (): Promise<void> {
    await this.sample(true)
    this.timer = setInterval(() => { this.sampling = this.sampling.then(async () => await this.sample(false)).catch(() => {}) }, this.everyMs)
  }

  /** CPU ms per part since `start()`. */
  async stop (): Promise<Record<string, number>> {
    if (this.timer !== null) clearInterval(this.timer)
    await this.sampling
    await this.sample(false)
    const out: Record<string, number> = {}
    for (const [pid, ms] of this.last) {
      const part = this.partOf.get(pid)!
      out[part] = (out[part] ?? 0) + ms - this.first.get(pid)!
    }
    return out
  }
}
