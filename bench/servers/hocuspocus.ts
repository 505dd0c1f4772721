/**
 * Hocuspocus 3 as its users run it: `@hocuspocus/server` with the official SQLite extension
 * (`@hocuspocus/extension-sqlite`, sqlite3) in the target's data dir, default debounce (2 s).
 * `--redis redis://HOST:PORT --id NAME`: one instance of several, with the official Redis
 * extension (`@hocuspocus/extension-redis`, defaults) as its docs scale it out.
 */
import { join } from 'node:path'
import { Server, type Extension } from '@hocuspocus/server'
import { SQLite } from '@hocuspocus/extension-sqlite'
import { Redis } from '@hocuspocus/extension-redis'

const arg = (name: string): string | undefined => process.argv.includes(name) ? process.argv[process.argv.indexOf(name) + 1]! : undefined
const port = Number(arg('--port'))
const extensions: Extension[] = [new SQLite({ database: join(arg('--data')!, 'hocuspocus.sqlite') })]
const redis = arg('--redis')
if (redis !== undefined) {
  const url = new URL(redis)
  extensions.unshift(new Redis({ host: url.hostname, port: Number(url.port), identifier: arg('--id') ?? `hocuspocus-${process.pid}` }))
}
const server = new Server({ port, address: '127.0.0.1', quiet: true, extensions })
await server.listen()
process.stdout.write(`listening on http://127.0.0.1:${port}\n`)
// Hocuspocus stores debounced docs on destroy; give it the chance a real deployment would.
process.on('SIGTERM', () => { void server.destroy().finally(() => process.exit(0)) })
