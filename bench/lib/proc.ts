/**
 * Server cost read from /proc, so a target is measured the same way whatever it runs on:
 * CPU = utime + stime of the server process itself (not of a wrapper), memory = VmRSS.
 */
import { readFileSync } from 'node:fs'

/** Clock ticks per second for /proc/<pid>/stat (`getconf CLK_TCK`; 100 on Linux x86/arm). */
const TICKS_PER_SECOND = 100

/** CPU time (user + system) the process has used so far, in ms. */
export function cpuMs (pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
  // The command name (field 2) may contain spaces; the fields after it start past the last ')'.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
  // fields[0] is field 3 (state); utime is field 14, stime field 15.
  return (Number(fields[11]) + Number(fields[12])) * 1000 / TICKS_PER_SECOND
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
