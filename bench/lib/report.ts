/** Medians per metric and target, the markdown table, and the header naming machine and versions. */
import { execSync } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { cpus, totalmem } from 'node:os'
import { join } from 'node:path'
import { rootDir } from './build.js'
import type { Sample } from './context.js'
import { median } from './stats.js'
import { targets, type TargetName } from './targets.js'

const version = (pkg: string): string => {
  try { return (JSON.parse(readFileSync(join(rootDir, 'node_modules', pkg, 'package.json'), 'utf8')) as { version: string }).version } catch { return '?' }
}

export function environment (): Record<string, string> {
  let rev = '?'
  try { rev = execSync('git rev-parse --short HEAD', { cwd: rootDir }).toString().trim() } catch {}
  return {
    date: new Date().toISOString(),
    machine: `${cpus().length} × ${cpus()[0]?.model ?? '?'}, ${(totalmem() / 2 ** 30).toFixed(0)} GiB`,
    node: process.version,
    weft: `${(JSON.parse(readFileSync(join(rootDir, 'package.json'), 'utf8')) as { version: string }).version} (${rev})`,
    yjs: version('yjs'),
    ws: version('ws'),
    'y-websocket (reference)': version('y-websocket-ref'),
    'y-leveldb': version('y-leveldb'),
    '@hocuspocus/server': version('@hocuspocus/server'),
    '@hocuspocus/extension-sqlite': version('@hocuspocus/extension-sqlite'),
    '@hocuspocus/extension-redis': version('@hocuspocus/extension-redis')
  }
}

export interface Row { metric: string, unit: string, lowerIsBetter: boolean, values: Partial<Record<TargetName, { median: number, runs: number[] }>> }

export function aggregate (samples: Sample[]): Row[] {
  const rows = new Map<string, Row>()
  for (const s of samples) {
    let row = rows.get(s.metric)
    if (row === undefined) rows.set(s.metric, row = { metric: s.metric, unit: s.unit, lowerIsBetter: s.lowerIsBetter, values: {} })
    const v = (row.values[s.target] ??= { median: NaN, runs: [] })
    v.runs.push(s.value)
  }
  for (const row of rows.values()) for (const v of Object.values(row.values)) v!.median = median(v!.runs)
  return [...rows.values()]
}

const fmt = (x: number | undefined): string => {
  if (x === undefined || !Number.isFinite(x)) return '—'
  if (Math.abs(x) >= 100) return x.toFixed(0)
  if (Math.abs(x) >= 10) return x.toFixed(1)
  return x.toFixed(2)
}

/** Ratio columns: Weft against each other server, and the cluster scenario's comparisons. */
const ratios: Array<{ head: string, num: TargetName, den: TargetName }> = [
  ...(['weft-baseline', 'reference', 'hocuspocus', 'relay', 'sse-broadcast'] as const).map(t => ({ head: `Weft / ${t}`, num: 'weft' as const, den: t })),
  { head: 'Weft --memory / hocuspocus', num: 'weft-memory', den: 'hocuspocus' },
  { head: 'Weft --memory / relay', num: 'weft-memory', den: 'relay' },
  { head: 'cluster-1 / Weft (LevelDB)', num: 'weft-cluster-1', den: 'weft' },
  { head: 'cluster-2 / cluster-1', num: 'weft-cluster-2', den: 'weft-cluster-1' },
  { head: 'cluster-3 / cluster-1', num: 'weft-cluster-3', den: 'weft-cluster-1' },
  { head: 'cluster-3 by doc / cluster-1', num: 'weft-cluster-3-doc', den: 'weft-cluster-1' },
  { head: 'cluster-3 / cluster-1 at ⅓ load', num: 'weft-cluster-3', den: 'weft-cluster-1-third' },
  { head: 'cluster-3 by doc / cluster-1 at ⅓ load', num: 'weft-cluster-3-doc', den: 'weft-cluster-1-third' },
  { head: 'cluster-3 / hocuspocus-redis', num: 'weft-cluster-3', den: 'hocuspocus-redis' }
]

export function markdown (rows: Row[]): string {
  const order: TargetName[] = ['weft', 'weft-memory', 'weft-baseline', 'weft-cluster-1', 'weft-cluster-1-third', 'weft-cluster-2', 'weft-cluster-3', 'weft-cluster-3-doc', 'reference', 'hocuspocus', 'hocuspocus-redis', 'relay', 'sse-broadcast']
  const cols = order.filter(t => rows.some(r => r.values[t] !== undefined))
  const shown = ratios.filter(q => cols.includes(q.num) && cols.includes(q.den))
  const head = ['metric', 'unit', ...cols.map(t => targets[t].label), ...shown.map(q => q.head)]
  const lines = [`| ${head.join(' | ')} |`, `| ${head.map(() => '---').join(' | ')} |`]
  for (const r of rows) {
    const cells = [r.metric, r.unit, ...cols.map(t => fmt(r.values[t]?.median)), ...shown.map(q => {
      const w = r.values[q.num]?.median
      const o = r.values[q.den]?.median
      return w !== undefined && o !== undefined && o !== 0 && Number.isFinite(w) && Number.isFinite(o) ? `${(w / o).toFixed(2)}×` : '—'
    })]
    lines.push(`| ${cells.join(' | ')} |`)
  }
  return lines.join('\n')
}
