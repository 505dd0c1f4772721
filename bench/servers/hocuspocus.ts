/**
 * Hocuspocus 3 as its users run it: `@hocuspocus/server` with the official SQLite extension
 * (`@hocuspocus/extension-sqlite`, sqlite3) in the target's data dir, default debounce (2 s).
 */
import { join } from 'node:path'
import { Server } from '@hocuspocus/server'
import { SQLite } from '@hocuspocus/extension-sqlite'

const arg = (name: string): string => process.argv[process.argv.indexOf(name) + 1]!
const port = Number(arg('--port'))
const server = new Server({
  port,
  address: '127.0.0.1',
  quiet: true,
  extensions: [new SQLite({ database: join(arg('--data'), 'hocuspocus.sqlite') })]
})
await server.listen()
process.stdout.write(`listening on http://127.0.0.1:${port}\n`)
// Hocuspocus stores debounced docs on destroy; give it the chance a real deployment would.
process.on('SIGTERM', () => { void server.destroy().finally(() => process.exit(0)) })
