/** Runs the real CLI as a child process (for SIGKILL / SIGTERM tests). */
import { spawn, type ChildProcess } from 'node:child_process'
import { fileURLToPath } from 'node:url'

const root = fileURLToPath(new URL('../..', import.meta.url))

export interface ChildServer {
  proc: ChildProcess
  port: number
  url: string
  wsUrl: string
  stderr: () => string
  /** Everything the server printed on stdout so far. */
  stdout: () => string
  /** Resolves with the exit code (or signal name). */
  exited: Promise<number | string>
}

export async function startChildServer (args: string[], env: NodeJS.ProcessEnv = {}): Promise<ChildServer> {
  // Port 0 unless the test names one: the CLI's default (1234) collides with a developer's own
  // `npm start` and with other test files running at the same time.
  const port0 = args.includes('--port') ? [] : ['--port', '0']
  const proc = spawn(process.execPath, ['--import', 'tsx', 'server/cli.ts', '--host', '127.0.0.1', ...port0, ...args], {
    cwd: root,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe']
  })
  let err = ''
  let out = ''
  proc.stdout!.on('data', d => { out += String(d) })
  proc.stderr!.on('data', d => { err += String(d) })
  const exited = new Promise<number | string>(resolve => proc.once('exit', (code, signal) => resolve(code ?? signal ?? -1)))
  const port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`server did not start in 20 s: ${err}`)), 20_000)
    proc.stdout!.on('data', () => {
      const m = /listening on http:\/\/[^:]+:(\d+)/.exec(out)
      if (m != null) { clearTimeout(timer); resolve(Number(m[1])) }
    })
    void exited.then(code => { clearTimeout(timer); reject(new Error(`server exited (${code}) before listening: ${err}`)) })
  })
  return { proc, port, url: `http://127.0.0.1:${port}`, wsUrl: `ws://127.0.0.1:${port}`, stderr: () => err, stdout: () => out, exited }
}
