/**
 * The servers under test. Each runs as its own process on a free port with a fresh data dir,
 * started through `sh -c 'ulimit -n …; exec node …'` so the fd limit is raised and the pid we
 * hold (and read /proc for) is the node process of the server itself.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { freePort } from '../../test/helpers/free-port.js'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { buildDir, rootDir } from './build.js'
import { cmdline } from './proc.js'
import WebSocket from 'ws'

export type TargetName = 'weft' | 'weft-memory' | 'weft-window' | 'weft-baseline' | 'reference' | 'hocuspocus' | 'relay' | 'sse-broadcast' |
  'weft-cluster-1' | 'weft-cluster-1-third' | 'weft-cluster-2' | 'weft-cluster-3' | 'weft-cluster-3-doc' | 'hocuspocus-redis'
export type Dialect = 'y-websocket' | 'hocuspocus'

export interface TargetInfo {
  name: TargetName
  label: string
  dialect: Dialect
  /** Stores docs (can be restarted with its data). */
  persistent: boolean
  /** Serves `GET /docs/:doc/events`. */
  sse: boolean
  /** Speaks the sync protocol (answers step1). The limits only move bytes: a client counts as in on open. */
  syncs: boolean
}

export const targets: Record<TargetName, TargetInfo> = {
  weft: { name: 'weft', label: 'Weft (LevelDB)', dialect: 'y-websocket', persistent: true, sse: true, syncs: true },
  // Opt-in (`--targets weft,weft-memory`): the same server keeping docs in memory, so nothing is
  // stored before a broadcast; the difference to `weft` is what durability costs.
  'weft-memory': { name: 'weft-memory', label: 'Weft (--memory, no storage)', dialect: 'y-websocket', persistent: false, sse: true, syncs: true },
  'weft-window': { name: 'weft-window', label: 'Weft (LevelDB), --presence-coalesce-ms $BENCH_PRESENCE_WINDOW', dialect: 'y-websocket', persistent: true, sse: true, syncs: true },
  // `--baseline <git ref>`: the same CLI built from an earlier commit, to show a change is not a slowdown.
  'weft-baseline': { name: 'weft-baseline', label: `Weft at ${process.env.BENCH_BASELINE ?? 'baseline'}`, dialect: 'y-websocket', persistent: true, sse: true, syncs: true },
  reference: { name: 'reference', label: 'y-websocket 1.5.4 + y-leveldb', dialect: 'y-websocket', persistent: true, sse: false, syncs: true },
  hocuspocus: { name: 'hocuspocus', label: 'Hocuspocus 3 + SQLite', dialect: 'hocuspocus', persistent: true, sse: false, syncs: true },
  relay: { name: 'relay', label: 'raw ws relay (limit)', dialect: 'y-websocket', persistent: false, sse: false, syncs: false },
  'sse-broadcast': { name: 'sse-broadcast', label: 'bare SSE broadcaster (limit)', dialect: 'y-websocket', persistent: false, sse: true, syncs: false },
  // The cluster scenario: several processes of one target behind nginx (bench/lib/fleet.ts), each
  // started with the fleet's own flags (--postgres, --redis, --node-id / --redis, --id).
  'weft-cluster-1': { name: 'weft-cluster-1', label: 'Weft cluster, 1 node (PostgreSQL + Redis)', dialect: 'y-websocket', persistent: true, sse: true, syncs: true },
  // The same single node at a third of the load (the cluster scenario divides the edit rate by 3):
  // what each node of three carries, so 3 nodes compare with one at the same load per node.
  'weft-cluster-1-third': { name: 'weft-cluster-1-third', label: 'Weft cluster, 1 node at ⅓ load (a node\'s share of 3)', dialect: 'y-websocket', persistent: true, sse: true, syncs: true },
  'weft-cluster-2': { name: 'weft-cluster-2', label: 'Weft cluster, 2 nodes', dialect: 'y-websocket', persistent: true, sse: true, syncs: true },
  'weft-cluster-3': { name: 'weft-cluster-3', label: 'Weft cluster, 3 nodes', dialect: 'y-websocket', persistent: true, sse: true, syncs: true },
  // nginx with deploy/nginx/weft.conf as shipped: a doc's clients meet on one node.
  'weft-cluster-3-doc': { name: 'weft-cluster-3-doc', label: 'Weft cluster, 3 nodes, routed by doc', dialect: 'y-websocket', persistent: true, sse: true, syncs: true },
  'hocuspocus-redis': { name: 'hocuspocus-redis', label: 'Hocuspocus 3 + Redis ext., 3 instances', dialect: 'hocuspocus', persistent: true, sse: false, syncs: true }
}

function command (name: TargetName, port: number, dataDir: string): { args: string[], env: Record<string, string> } {
  switch (name) {
    case 'weft': return { args: [join(buildDir, 'weft.mjs'), '--port', String(port), '--data', dataDir], env: {} }
    // The presence scenario's window sweep (`--windows 0,5,20`): the same CLI with another window.
    case 'weft-memory': return { args: [join(buildDir, 'weft.mjs'), '--port', String(port), '--memory'], env: {} }
    case 'weft-window': return { args: [join(buildDir, 'weft.mjs'), '--port', String(port), '--data', dataDir, '--presence-coalesce-ms', process.env.BENCH_PRESENCE_WINDOW ?? '20'], env: {} }
    case 'weft-baseline': return { args: [join(buildDir, 'weft-baseline.mjs'), '--port', String(port), '--data', dataDir], env: {} }
    case 'reference': return { args: [join(rootDir, 'node_modules/y-websocket-ref/bin/server.js')], env: { HOST: '127.0.0.1', PORT: String(port), YPERSISTENCE: dataDir } }
    case 'hocuspocus': return { args: [join(buildDir, 'hocuspocus.mjs'), '--port', String(port), '--data', dataDir], env: {} }
    case 'relay': return { args: [join(buildDir, 'relay.mjs'), '--port', String(port)], env: {} }
    case 'sse-broadcast': return { args: [join(buildDir, 'sse-broadcast.mjs'), '--port', String(port)], env: {} }
    case 'weft-cluster-1': case 'weft-cluster-1-third': case 'weft-cluster-2': case 'weft-cluster-3': case 'weft-cluster-3-doc': return command('weft', port, dataDir)
    case 'hocuspocus-redis': return command('hocuspocus', port, dataDir)
  }
}

// One free-port helper for the tests and the bench (the bench already runs the tests' nginx and Redis helpers).
export { freePort }

export class RunningTarget {
  proc!: ChildProcess
  pid = 0
  private stderr = ''
  /** ms from spawn to the server's ready line, for the last start. */
  startMs = 0

  private constructor (readonly info: TargetInfo, readonly port: number, readonly dataDir: string) {}

  /** Node flags for every target in this run (the idle scenario shrinks the young generation). */
  nodeFlags: string[] = []

  /** Server flags after the target's own (a cluster node's --postgres, --redis, --node-id). */
  extraArgs: string[] = []

  static async start (name: TargetName, nodeFlags: string[] = [], extraArgs: string[] = []): Promise<RunningTarget> {
    const t = new RunningTarget(targets[name], await freePort(), mkdtempSync(join(tmpdir(), `weft-bench-${name}-`)))
    t.nodeFlags = nodeFlags
    t.extraArgs = extraArgs
    await t.spawn()
    return t
  }

  get wsUrl (): string { return `ws://127.0.0.1:${this.port}` }
  get httpUrl (): string { return `http://127.0.0.1:${this.port}` }

  private async spawn (): Promise<void> {
    const { args, env } = command(this.info.name, this.port, this.dataDir)
    args.unshift(...this.nodeFlags)
    args.push(...this.extraArgs)
    // BENCH_PROF=<dir> BENCH_PROF_TARGET=<name>: write a V8 CPU profile of that target (--cpu-prof).
    if (process.env.BENCH_PROF !== undefined && process.env.BENCH_PROF_TARGET === this.info.name) args.unshift('--cpu-prof', `--cpu-prof-dir=${process.env.BENCH_PROF}`)
    const quoted = args.map(a => `'${a.replace(/'/g, "'\\''")}'`).join(' ')
    const t0 = performance.now()
    this.stderr = ''
    this.proc = spawn('sh', ['-c', `ulimit -n $(ulimit -Hn); exec "${process.execPath}" ${quoted}`], {
      cwd: rootDir,
      env: { ...process.env, ...env, NODE_ENV: 'production' },
      stdio: ['ignore', 'pipe', 'pipe']
    })
    this.pid = this.proc.pid!
    this.proc.stderr!.on('data', (d: Buffer) => { if (this.stderr.length < 20_000) this.stderr += d.toString() })
    await new Promise<void>((resolve, reject) => {
      let out = ''
      const timer = setTimeout(() => reject(new Error(`${this.info.name} did not start in 30 s: ${this.stderr}`)), 30_000)
      this.proc.stdout!.on('data', (d: Buffer) => {
        out += d.toString()
        // Weft and the limits print `listening on …`; y-websocket prints `running at '…' on port …`.
        if (/listening on|running at/.test(out)) { clearTimeout(timer); resolve() }
      })
      this.proc.once('exit', code => { clearTimeout(timer); reject(new Error(`${this.info.name} exited with ${code} before it was ready: ${this.stderr}`)) })
    })
    this.startMs = performance.now() - t0
    const cmd = cmdline(this.pid)
    if (!cmd.startsWith(process.execPath)) throw new Error(`pid ${this.pid} is not the server: ${cmd}`)
  }

  /** Graceful stop (SIGTERM), SIGKILL after 10 s. */
  async stop (): Promise<void> {
    const proc = this.proc
    if (proc.exitCode != null || proc.signalCode != null) return
    await new Promise<void>(resolve => {
      const timer = setTimeout(() => proc.kill('SIGKILL'), 10_000)
      proc.once('exit', () => { clearTimeout(timer); resolve() })
      proc.kill('SIGTERM')
    })
  }

  /** Stops and starts the same server on the same port and data dir. */
  async restart (): Promise<void> {
    await this.stop()
    await this.spawn()
  }

  async dispose (): Promise<void> {
    await this.stop()
    rmSync(this.dataDir, { recursive: true, force: true })
  }

  get errors (): string { return this.stderr }

  /**
   * A full garbage collection in the server, through the inspector (targets started with
   * `--inspect=127.0.0.1:0`): memory figures then count what is retained, not garbage that a
   * busier or idler target happened not to collect yet. Works on any node server unchanged.
   */
  async collectGarbage (): Promise<void> {
    const url = /Debugger listening on (ws:\/\/\S+)/.exec(this.stderr)?.[1]
    if (url === undefined) throw new Error(`${this.info.name} was not started with --inspect`)
    const ws = new WebSocket(url)
    await new Promise<void>((resolve, reject) => { ws.once('open', () => resolve()); ws.once('error', reject) })
    for (let id = 1; id <= 2; id++) {
      ws.send(JSON.stringify({ id, method: 'HeapProfiler.collectGarbage' }))
      await new Promise<void>(resolve => { const on = (d: Buffer): void => { if ((JSON.parse(d.toString()) as { id?: number }).id === id) { ws.off('message', on); resolve() } }; ws.on('message', on) })
    }
    ws.close()
  }
}
