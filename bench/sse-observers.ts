/**
 * SSE fan-out: one doc, one writer at 10 edits/s, N observers (default 1,000 and 5,000).
 * Reports edit-to-observer delivery latency (p50/p99/max) and server memory per idle observer.
 *
 *   ulimit -n 20000; npx tsx bench/sse-observers.ts [--observers 1000,5000] [--seconds 10]
 *
 * The server (real Weft, LevelDB in a temp dir) runs in a child process so its memory is its
 * own (VmRSS from /proc/<pid>/status, heap over IPC after a forced GC). Observers are raw TCP
 * sockets speaking just enough HTTP: no parser, no Yjs, so the client side stays cheap. The
 * writer is the stock y-websocket provider. Latency is found by searching each observer's bytes
 * for the edit's marker: the update is base64 inside the event, so the marker is searched in its
 * three possible base64 alignments. Writer and observers share this process's clock.
 * Results: bench/results/sse-observers.json.
 */
import { fork, type ChildProcess } from 'node:child_process'
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import net from 'node:net'
import os from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import * as Y from 'yjs'
import WebSocket from 'ws'
import { WebsocketProvider } from 'y-websocket'

const here = dirname(fileURLToPath(import.meta.url))
const DOC = 'bench-sse'

// ---- server child -------------------------------------------------------------------------
async function serverMain (): Promise<void> {
  const { createWeft } = await import('../server/weft.js')
  const { leveldbStorage } = await import('../server/storage/leveldb.js')
  const dir = mkdtempSync(join(os.tmpdir(), 'weft-bench-sse-'))
  const weft = await createWeft({ storage: leveldbStorage(dir), maxObserversPerIp: 1_000_000, maxConnectionsPerIp: 1_000_000 })
  const http = createServer()
  weft.attach(http)
  http.listen(0, '127.0.0.1', () => process.send!({ port: (http.address() as AddressInfo).port }))
  process.on('message', (m: { type: string }) => {
    if (m.type === 'mem') {
      (globalThis as { gc?: () => void }).gc?.()
      const mu = process.memoryUsage()
      void weft.context.metrics.render().then(text => process.send!({ type: 'mem', heapUsed: mu.heapUsed, external: mu.external, rss: mu.rss, observers: /weft_sse_observers (\d+)/.exec(text)?.[1] }))
    } else if (m.type === 'floor') {
      void rawWriteFloor().then(usPerWrite => process.send!({ type: 'floor', usPerWrite }))
    } else if (m.type === 'stop') {
      void weft.close().then(() => { http.close(); rmSync(dir, { recursive: true, force: true }); process.exit(0) })
    }
  })
}

/**
 * The baseline beside our figure: CPU time of a bare `socket.write` of a 200-byte buffer, per
 * write, to 500 loopback sockets, in the server process at this moment (the machine is shared,
 * so this moves with the load). Weft's cost per delivery cannot go below this.
 */
async function rawWriteFloor (): Promise<number> {
  const srv = net.createServer()
  const accepted: net.Socket[] = []
  srv.on('connection', s => { s.setNoDelay(true); accepted.push(s) })
  await new Promise<void>(resolve => srv.listen(0, '127.0.0.1', () => resolve()))
  const port = (srv.address() as AddressInfo).port
  const peers = Array.from({ length: 500 }, () => { const c = net.connect(port, '127.0.0.1'); c.on('data', () => {}); return c })
  while (accepted.length < peers.length) await new Promise(resolve => setTimeout(resolve, 10))
  const buf = Buffer.alloc(200, 97)
  const samples: number[] = []
  for (let round = 0; round < 10; round++) {
    const t = process.cpuUsage()
    for (const sock of accepted) sock.write(buf)
    const used = process.cpuUsage(t)
    samples.push((used.user + used.system) / accepted.length)
    await new Promise(resolve => setTimeout(resolve, 50))
  }
  for (const c of peers) c.destroy()
  srv.close()
  samples.sort((a, b) => a - b)
  return +samples[5]!.toFixed(2)
}

// ---- bench driver -------------------------------------------------------------------------
interface Observer { index: number, socket: net.Socket, ready: boolean, tail: Buffer }

/** utime + stime of a process, in ms (clock ticks are 10 ms on Linux). */
const cpuMs = (pid: number): number => {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ')
  return (Number(fields[11]) + Number(fields[12])) * 10
}

const vmRssKb = (pid: number): number => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))![1])

function ask<T> (child: ChildProcess, type: string): Promise<T> {
  return new Promise(resolve => {
    const on = (m: { type?: string }): void => { if (m.type === type) { child.off('message', on); resolve(m as T) } }
    child.on('message', on)
    child.send({ type })
  })
}

/** The base64 substrings a 12-byte marker shows up as, for each alignment inside a longer buffer. */
function base64Variants (marker: string): Buffer[] {
  const m = Buffer.from(marker, 'latin1')
  const out: Buffer[] = []
  for (let p = 0; p < 3; p++) {
    const b64 = Buffer.concat([Buffer.alloc(p), m]).toString('base64')
    const firstGroup = p === 0 ? 0 : 1 // a group holding prefix bytes depends on the neighbours
    const lastGroup = Math.floor((p + m.length) / 3) // groups fully inside
    out.push(Buffer.from(b64.slice(firstGroup * 4, lastGroup * 4), 'latin1'))
  }
  return out
}

function percentile (sorted: number[], q: number): number {
  if (sorted.length === 0) return NaN
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!
}

const SNAPSHOT = Buffer.from('event: snapshot')

async function connectObservers (port: number, n: number, onData: (o: Observer, chunk: Buffer) => void): Promise<Observer[]> {
  const all: Observer[] = []
  const request = `GET /docs/${DOC}/events?awareness=0 HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: text/event-stream\r\n\r\n`
  for (let start = 0; start < n; start += 250) {
    const batch = Array.from({ length: Math.min(250, n - start) }, (_, k) => new Promise<Observer>((resolve, reject) => {
      const socket = net.connect(port, '127.0.0.1')
      const o: Observer = { index: start + k, socket, ready: false, tail: Buffer.alloc(0) }
      socket.setNoDelay(true)
      socket.once('connect', () => socket.write(request))
      socket.on('data', (chunk: Buffer) => {
        if (!o.ready && chunk.includes(SNAPSHOT)) { o.ready = true; resolve(o) }
        onData(o, chunk)
      })
      socket.once('error', reject)
    }))
    all.push(...await Promise.all(batch))
  }
  return all
}

async function runLevel (port: number, child: ChildProcess, n: number, seconds: number): Promise<Record<string, number>> {
  const loadAtStart = os.loadavg()[0]!
  const floor = await ask<{ usPerWrite: number }>(child, 'floor')
  // Memory before the observers (doc loaded by the writer, warmed up).
  const before = await ask<{ heapUsed: number, external: number }>(child, 'mem')
  const rssBefore = vmRssKb(child.pid!)

  let pending: Array<{ variants: Buffer[], sentAt: number, seen: number, seenBy: Uint8Array }> = []
  const latencies: number[] = []
  const t0 = performance.now()
  const observers = await connectObservers(port, n, (o, chunk) => {
    if (pending.length === 0) return
    const now = performance.now()
    // Native searches on the bytes; the seam with the previous chunk is checked separately.
    const seam = o.tail.length > 0 ? Buffer.concat([o.tail, chunk.subarray(0, 24)]) : null
    o.tail = chunk.subarray(chunk.length - 24)
    for (const p of pending) {
      if (p.seenBy[o.index] === 1) continue
      if (p.variants.some(v => chunk.includes(v) || (seam !== null && seam.includes(v)))) { latencies.push(now - p.sentAt); p.seen++; p.seenBy[o.index] = 1 }
    }
  })
  const connectMs = performance.now() - t0
  await new Promise(resolve => setTimeout(resolve, 2000)) // settle: idle observers
  const after = await ask<{ heapUsed: number, external: number, observers: string }>(child, 'mem')
  const rssAfter = vmRssKb(child.pid!)

  // The writer: the stock provider, 10 edits/s, each a fresh 12-byte marker replacing the last.
  const ydoc = new Y.Doc()
  const provider = new WebsocketProvider(`ws://127.0.0.1:${port}`, DOC, ydoc, { WebSocketPolyfill: WebSocket as never, disableBc: true })
  await new Promise<void>(resolve => provider.once('sync', () => resolve()))
  const text = ydoc.getText('t')
  const edits = seconds * 10
  const serverCpu0 = cpuMs(child.pid!)
  const benchCpu0 = process.cpuUsage()
  let counter = n * 1000
  for (let i = 0; i < edits; i++) {
    const marker = `M${String(counter++).padStart(11, '0')}`
    pending = pending.filter(p => p.seen < n) // keep undelivered ones a while (late arrivals)
    if (pending.length > 20) pending.shift()
    const sentAt = performance.now()
    pending.push({ variants: base64Variants(marker), sentAt, seen: 0, seenBy: new Uint8Array(n) })
    ydoc.transact(() => { text.delete(0, text.length); text.insert(0, marker) }) // sent synchronously
    await new Promise(resolve => setTimeout(resolve, 100))
  }
  await new Promise(resolve => setTimeout(resolve, 1000))
  const serverCpu = cpuMs(child.pid!) - serverCpu0
  const benchCpu = process.cpuUsage(benchCpu0)
  provider.destroy()
  for (const o of observers) o.socket.destroy()
  await new Promise(resolve => setTimeout(resolve, 1500))

  latencies.sort((a, b) => a - b)
  const expected = edits * n
  return {
    observers: n,
    loadAverage1mAtStart: +loadAtStart.toFixed(2),
    edits,
    deliveries: latencies.length,
    missed: expected - latencies.length,
    p50Ms: +percentile(latencies, 0.5).toFixed(2),
    p99Ms: +percentile(latencies, 0.99).toFixed(2),
    maxMs: +(latencies[latencies.length - 1] ?? NaN).toFixed(2),
    connectAllMs: Math.round(connectMs),
    serverCpuMsPer1kDeliveries: +(serverCpu / (latencies.length / 1000)).toFixed(2),
    baselineRawSocketWriteMsPer1k: floor.usPerWrite,
    serverCpuPercent: +(serverCpu / ((edits / 10 + 1) * 1000) * 100).toFixed(1),
    benchCpuPercent: +((benchCpu.user + benchCpu.system) / 1000 / ((edits / 10 + 1) * 1000) * 100).toFixed(1),
    serverRssPerObserverKB: +((rssAfter - rssBefore) / n).toFixed(2),
    serverHeapPerObserverKB: +((after.heapUsed + after.external - before.heapUsed - before.external) / 1024 / n).toFixed(2),
    observersReportedByServer: Number(after.observers)
  }
}

async function main (): Promise<void> {
  const { values } = parseArgs({ options: { observers: { type: 'string', default: '1000,5000' }, seconds: { type: 'string', default: '10' } } })
  const levels = values.observers!.split(',').map(Number)
  const seconds = Number(values.seconds)
  const results: Array<Record<string, number>> = []
  for (const n of levels) {
    // A fresh server per level: memory figures are not skewed by the previous level.
    const child = fork(fileURLToPath(import.meta.url), ['server'], { execArgv: ['--import', 'tsx', '--expose-gc'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] })
    const { port } = await new Promise<{ port: number }>(resolve => child.once('message', m => resolve(m as { port: number })))
    // Load the doc before measuring: a writer connects, edits once, leaves (the doc stays held by observers later).
    const warm = new Y.Doc()
    const wp = new WebsocketProvider(`ws://127.0.0.1:${port}`, DOC, warm, { WebSocketPolyfill: WebSocket as never, disableBc: true })
    await new Promise<void>(resolve => wp.once('sync', () => resolve()))
    warm.getText('t').insert(0, 'warm-up')
    await new Promise(resolve => setTimeout(resolve, 300))
    const r = await runLevel(port, child, n, seconds)
    wp.destroy()
    results.push(r)
    console.log(JSON.stringify(r))
    child.send({ type: 'stop' })
    await new Promise(resolve => child.once('exit', resolve))
  }

  const env = {
    date: new Date().toISOString(),
    node: process.version,
    cpus: `${os.cpus().length} × ${os.cpus()[0]?.model ?? '?'}`,
    memoryGB: +(os.totalmem() / 2 ** 30).toFixed(1),
    loadAverage1m: os.loadavg()[0]!.toFixed(2),
    note: 'writer, observers and bench in one process, server in another; 2-core machine shared with other work (see loadAverage1m)'
  }
  console.log(`\nSSE fan-out — ${env.cpus}, Node ${env.node}, one doc, 1 writer at 10 edits/s`)
  console.log('| observers | p50 ms | p99 ms (target <50 @1k) | max ms | delivered | server CPU ms / 1k deliveries (bare socket.write floor) | server KB / idle observer (target <10) RSS / heap |')
  console.log('| --- | --- | --- | --- | --- | --- | --- |')
  for (const r of results) {
    console.log(`| ${r.observers} | ${r.p50Ms} | ${r.p99Ms} | ${r.maxMs} | ${r.deliveries}/${r.deliveries + r.missed!} | ${r.serverCpuMsPer1kDeliveries} (${r.baselineRawSocketWriteMsPer1k}) | ${r.serverRssPerObserverKB} / ${r.serverHeapPerObserverKB} |`)
  }
  mkdirSync(join(here, 'results'), { recursive: true })
  writeFileSync(join(here, 'results', 'sse-observers.json'), JSON.stringify({ env, command: 'npx tsx bench/sse-observers.ts', results }, null, 2) + '\n')
  console.log('\nwritten to bench/results/sse-observers.json')
}

if (process.argv[2] === 'server') void serverMain()
else void main().then(() => process.exit(0), err => { console.error(err); process.exit(1) })
