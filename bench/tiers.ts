/**
 * Per-tier cost of the Weft client's transports (`npx tsx bench/tiers.ts [--seconds 10]`):
 *  - edit-to-peer latency p50/p99 with 10 editors on one doc, each editing every 100 ms
 *    (100 edits/s in, 900 deliveries/s out), for WebSocket, SSE + POST and long poll;
 *  - server CPU per 1,000 deliveries (server in its own process, utime+stime from /proc);
 *  - an idle long-polling client: requests per server timeout (must be ≤ 1: no busy loop).
 * Writes bench/results/tiers.json. Editors run in this process; only the server is measured.
 * Options: --seconds 10, --editors 10, --interval 100 (ms), --tiers websocket,sse,poll, --profile <dir>,
 * --out bench/results/tiers.json.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { readFileSync, writeFileSync, mkdirSync } from 'node:fs'
import { cpus, loadavg, totalmem } from 'node:os'
import { createRequire } from 'node:module'
import { parseArgs } from 'node:util'
import * as Y from 'yjs'
import WebSocket from 'ws'
import { WeftProvider, type TransportName } from '../client/index.js'

const { values: args } = parseArgs({ options: { out: { type: 'string', default: 'bench/results/tiers.json' }, tiers: { type: 'string', default: 'websocket,sse,poll' }, profile: { type: 'string' }, seconds: { type: 'string', default: '10' }, editors: { type: 'string', default: '10' }, interval: { type: 'string', default: '100' } } })
const SECONDS = Number(args.seconds)
const EDITORS = Number(args.editors)
const INTERVAL_MS = Number(args.interval)
const TICKS_PER_SECOND = 100 // getconf CLK_TCK on Linux

function cpuMs (pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
  return (Number(f[11]) + Number(f[12])) * 1000 / TICKS_PER_SECOND
}
const sleep = (ms: number): Promise<void> => new Promise(resolve => setTimeout(resolve, ms))
const q = (sorted: number[], p: number): number => sorted.length === 0 ? NaN : sorted[Math.min(sorted.length - 1, Math.ceil(p * sorted.length) - 1)]!
const round = (x: number, d = 2): number => Math.round(x * 10 ** d) / 10 ** d

async function startServer (): Promise<{ child: ChildProcess, port: number }> {
  // `node --import tsx` runs the server in ONE process, so /proc/<pid> is the server itself.
  // --profile <dir>: a V8 CPU profile of the server per run, to find where its time goes.
  const prof = args.profile === undefined ? [] : ['--cpu-prof', `--cpu-prof-dir=${args.profile}`]
  const child = spawn(process.execPath, [...prof, '--import', 'tsx', 'bench/tiers-server.ts'], { stdio: ['ignore', 'pipe', 'inherit'] })
  const port = await new Promise<number>((resolve, reject) => {
    let out = ''
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString()
      const m = /PORT (\d+)/.exec(out)
      if (m != null) resolve(Number(m[1]))
    })
    child.once('exit', code => reject(new Error(`server exited with ${code}`)))
  })
  return { child, port }
}

async function stopServer (child: ChildProcess): Promise<void> {
  const exited = new Promise(resolve => child.once('exit', resolve))
  child.kill('SIGTERM')
  await Promise.race([exited, sleep(5000)])
  if (child.exitCode == null) child.kill('SIGKILL')
}

async function metric (port: number, name: string): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text()
  const m = new RegExp(`^weft_${name} (\\d+)`, 'm').exec(text)
  return m == null ? 0 : Number(m[1])
}

interface TierResult { tier: TransportName, loadAvg1m: number, editors: number, edits: number, deliveries: number, expectedDeliveries: number, p50Ms: number, p99Ms: number, maxMs: number, serverCpuMs: number, cpuMsPer1kDeliveries: number }

async function runTier (tier: TransportName): Promise<TierResult> {
  const { child, port } = await startServer()
  /** Send time of every edit made while measuring (edits from the warm-up are not counted). */
  const sent = new Map<string, number>()
  const latencies: number[] = []
  let deliveries = 0
  let measuring = false
  const editors = Array.from({ length: EDITORS }, (_, i) => {
    const doc = new Y.Doc()
    const provider = new WeftProvider(`http://127.0.0.1:${port}`, 'bench', doc, { transports: [tier], WebSocketPolyfill: WebSocket as unknown as typeof globalThis.WebSocket })
    const marks = doc.getMap<number>('marks')
    const seen = new Map<string, number>()
    marks.observe(e => {
      if (e.transaction.local) return
      const now = performance.now()
      for (const key of e.keysChanged) {
        const n = marks.get(key)!
        const last = seen.get(key) ?? 0
        seen.set(key, n)
        // Merged answers (long poll) carry several edits of one editor: each is a delivery,
        // and each gets its own latency from its own send time.
        for (let k = last + 1; k <= n; k++) {
          const t = sent.get(`${key}:${k}`)
          if (t === undefined) continue
          deliveries++
          latencies.push(now - t)
        }
      }
    })
    return { id: `e${i}`, doc, provider, text: doc.getText('text'), marks, n: 0 }
  })
  const deadline = Date.now() + 20_000
  while (!editors.every(e => e.provider.synced) && Date.now() < deadline) await sleep(20)
  if (!editors.every(e => e.provider.synced)) throw new Error(`${tier}: editors did not sync`)

  let running = true
  let edits = 0
  const typists = editors.map(async (e, i) => {
    await sleep(i * INTERVAL_MS / EDITORS) // spread the editors over the interval
    while (running) {
      e.n++
      if (measuring) {
        edits++
        sent.set(`${e.id}:${e.n}`, performance.now())
      }
      e.doc.transact(() => {
        e.text.insert(e.text.length > 0 ? (e.n * 7) % e.text.length : 0, 'x')
        e.marks.set(e.id, e.n)
      })
      await sleep(INTERVAL_MS)
    }
  })
  await sleep(2000) // warm-up: JIT, first compactions
  const cpu0 = cpuMs(child.pid!)
  measuring = true
  await sleep(SECONDS * 1000)
  measuring = false
  const cpu1 = cpuMs(child.pid!)
  running = false
  await Promise.all(typists)
  // Let the last edits of the window arrive (their latency counts; the CPU window is closed).
  await sleep(2000)
  for (const e of editors) e.provider.destroy()
  await stopServer(child)
  latencies.sort((a, b) => a - b)
  const serverCpuMs = cpu1 - cpu0
  return {
    tier,
    // The machine is shared: a load average above the core count means the figures are noisy
    // (and fewer edits than seconds × editors × 1000/interval were made).
    loadAvg1m: round(loadavg()[0]!),
    editors: EDITORS,
    edits,
    deliveries,
    expectedDeliveries: edits * (EDITORS - 1),
    p50Ms: round(q(latencies, 0.5)),
    p99Ms: round(q(latencies, 0.99)),
    maxMs: round(latencies[latencies.length - 1] ?? NaN),
    serverCpuMs: round(serverCpuMs, 0),
    cpuMsPer1kDeliveries: round(serverCpuMs / (deliveries / 1000))
  }
}

/** An idle long-polling editor for `seconds`: how many polls does it make per server timeout? */
async function idlePoll (timeoutS: number, seconds: number): Promise<{ timeoutS: number, seconds: number, polls: number, pollsPerTimeout: number, serverCpuMs: number }> {
  const { child, port } = await startServer()
  const doc = new Y.Doc()
  const provider = new WeftProvider(`http://127.0.0.1:${port}`, 'idle', doc, { transports: ['poll'], pollTimeoutS: timeoutS })
  while (!provider.synced) await sleep(20)
  await sleep(200)
  const before = await metric(port, 'polls_total')
  const cpu0 = cpuMs(child.pid!)
  await sleep(seconds * 1000)
  const polls = await metric(port, 'polls_total') - before
  const cpu1 = cpuMs(child.pid!)
  provider.destroy()
  await stopServer(child)
  return { timeoutS, seconds, polls, pollsPerTimeout: round(polls / (seconds / timeoutS)), serverCpuMs: round(cpu1 - cpu0, 0) }
}

const require = createRequire(import.meta.url)
const machine = { cpu: cpus()[0]?.model ?? 'unknown', cores: cpus().length, memGb: round(totalmem() / 2 ** 30, 1), node: process.version, yjs: (require('yjs/package.json') as { version: string }).version }
console.log(`machine: ${machine.cpu} × ${machine.cores}, node ${machine.node}, yjs ${machine.yjs}`)
console.log(`${EDITORS} editors on one doc, one edit each every ${INTERVAL_MS} ms, ${SECONDS} s measured per tier, server: Weft + LevelDB in a child process\n`)

const tiers: TierResult[] = []
for (const tier of args.tiers.split(',') as TransportName[]) {
  const r = await runTier(tier)
  tiers.push(r)
  console.log(`${tier.padEnd(9)}  p50 ${String(r.p50Ms).padStart(6)} ms  p99 ${String(r.p99Ms).padStart(7)} ms  edits ${r.edits}  deliveries ${r.deliveries}/${r.expectedDeliveries}  server CPU ${r.cpuMsPer1kDeliveries} ms per 1k deliveries  (load avg ${r.loadAvg1m})`)
}
const idle = await idlePoll(5, 30)
console.log(`\nidle long poll: ${idle.polls} polls in ${idle.seconds} s with a ${idle.timeoutS} s timeout = ${idle.pollsPerTimeout} per timeout (server CPU ${idle.serverCpuMs} ms)`)
console.log('baseline (DESIGN.md): y-websocket@1.5.4 34 CPU ms / 1k deliveries, Hocuspocus 22, raw relay 4.1 (at 5×)')

mkdirSync('bench/results', { recursive: true })
writeFileSync(args.out, JSON.stringify({ date: new Date().toISOString(), machine, setup: { editors: EDITORS, intervalMs: INTERVAL_MS, seconds: SECONDS }, tiers, idlePoll: idle }, null, 2) + '\n')
console.log(`\nwritten to ${args.out}`)
process.exit(0)
