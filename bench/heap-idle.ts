/**
 * What an idle connection keeps on Weft's heap, by constructor: the server runs as its own
 * process (`server/cli.ts` bundled as the bench bundles it, into a directory of this run's own
 * so a concurrent bench build is not disturbed; not under tsx, whose `keepNames` gives closures
 * a `name` property and so a 256-byte dictionary each; `--heapsnapshot-signal`), the bench's raw y-websocket
 * clients (bench/load/client.ts: step1, step2, then silence) and raw SSE GETs run here. A heap
 * snapshot is taken after one client on each of 50 docs (docs loaded), another after N more
 * idle WebSockets (and, with `--sse N`, after N idle SSE observers of one doc); the table is the
 * growth of each constructor's count and self size over N. Node writes a snapshot after a full
 * GC, so garbage does not count. Self sizes only: what a connection holds is the sum of the rows.
 *
 * `npx tsx bench/heap-idle.ts [--ws 2000] [--sse 2000] [--top 40] [--keep]`
 */
import { spawn } from 'node:child_process'
import { build } from 'esbuild'
import { mkdtempSync, readFileSync, readdirSync, rmSync, statSync } from 'node:fs'
import { request } from 'node:http'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { RawClient, settle, sourceAddress } from './load/client.js'
import { Framing } from './load/proto.js'
import { buildDir, rootDir } from './lib/build.js'

const arg = (name: string, fallback: number): number => {
  const i = process.argv.indexOf(`--${name}`)
  return i === -1 ? fallback : Number(process.argv[i + 1])
}
const nWs = arg('ws', 2000)
const nSse = arg('sse', 0)
const top = arg('top', 40)
const keep = process.argv.includes('--keep')
const rooms = 50
const sleep = async (ms: number): Promise<void> => await new Promise(resolve => setTimeout(resolve, ms))

async function freePort (): Promise<number> {
  return await new Promise(resolve => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port
      s.close(() => resolve(port))
    })
  })
}

const work = mkdtempSync(join(tmpdir(), 'weft-heap-'))
// Inside the repo, so the bundle's packages resolve from node_modules (as bench/lib/build.ts).
const bundleDir = mkdtempSync(join(buildDir, 'heap-'))
await build({ entryPoints: { weft: join(rootDir, 'server/cli.ts') }, outdir: bundleDir, outExtension: { '.js': '.mjs' }, bundle: true, packages: 'external', platform: 'node', format: 'esm', target: 'node20', logLevel: 'warning' })
const port = await freePort()
const server = spawn(process.execPath, ['--max-semi-space-size=1', `--heapsnapshot-signal=SIGUSR2`, `--diagnostic-dir=${work}`, join(bundleDir, 'weft.mjs'), '--port', String(port), '--data', join(work, 'data'), '--no-ui'], { cwd: rootDir, stdio: ['ignore', 'ignore', 'inherit'] })
const url = `ws://127.0.0.1:${port}`
for (let i = 0; i < 200; i++) {
  const up = await new Promise<boolean>(resolve => {
    request(`http://127.0.0.1:${port}/healthz`, res => { res.resume(); resolve(true) }).on('error', () => resolve(false)).end()
  })
  if (up) break
  await sleep(100)
}

function connect (count: number, first: number): RawClient[] {
  return Array.from({ length: count }, (_, k) => {
    const i = first + k
    return new RawClient({ url: `${url}/idle-${i % rooms}`, framing: new Framing('y-websocket', `idle-${i % rooms}`), localAddress: sourceAddress(i) })
  })
}

async function openSse (count: number): Promise<number> {
  const opened = await Promise.allSettled(Array.from({ length: count }, async (_, i) => await new Promise<void>((resolve, reject) => {
    const req = request(`http://127.0.0.1:${port}/docs/idle-0/events`, { agent: false, localAddress: sourceAddress(i), headers: { accept: 'text/event-stream' } }, res => {
      if (res.statusCode !== 200) { res.resume(); reject(new Error(`HTTP ${res.statusCode}`)); return }
      res.once('data', () => resolve())
      res.on('data', () => {})
    })
    req.on('error', reject)
    req.end()
  })))
  return opened.filter(r => r.status === 'fulfilled').length
}

/** Signals the server to write a snapshot and waits until the file is complete. */
async function snapshot (): Promise<string> {
  const before = new Set(readdirSync(work))
  server.kill('SIGUSR2')
  for (;;) {
    await sleep(500)
    const file = readdirSync(work).find(f => f.endsWith('.heapsnapshot') && !before.has(f))
    if (file === undefined) continue
    const path = join(work, file)
    const size = statSync(path).size
    await sleep(1000)
    if (statSync(path).size === size && size > 0) return path
  }
}

interface Row { count: number, self: number }
function byConstructor (path: string): Map<string, Row> {
  const snap = JSON.parse(readFileSync(path, 'utf8')) as { snapshot: { meta: { node_fields: string[], node_types: [string[]] } }, nodes: number[], strings: string[] }
  const fields = snap.snapshot.meta.node_fields
  const types = snap.snapshot.meta.node_types[0]
  const width = fields.length
  const iType = fields.indexOf('type')
  const iName = fields.indexOf('name')
  const iSelf = fields.indexOf('self_size')
  const out = new Map<string, Row>()
  for (let i = 0; i < snap.nodes.length; i += width) {
    const type = types[snap.nodes[i + iType]!]!
    let name = snap.strings[snap.nodes[i + iName]!]!
    if (type === 'string' || type === 'concatenated string' || type === 'sliced string') name = ''
    if (name.length > 60) name = `${name.slice(0, 57)}...`
    const key = `${type}:${name}`
    const row = out.get(key) ?? { count: 0, self: 0 }
    row.count++
    row.self += snap.nodes[i + iSelf]!
    out.set(key, row)
  }
  return out
}

function report (label: string, a: Map<string, Row>, b: Map<string, Row>, n: number): void {
  const rows: Array<[string, number, number]> = []
  let total = 0
  for (const [key, rb] of b) {
    const ra = a.get(key) ?? { count: 0, self: 0 }
    const self = rb.self - ra.self
    total += self
    rows.push([key, (rb.count - ra.count) / n, self / n])
  }
  for (const [key, ra] of a) if (!b.has(key)) { total -= ra.self; rows.push([key, -ra.count / n, -ra.self / n]) }
  rows.sort((x, y) => Math.abs(y[2]) - Math.abs(x[2]))
  process.stdout.write(`\n${label}: JS heap growth ${(total / n).toFixed(0)} B per connection (${n})\n`)
  process.stdout.write('  B/conn  objs/conn  type:constructor\n')
  for (const [key, count, self] of rows.slice(0, top)) process.stdout.write(`${self.toFixed(1).padStart(8)}  ${count.toFixed(2).padStart(9)}  ${key}\n`)
}

try {
  const base = connect(rooms, 0)
  if (await settle(base, 60_000) > 0) throw new Error('base clients failed')
  await sleep(1500)
  const s0 = byConstructor(await snapshot())
  const idle = connect(nWs, rooms)
  const failed = await settle(idle, 120_000)
  await sleep(2000)
  const s1 = byConstructor(await snapshot())
  report(`idle WebSockets (${failed} failed)`, s0, s1, nWs - failed)
  if (nSse > 0) {
    const opened = await openSse(nSse)
    await sleep(2000)
    const s2 = byConstructor(await snapshot())
    report('idle SSE observers', s1, s2, opened)
  }
  for (const c of [...base, ...idle]) c.close()
} finally {
  server.kill('SIGTERM')
  rmSync(bundleDir, { recursive: true, force: true })
  if (!keep) rmSync(work, { recursive: true, force: true })
  else process.stdout.write(`snapshots kept in ${work}\n`)
  setTimeout(() => process.exit(0), 500).unref()
}
