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

  /**
   * Names may carry labels (`closed_total{code="4400"}`); the `# TYPE` line names the metric
   * without them, once per metric, as the exposition format requires.
   */
  render (): string {
    const lines: string[] = []
    const typed = new Set<string>()
    const emit = (name: string, type: string, value: number): void => {
      const base = name.replace(/\{.*$/, '')
      if (!typed.has(base)) { typed.add(base); lines.push(`# TYPE weft_${base} ${type}`) }
      lines.push(`weft_${name} ${value}`)
    }
    for (const [name, value] of [...this.counters].sort()) emit(name, 'counter', value)
    for (const [name, read] of [...this.gauges].sort()) emit(name, 'gauge', read())
    return lines.join('\n') + '\n'
  }
}
