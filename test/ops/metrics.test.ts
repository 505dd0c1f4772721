/**
 * `/metrics`: valid Prometheus exposition text (parsed by an independent parser), the families
 * operators look for (process, event loop, GC, Weft's own), names that follow the conventions,
 * and values that move as a scripted session connects, edits, observes and disconnects.
 */
import { readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { describe, expect, it } from 'vitest'
import parse, { type Family } from 'parse-prometheus-text-format'
import { Metrics } from '../../server/metrics.js'
import { leveldbStorage } from '../../server/storage/leveldb.js'
import { cleanupAfterEach, startServer, tempDir } from '../helpers/server.js'
import { stockClient, synced } from '../helpers/providers.js'
import { openSse } from '../helpers/sse.js'
import { waitFor } from '../helpers/wait.js'

type Scrape = Map<string, Family>

async function scrape (url: string): Promise<Scrape> {
  const res = await fetch(`${url}/metrics`)
  expect(res.status).toBe(200)
  expect(res.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/)
  return new Map(parse(await res.text()).map(f => [f.name, f]))
}

/** The value of a counter or gauge sample whose labels include `labels` (summed), or a histogram's count. */
function value (s: Scrape, name: string, labels: Record<string, string> = {}): number {
  const f = s.get(name)
  if (f === undefined) return 0
  return f.metrics
    .filter(m => Object.entries(labels).every(([k, v]) => m.labels?.[k] === v))
    .reduce((n, m) => n + Number(m.value ?? m.count ?? 0), 0)
}

describe('/metrics', () => {
  const cleanups = cleanupAfterEach()

  it('renders labelled counters and gauges with one TYPE line each', async () => {
    const m = new Metrics()
    m.inc('ws_closed_total{code="4400"}')
    m.inc('ws_closed_total{code="4400"}')
    m.inc('ws_closed_total{code="4508"}')
    m.inc('updates_total', 3)
    m.gauge('docs_loaded', () => 2)
    const text = await m.render()
    expect(text.split('\n').filter(l => l.startsWith('# TYPE weft_ws_closed_total '))).toEqual(['# TYPE weft_ws_closed_total counter'])
    expect(text).toContain('weft_ws_closed_total{code="4400"} 2\n')
    expect(text).toContain('weft_ws_closed_total{code="4508"} 1\n')
    expect(text).toMatch(/# TYPE weft_updates_total counter\nweft_updates_total 3\n/)
    expect(text).toMatch(/# TYPE weft_docs_loaded gauge\nweft_docs_loaded 2\n/)
    expect(m.get('ws_closed_total{code="4400"}')).toBe(2)
  })

  it('parses as exposition text, has the families operators expect, and follows the naming conventions', async () => {
    const dir = tempDir()
    const s = await startServer({ storage: leveldbStorage(dir.path) })
    cleanups.push(dir.remove, () => s.close())
    const m = await scrape(s.url)
    for (const name of ['process_cpu_seconds_total', 'process_resident_memory_bytes', 'nodejs_eventloop_lag_seconds', 'nodejs_gc_duration_seconds', 'nodejs_active_handles_total', 'nodejs_heap_size_used_bytes',
      'weft_docs_loaded', 'weft_ws_connections', 'weft_http_sessions', 'weft_sse_observers', 'weft_polls_pending',
      'weft_bytes_received_total', 'weft_bytes_sent_total', 'weft_storage_write_seconds', 'weft_storage_batch_updates', 'weft_edit_to_broadcast_seconds']) {
      expect(m.has(name), name).toBe(true)
    }
    // Every metric the Grafana dashboard in deploy/ queries is exported.
    const dashboard = readFileSync(fileURLToPath(new URL('../../deploy/grafana/weft-dashboard.json', import.meta.url)), 'utf8')
    const queried = new Set([...dashboard.matchAll(/\b((?:weft|process|nodejs)_\w+)/g)].map(x => x[1]!.replace(/_(bucket|sum|count)$/, '')))
    expect(queried.size).toBeGreaterThan(10)
    for (const name of queried) expect(m.has(name), `dashboard metric ${name}`).toBe(true)
    for (const f of m.values()) {
      if (!f.name.startsWith('weft_')) continue
      expect(f.help, `${f.name} has help`).not.toBe('')
      if (f.type === 'COUNTER') expect(f.name, 'counters end in _total').toMatch(/_total$/)
      else expect(f.name, 'only counters end in _total').not.toMatch(/_total$/)
      if (f.type === 'HISTOGRAM' && f.name.includes('seconds')) expect(f.name).toMatch(/_seconds$/)
    }
  })

  it('values move as a session connects, edits, observes and disconnects', async () => {
    const dir = tempDir()
    const s = await startServer({ storage: leveldbStorage(dir.path), unloadAfterMs: 100 })
    cleanups.push(dir.remove, () => s.close())
    const before = await scrape(s.url)
    const a = stockClient(s.wsUrl, 'metered')
    const b = stockClient(s.wsUrl, 'metered')
    cleanups.push(() => a.destroy(), () => b.destroy())
    await synced(a, b)
    const sse = await openSse(`${s.url}/docs/metered/events`)
    cleanups.push(() => sse.close())
    for (let i = 0; i < 5; i++) a.text.insert(0, `edit ${i} `)
    await waitFor(() => b.text.length === a.text.length && sse.events.filter(e => e.event === 'update').length >= 1, 'edits to reach the peer and the observer')
    const during = await scrape(s.url)
    expect(value(during, 'weft_ws_connections')).toBe(value(before, 'weft_ws_connections') + 2)
    expect(value(during, 'weft_ws_connections_total')).toBeGreaterThanOrEqual(value(before, 'weft_ws_connections_total') + 2)
    expect(value(during, 'weft_sse_observers')).toBe(1)
    expect(value(during, 'weft_docs_loaded')).toBe(1)
    expect(value(during, 'weft_updates_total')).toBeGreaterThanOrEqual(1)
    expect(value(during, 'weft_bytes_received_total', { transport: 'websocket' })).toBeGreaterThan(value(before, 'weft_bytes_received_total', { transport: 'websocket' }))
    expect(value(during, 'weft_bytes_sent_total', { transport: 'websocket' })).toBeGreaterThan(value(before, 'weft_bytes_sent_total', { transport: 'websocket' }))
    expect(value(during, 'weft_bytes_sent_total', { transport: 'sse' })).toBeGreaterThan(0)
    // An HTTP editor's POST and a poll count on their own transports.
    const post = await fetch(`${s.url}/docs/metered/updates`, { method: 'POST', headers: { 'content-type': 'application/octet-stream' }, body: new Uint8Array([0, 0]) })
    expect(post.status).toBe(204)
    expect((await fetch(`${s.url}/docs/metered/poll?timeout=0`)).status).toBe(200)
    const http = await scrape(s.url)
    expect(value(http, 'weft_bytes_received_total', { transport: 'http' })).toBe(2)
    expect(value(http, 'weft_bytes_sent_total', { transport: 'poll' })).toBeGreaterThan(0)
    expect(value(during, 'weft_storage_write_seconds')).toBeGreaterThanOrEqual(1)
    expect(value(during, 'weft_storage_batch_updates')).toBeGreaterThanOrEqual(1)
    expect(value(during, 'weft_edit_to_broadcast_seconds')).toBeGreaterThanOrEqual(value(during, 'weft_updates_total'))
    a.destroy()
    b.destroy()
    sse.close()
    await waitFor(async () => {
      const after = await scrape(s.url)
      return value(after, 'weft_ws_connections') === 0 && value(after, 'weft_sse_observers') === 0 && value(after, 'weft_docs_loaded') === 0
    }, 'connections, observers and the doc to go')
  })
})
