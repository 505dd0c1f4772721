/**
 * `weft` / `npm start -- …`: a standalone server on one port.
 * Prints one line when ready (`listening on http://HOST:PORT`); logs go to stderr.
 */
import { createServer } from 'node:http'
import { parseArgs } from 'node:util'
import express from 'express'
import { consoleLogger, isLevel } from './cli-logger.js'
import { createWeft } from './weft.js'
import { leveldbStorage } from './storage/leveldb.js'
import { memoryStorage } from './storage/memory.js'
import { WeftOptionsError } from './options.js'
import { version } from './version.js'

const help = `weft ${version} — a Yjs sync server (WebSocket, SSE, HTTP fallbacks)

Usage: weft [options]        (or: npm start -- [options])

Options (each also as an environment variable):
  --port <n>            port to listen on                      PORT        [1234]
  --host <addr>         address to bind (0.0.0.0 for all)       HOST        [127.0.0.1]
  --data <dir>          LevelDB directory                       WEFT_DATA   [./data]
  --memory              keep docs in memory only (lost on exit) WEFT_MEMORY
  --log-level <level>   debug | info | warn | error             WEFT_LOG_LEVEL [warn]
  -h, --help            show this help
  -v, --version         print the version

Editors connect with the stock y-websocket provider to ws://HOST:PORT/<doc name>.
Stop with Ctrl-C (or SIGTERM): clients are told, data is flushed, exit within 10 s.`

interface Flags {
  port: number
  host: string
  data: string
  memory: boolean
  logLevel: string
}

class UsageError extends Error {}

function parseFlags (argv: string[], env: NodeJS.ProcessEnv): Flags | 'help' | 'version' {
  const { values } = parseArgs({
    args: argv,
    strict: true,
    options: {
      port: { type: 'string' },
      host: { type: 'string' },
      data: { type: 'string' },
      memory: { type: 'boolean' },
      'log-level': { type: 'string' },
      help: { type: 'boolean', short: 'h' },
      version: { type: 'boolean', short: 'v' }
    }
  })
  if (values.help === true) return 'help'
  if (values.version === true) return 'version'
  const portText = values.port ?? env.PORT ?? '1234'
  const port = Number(portText)
  if (!/^\d+$/.test(portText) || port > 65535) throw new UsageError(`--port must be a number from 0 to 65535, got "${portText}"`)
  const logLevel = values['log-level'] ?? env.WEFT_LOG_LEVEL ?? 'warn'
  if (!isLevel(logLevel)) throw new UsageError(`--log-level must be debug, info, warn or error, got "${logLevel}"`)
  return {
    port,
    host: values.host ?? env.HOST ?? '127.0.0.1',
    data: values.data ?? env.WEFT_DATA ?? './data',
    memory: values.memory ?? (env.WEFT_MEMORY === '1' || env.WEFT_MEMORY === 'true'),
    logLevel
  }
}

async function main (): Promise<void> {
  let flags: ReturnType<typeof parseFlags>
  try {
    flags = parseFlags(process.argv.slice(2), process.env)
  } catch (err) {
    process.stderr.write(`weft: ${(err as Error).message}\nRun "weft --help" for the options.\n`)
    process.exit(2)
  }
  if (flags === 'help') { process.stdout.write(help + '\n'); return }
  if (flags === 'version') { process.stdout.write(version + '\n'); return }

  const logger = consoleLogger(flags.logLevel as 'warn')
  const storage = flags.memory ? memoryStorage() : leveldbStorage(flags.data)
  let weft
  try {
    weft = await createWeft({ storage, logger })
  } catch (err) {
    const cause = (err as { cause?: { code?: string } }).cause
    if (cause?.code === 'LEVEL_LOCKED') {
      process.stderr.write(`weft: the data directory ${flags.data} is in use by another process (is another weft running?)\n`)
    } else if (err instanceof WeftOptionsError) {
      process.stderr.write(`weft: ${err.message}\n`)
    } else {
      process.stderr.write(`weft: cannot open storage at ${flags.data}: ${(err as Error).message}\n`)
    }
    process.exit(1)
  }

  const app = express()
  app.disable('x-powered-by')
  app.use(weft.router)
  const server = createServer(app)
  weft.attach(server)
  server.on('error', err => {
    const code = (err as NodeJS.ErrnoException).code
    process.stderr.write(code === 'EADDRINUSE'
      ? `weft: port ${flags.port} on ${flags.host} is already in use (try --port)\n`
      : `weft: ${err.message}\n`)
    process.exit(1)
  })
  server.listen(flags.port, flags.host, () => {
    const addr = server.address()
    const port = typeof addr === 'object' && addr != null ? addr.port : flags.port
    const host = flags.host.includes(':') ? `[${flags.host}]` : flags.host
    process.stdout.write(`listening on http://${host}:${port}\n`)
    logger.warn(`no auth configured: every client may read and write every doc${flags.memory ? '; --memory: docs are lost on exit' : ''}`)
  })

  let stopping = false
  const stop = (signal: string): void => {
    if (stopping) { process.stderr.write(`weft: ${signal} again, exiting now\n`); process.exit(1) }
    stopping = true
    logger.info(`${signal}: shutting down`)
    const force = setTimeout(() => { process.stderr.write('weft: shutdown took over 10 s, exiting\n'); process.exit(1) }, 10_000)
    force.unref()
    server.close()
    server.closeIdleConnections?.()
    weft.close().then(() => {
      server.closeAllConnections?.()
      process.exit(0)
    }, err => {
      process.stderr.write(`weft: shutdown failed: ${(err as Error).message}\n`)
      process.exit(1)
    })
  }
  process.on('SIGTERM', () => stop('SIGTERM'))
  process.on('SIGINT', () => stop('SIGINT'))
}

void main()
