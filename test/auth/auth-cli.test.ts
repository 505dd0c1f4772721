/** The CLI's access-control and limit flags: env equivalents, the warning, clear usage errors. */
import { afterEach, describe, expect, it } from 'vitest'
import { spawnSync } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { startChildServer, type ChildServer } from '../helpers/child-server.js'
import { upgradeStatus } from '../helpers/raw-ws.js'
import { hsToken, SECRET } from '../helpers/tokens.js'

const root = fileURLToPath(new URL('../..', import.meta.url))
const cli = (args: string[], env: NodeJS.ProcessEnv = {}): { status: number | null, stderr: string } => {
  const r = spawnSync(process.execPath, ['--import', 'tsx', 'server/cli.ts', ...args], { cwd: root, env: { ...process.env, ...env }, encoding: 'utf8', timeout: 30_000 })
  return { status: r.status, stderr: r.stderr }
}

describe('CLI access control and limits', () => {
  const children: ChildServer[] = []
  afterEach(() => { for (const c of children.splice(0)) c.proc.kill('SIGKILL') })

  it('--auth-secret (or WEFT_AUTH_SECRET) requires tokens, and the no-auth warning goes away', async () => {
    const open = await startChildServer(['--port', '0', '--memory'])
    children.push(open)
    const byFlag = await startChildServer(['--port', '0', '--memory', '--auth-secret', SECRET, '--allowed-origins', 'https://app.example', '--max-connections-per-doc', '1'])
    children.push(byFlag)
    const byEnv = await startChildServer(['--port', '0', '--memory'], { WEFT_AUTH_SECRET: SECRET })
    children.push(byEnv)
    await new Promise(resolve => setTimeout(resolve, 200))
    expect(open.stderr()).toMatch(/no auth configured/)
    expect(byFlag.stderr()).not.toMatch(/no auth configured/)
    const token = await hsToken({ docs: 'd', access: 'write' })
    for (const s of [byFlag, byEnv]) {
      expect(await upgradeStatus(`${s.wsUrl}/d`)).toBe(401)
      expect((await fetch(`${s.url}/docs/d`)).status).toBe(401)
      expect((await fetch(`${s.url}/docs/d?token=${token}`)).status).toBe(200)
    }
    expect(await upgradeStatus(`${byFlag.wsUrl}/d?token=${token}`, { origin: 'https://evil.example' })).toBe(403)
    // --max-connections-per-doc 1: the second connection on the doc is refused.
    const WebSocket = (await import('ws')).default
    const first = new WebSocket(`${byFlag.wsUrl}/d?token=${token}`)
    await new Promise(resolve => first.once('open', resolve))
    expect(await upgradeStatus(`${byFlag.wsUrl}/d?token=${token}`)).toBe(429)
    first.terminate()
  })

  it('refuses bad values with a clear message', () => {
    const short = cli(['--port', '0', '--memory', '--auth-secret', 'short'])
    expect(short.status).not.toBe(0)
    expect(short.stderr).toMatch(/at least 32 characters/)
    const limit = cli(['--port', '0', '--memory', '--max-connections', 'lots'])
    expect(limit.status).toBe(2)
    expect(limit.stderr).toMatch(/--max-connections must be a whole number of at least 1/)
    const jwks = cli(['--port', '0', '--memory', '--auth-jwks', '/nonexistent/keys.json'])
    expect(jwks.status).not.toBe(0)
    expect(jwks.stderr).toMatch(/cannot read a JWKS/)
  })
})
