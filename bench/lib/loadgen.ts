/** The orchestrator's handle on the load generator process (forked once, driven over IPC). */
import { fork, type ChildProcess } from 'node:child_process'
import { join } from 'node:path'
import { buildDir, rootDir } from './build.js'

export class LoadGen {
  private readonly proc: ChildProcess
  private nextId = 1
  private readonly waiting = new Map<number, { resolve: (v: any) => void, reject: (e: Error) => void }>()

  constructor () {
    // Through a shell so the fd limit is raised to the hard limit before node starts.
    this.proc = fork(join(buildDir, 'loadgen.mjs'), [], { cwd: rootDir, execPath: 'sh', execArgv: ['-c', `ulimit -n $(ulimit -Hn); exec "${process.execPath}" --max-old-space-size=4096 "$0"`], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] })
    this.proc.on('message', (msg: { id: number, result?: unknown, error?: string }) => {
      const w = this.waiting.get(msg.id)
      if (w === undefined) return
      this.waiting.delete(msg.id)
      if (msg.error !== undefined) w.reject(new Error(`loadgen: ${msg.error}`))
      else w.resolve(msg.result)
    })
    this.proc.on('exit', code => {
      for (const w of this.waiting.values()) w.reject(new Error(`loadgen exited with ${code}`))
      this.waiting.clear()
    })
  }

  get pid (): number { return this.proc.pid! }

  async call<T = any> (cmd: string, args: object = {}): Promise<T> {
    const id = this.nextId++
    return await new Promise<T>((resolve, reject) => {
      this.waiting.set(id, { resolve, reject })
      this.proc.send({ id, cmd, args })
    })
  }

  close (): void {
    this.proc.disconnect()
  }
}
