/**
 * Debian's nginx in front of test nodes, with the repo's own config (deploy/nginx/weft.conf):
 * its upstream servers and listen port are replaced by the test's, the rest runs as shipped.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { connect } from 'node:net'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { tempDir } from './server.js'
import { waitFor } from './wait.js'
import { freePort } from './free-port.js'

const root = fileURLToPath(new URL('../..', import.meta.url))
export const nginxBinary = ['/usr/sbin/nginx', '/usr/bin/nginx'].find(p => existsSync(p)) ?? null

export interface Nginx {
  port: number
  url: string
  wsUrl: string
  stop (): Promise<void>
}

/**
 * `balance`: `doc` runs the config as shipped (a doc's clients meet on one node); `round-robin`
 * drops its `hash` line, so the clients of one doc spread over the nodes (what the cluster tests
 * need to exercise the bus).
 */
export async function startNginx (upstreamPorts: number[], balance: 'doc' | 'round-robin' = 'round-robin'): Promise<Nginx> {
  if (nginxBinary === null) throw new Error('nginx is not installed (apt-get install -y nginx; .ci/run installs it)')
  const port = await freePort()
  const dir = tempDir('weft-nginx-')
  for (const d of ['logs', 'tmp']) mkdirSync(join(dir.path, d), { recursive: true })
  let site = readFileSync(join(root, 'deploy/nginx/weft.conf'), 'utf8')
  const servers = upstreamPorts.map(p => `  server 127.0.0.1:${p} max_fails=1 fail_timeout=2s;`).join('\n')
  site = site.replace(/(upstream weft \{[\s\S]*?)(  server 127\.0\.0\.1:\d+[^\n]*\n)+/, (_m, head: string) => `${head}${servers}\n`)
  site = site.replace(/listen \d+;/, `listen 127.0.0.1:${port};`)
  if (balance === 'round-robin') site = site.replace(/^\s*hash \$weft_doc consistent;\n/m, '')
  writeFileSync(join(dir.path, 'weft.conf'), site)
  const user = process.getuid?.() === 0 ? 'user root;' : ''
  writeFileSync(join(dir.path, 'nginx.conf'), `${user}
worker_processes 1;
error_log ${join(dir.path, 'logs/error.log')} warn;
pid ${join(dir.path, 'nginx.pid')};
events { worker_connections 4096; }
http {
  access_log off;
  client_body_temp_path ${join(dir.path, 'tmp/body')};
  proxy_temp_path ${join(dir.path, 'tmp/proxy')};
  fastcgi_temp_path ${join(dir.path, 'tmp/fastcgi')};
  uwsgi_temp_path ${join(dir.path, 'tmp/uwsgi')};
  scgi_temp_path ${join(dir.path, 'tmp/scgi')};
  include ${join(dir.path, 'weft.conf')};
}
`)
  const proc: ChildProcess = spawn(nginxBinary, ['-p', dir.path, '-c', join(dir.path, 'nginx.conf'), '-g', 'daemon off;'], { stdio: ['ignore', 'ignore', 'pipe'] })
  let err = ''
  proc.stderr!.on('data', d => { err += String(d) })
  const exited = new Promise(resolve => proc.once('exit', resolve))
  await waitFor(() => new Promise<boolean>(resolve => {
    if (proc.exitCode !== null) throw new Error(`nginx exited: ${err}`)
    const s = connect(port, '127.0.0.1')
    s.once('connect', () => { s.destroy(); resolve(true) })
    s.once('error', () => resolve(false))
  }), 'nginx to listen', 10_000, 50)
  return {
    port,
    url: `http://127.0.0.1:${port}`,
    wsUrl: `ws://127.0.0.1:${port}`,
    async stop () {
      // Fast shutdown (SIGTERM): a graceful one (SIGQUIT) would wait for every open WebSocket.
      if (proc.exitCode === null) { proc.kill('SIGTERM'); await exited }
      dir.remove()
    }
  }
}
