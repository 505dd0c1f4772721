/**
 * Server cost read from /proc, so a target is measured the same way whatever it runs on:
 * CPU = utime + stime of the server process itself (not of a wrapper), memory = VmRSS.
 */
import { readdirSync, readFileSync } from 'node:fs'

/** Clock ticks per second for /proc/<pid>/stat (`getconf CLK_TCK`; 100 on Linux x86/arm). */
const TICKS_PER_SECOND = 100

/** CPU time (user + system) the process has used so far, in ms. */
export function cpuMs (pid: number): number {
  return statCpuMs(`/proc/${pid}/stat`)
}

/**
 * CPU time of the process's main thread alone, in ms: the JavaScript. `cpuMs` adds the GC's
 * helper threads and libuv's pool (LevelDB, fs), which the relay hardly has.
 */
export function mainThreadCpuMs (pid: number): number {
  return statCpuMs(`/proc/${pid}/task/${pid}/stat`)
}

function statCpuMs (path: string): number {
  const stat = readFileSync(path, 'utf8')
  // The command name (field 2) may contain spaces; the fields after it start past the last ')'.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
  // fields[0] is field 3 (state); utime is field 14, stime field 15.
  return (Number(fields[11]) + Number(fields[12])) * 1000 / TICKS_PER_SECOND
}

/**
 * Time the process's threads have spent on a CPU so far, in ms, to the nanosecond
 * (`/proc/<pid>/task/<tid>/schedstat`): for near-idle processes, where `cpuMs`' 10 ms ticks are
 * as large as what is measured. Threads that already ended are not counted.
 */
export function runTimeMs (pid: number): number {
  let ns = 0
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    try { ns += Number(readFileSync(`/proc/${pid}/task/${tid}/schedstat`, 'utf8').split(' ')[0]) } catch { /* the thread ended meanwhile */ }
  }
  return ns / 1e6
}

/** Resident set size in KB. */
export function rssKb (pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8')
  const m = /VmRSS:\s+(\d+) kB/.exec(status)
  if (m == null) throw new Error(`no VmRSS for pid ${pid}`)
  return Number(m[1])
}

/** The command line of a process, to check that we measure the server and not a wrapper. */
export function cmdline (pid: number): string {
  return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').join(' ').trim()
}

export interface ProcessInfo { pid: number, ppid: number, comm: string }

/** Every process on the machine (pid, parent, command name); ones that exit mid-scan are skipped. */
export function processes (): ProcessInfo[] {
  const out: ProcessInfo[] = []
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue
    try {
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8')
      const close = stat.lastIndexOf(')')
      out.push({ pid: Number(name), comm: stat.slice(stat.indexOf('(') + 1, close), ppid: Number(stat.slice(close + 2).split(' ')[1]) })
    } catch {}
  }
  return out
}

/** TCP connections accepted on `port` that are open now (server side, ESTABLISHED), from /proc/net/tcp and tcp6. */
export function establishedOn (port: number): number {
  const hex = `:${port.toString(16).toUpperCase().padStart(4, '0')}`
  let n = 0
  for (const file of ['/proc/net/tcp', '/proc/net/tcp6']) {
    for (const line of readFileSync(file, 'utf8').split('\n').slice(1)) {
      const f = line.trim().split(/\s+/)
      if (f[1]?.endsWith(hex) === true && f[3] === '01') n++
    }
  }
  return n
}
