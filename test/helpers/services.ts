/**
 * Real PostgreSQL / Redis for the tests that need them. Where a service is missing such tests
 * skip with a loud warning; under WEFT_REQUIRE_SERVICES=1 (set by .ci/run) a missing service fails.
 */
import { connect } from 'node:net'
import pg from 'pg'

export const postgresUrl = process.env.WEFT_TEST_POSTGRES ?? 'postgres://postgres@127.0.0.1:5432/test'
export const redisUrl = process.env.WEFT_TEST_REDIS ?? 'redis://127.0.0.1:6379'

function reachable (host: string, port: number, timeoutMs = 1000): Promise<boolean> {
  return new Promise(resolve => {
    const socket = connect({ host, port })
    const done = (ok: boolean): void => { socket.destroy(); resolve(ok) }
    socket.setTimeout(timeoutMs, () => done(false))
    socket.once('connect', () => done(true))
    socket.once('error', () => done(false))
  })
}

/** True when the service answers; false (with a loud warning) when it may be skipped; throws when required. */
export async function haveService (name: 'postgres' | 'redis'): Promise<boolean> {
  const url = new URL(name === 'postgres' ? postgresUrl : redisUrl)
  const ok = await reachable(url.hostname, Number(url.port || (name === 'postgres' ? 5432 : 6379)))
  if (ok) return true
  const message = `${name} is not reachable at ${url.host}: its tests are ${process.env.WEFT_REQUIRE_SERVICES === '1' ? 'FAILING (WEFT_REQUIRE_SERVICES=1)' : 'SKIPPED'}`
  if (process.env.WEFT_REQUIRE_SERVICES === '1') throw new Error(message)
  console.warn(`\n!!! ${message}\n`)
  return false
}

/**
 * Drops every table a PostgreSQL store with `prefix` creates (storage/postgres.ts), so each test's
 * own prefix leaves nothing behind. One list, kept with the schema's versions.
 */
export async function dropWeftTables (prefix: string): Promise<void> {
  const client = new pg.Client({ connectionString: postgresUrl })
  await client.connect()
  try {
    await client.query(`DROP TABLE IF EXISTS ${['updates', 'quarantine', 'heads', 'meta', 'schema'].map(t => `${prefix}_${t}`).join(', ')}`)
  } finally {
    await client.end()
  }
}
