import { describe, expect, it } from 'vitest'
import { Metrics } from '../server/metrics.js'

describe('/metrics text', () => {
  it('declares each metric type once, without labels, before its samples', () => {
    const m = new Metrics()
    m.inc('ws_closed_total{code="4400"}')
    m.inc('ws_closed_total{code="4400"}')
    m.inc('ws_closed_total{code="4508"}')
    m.inc('updates_total', 3)
    m.gauge('docs_loaded', () => 2)
    const text = m.render()
    expect(text.split('\n').filter(l => l.startsWith('# TYPE weft_ws_closed_total '))).toEqual(['# TYPE weft_ws_closed_total counter'])
    expect(text).toContain('weft_ws_closed_total{code="4400"} 2\n')
    expect(text).toContain('weft_ws_closed_total{code="4508"} 1\n')
    expect(text).toContain('# TYPE weft_updates_total counter\nweft_updates_total 3\n')
    expect(text).toContain('# TYPE weft_docs_loaded gauge\nweft_docs_loaded 2\n')
    expect(text).not.toMatch(/# TYPE [^\n]*\{/)
  })
})
