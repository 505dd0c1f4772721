/** Counters and gauges for /metrics (Prometheus text format), kept as plain numbers. */
export class Metrics {
  readonly counters = new Map<string, number>()
  private readonly gauges = new Map<string, () => number>()

  inc (name: string, by = 1): void {
    this.counters.set(name, (this.counters.get(name) ?? 0) + by)
  }

  get (name: string): number { return this.counters.get(name) ?? 0 }

  gauge (name: string, read: () => number): void {
    this.gauges.set(name, read)
  }

  render (): string {
    const lines: string[] = []
    for (const [name, value] of [...this.counters].sort()) lines.push(`# TYPE weft_${name} counter`, `weft_${name} ${value}`)
    for (const [name, read] of [...this.gauges].sort()) lines.push(`# TYPE weft_${name} gauge`, `weft_${name} ${read()}`)
    return lines.join('\n') + '\n'
  }
}
