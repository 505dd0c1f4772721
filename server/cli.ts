/**
 * `weft` / `npm start -- …`: a standalone server on one port.
 * Prints one line when ready (`listening on http://HOST:PORT`); logs go to stderr.
 */
import { createServer } from 'node:http'
import { parseArgs } from 'node:util'
import express from 'express'
import { cliLogger, defaultLogFormat, isLevel, isLogFormat, type Level, type LogFormat } from './cli-logger.js'
import { createWeft } from './weft.js'
import { leveldbStorage } from './storage/leveldb.js'
import { memoryStorage } from './storage/memory.js'
import { postgresStorage } from './storage/postgres.js'
import { WeftOptionsError } from './options.js'
import { version } from './version.js'
import { prepareDataDir } from './data-dir.js'

const help = `weft ${version} — a Yjs sync server (WebSocket, SSE, HTTP fallbacks)

Usage: weft [options]        (or: npm start -- [options])

Options (each also as an environment variable):
  --port <n>            port to listen on                      PORT        [1234]
  --host <addr>         address to bind (0.0.0.0 for all)       HOST        [127.0.0.1]
  --data <dir>          LevelDB directory                       WEFT_DATA   [./data]
  --memory              keep docs in memory only (lost on exit) WEFT_MEMORY
  --postgres <url>      store docs in PostgreSQL instead        WEFT_POSTGRES
  --log-level <level>   debug | info | warn | error             WEFT_LOG_LEVEL [warn]
  --log-format <f>      json (pino lines) | pretty              WEFT_LOG_FORMAT
                        [pretty on a terminal, json otherwise]
  --no-ui               no home page (/) and no editor (/edit/:doc), for production;
                        /view/:doc stays (it is behind auth)    WEFT_UI=0
  --admin-token <t>     credential for GET /docs (Bearer or ?token=, ≥ 16 chars);
                        with auth on, /docs needs it or an admin JWT   WEFT_ADMIN_TOKEN

Access control (off by default: every client may read and write every doc):
  --auth-secret <s>     require HS256 JWTs signed with this secret (≥ 32 chars)
                                                                WEFT_AUTH_SECRET
  --auth-jwks <file|url>  require RS256/ES256 JWTs verified with these public keys
                                                                WEFT_AUTH_JWKS
  --allowed-origins <a,b> browser origins allowed (Origin header); others get 403
                                                                WEFT_ALLOWED_ORIGINS [any]
  --cors-origins <a,b>  pages that may read SSE streams and snapshots cross-origin
                        ("*" = any page, without credentials)   WEFT_CORS_ORIGINS
                        [--allowed-origins if set; else "*" without auth, none with auth]
  Token claims: docs (name, glob "team-a/*" or list), access ("read"|"write"), exp, sub.
  Clients send it as ?token=, Authorization: Bearer, a weft_token cookie or a
  Sec-WebSocket-Protocol entry.

Limits (exceeding one answers HTTP 429 or closes with 4529, which clients retry later):
  --max-connections <n>          WebSocket connections in total  WEFT_MAX_CONNECTIONS [10000]
  --max-connections-per-ip <n>   … from one IP address           WEFT_MAX_CONNECTIONS_PER_IP [10000]
  --max-connections-per-doc <n>  … on one doc                    WEFT_MAX_CONNECTIONS_PER_DOC [5000]
  --max-observers-per-ip <n>     SSE streams + polls per IP      WEFT_MAX_OBSERVERS_PER_IP [10000]
                                 (behind a proxy all clients share its address: per-IP
                                 limits are for clients that connect directly)
  --max-messages-per-second <n>  per connection (burst 3×)       WEFT_MAX_MESSAGES_PER_SECOND [100]
                                 (over it the connection is not read until it may go on)
  --max-throttled-ms <n>         over the rate without a break   WEFT_MAX_THROTTLED_MS [30000]
                                 this long: closed with 4529
  --max-message-bytes <n>        largest message (1009 beyond)   WEFT_MAX_MESSAGE_BYTES [16777216]
  --max-docs <n>                 docs in memory at once          WEFT_MAX_DOCS [10000]
  --max-http-sessions <n>        HTTP-only editors (SSE/poll)    WEFT_MAX_HTTP_SESSIONS [10000]
  --max-http-sessions-per-ip <n> … created from one IP address    WEFT_MAX_HTTP_SESSIONS_PER_IP [1000]
  --max-requests-per-second-per-ip <n>  doc routes, per IP (burst 3×)
                                                                WEFT_MAX_REQUESTS_PER_SECOND_PER_IP [1000]
  --max-empty-docs-per-ip <n>    docs nobody wrote yet held open by one IP's streams/polls
                                                                WEFT_MAX_EMPTY_DOCS_PER_IP [100]
  --http-session-idle-ms <n>     an idle HTTP editor leaves      WEFT_HTTP_SESSION_IDLE_MS [30000]
  --max-presence-ids-per-connection <n>    awareness ids one connection holds (4413 beyond)
                                                                WEFT_MAX_PRESENCE_IDS_PER_CONNECTION [16]
  --max-presence-bytes-per-connection <n>  … their states' bytes (4413 beyond)
                                                                WEFT_MAX_PRESENCE_BYTES_PER_CONNECTION [65536]
  --max-presence-bytes-per-doc <n>         all presence of one doc (4529 beyond)
                                                                WEFT_MAX_PRESENCE_BYTES_PER_DOC [4194304]
  --read-only-presence  read tokens may set presence (shown as present)
                                                                WEFT_READ_ONLY_PRESENCE=1
  -h, --help            show this help
  -v, --version         print the version

Editors connect with the stock y-websocket provider to ws://HOST:PORT/<doc name>.
Stop with Ctrl-C (or SIGTERM): clients are told, data is flushed, exit within 10 s.`

interface Flags {
  port: number
  host: string
  data: string
  memory: boolean
  postgres: string | undefined
  logLevel: Level
  logFormat: LogFormat
  authSecret?: string
  authJwks?: string
  allowedOrigins?: string[]
  corsOrigins?: string[]
  limits: Record<string, number>
  ui: boolean
  readOnlyPresence: boolean
  adminToken?: string
}

/** Numeric limit flags → option names (env var: WEFT_ + the flag in upper snake case). */
const limitFlags = {
  'max-connections': 'maxConnections',
  'max-connections-per-ip': 'maxConnectionsPerIp',
  'max-connections-per-doc': 'maxConnectionsPerDoc',
  'max-observers-per-ip': 'maxObserversPerIp',
  'max-messages-per-second': 'maxMessagesPerSecond',
  'max-throttled-ms': 'maxThrottledMs',
  'max-message-bytes': 'maxMessageBytes',
  'max-docs': 'maxDocs',
  'max-http-sessions': 'maxHttpSessions',
  'max-http-sessions-per-ip': 'maxHttpSessionsPerIp',
  'max-requests-per-second-per-ip': 'maxRequestsPerSecondPerIp',
  'max-empty-docs-per-ip': 'maxEmptyDocsPerIp',
  'http-session-idle-ms': 'httpSessionIdleMs',
  'max-presence-ids-per-connection': 'maxPresenceIdsPerConnection',
  'max-presence-bytes-per-connection': 'maxPresenceBytesPerConnection',
  'max-presence-bytes-per-doc': 'maxPresenceBytesPerDoc'
} as const

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
      postgres: { type: 'string' },
      'log-level': { type: 'string' },
      'log-format': { type: 'string' },
      'auth-secret': { type: 'string' },
      'auth-jwks': { type: 'string' },
      'allowed-origins': { type: 'string' },
      'cors-origins': { type: 'string' },
      'no-ui': { type: 'boolean' },
      'read-only-presence': { type: 'boolean' },
      'admin-token': { type: 'string' },
      ...Object.fromEntries(Object.keys(limitFlags).map(f => [f, { type: 'string' as const }])),
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
  const logFormat = values['log-format'] ?? env.WEFT_LOG_FORMAT ?? defaultLogFormat()
  if (!isLogFormat(logFormat)) throw new UsageError(`--log-format must be json or pretty, got "${logFormat}"`)
  const limits: Record<string, number> = {}
  for (const [flag, option] of Object.entries(limitFlags)) {
    const text = (values as Record<string, string | undefined>)[flag] ?? env[`WEFT_${flag.toUpperCase().replace(/-/g, '_')}`]
    if (text === undefined) continue
    if (!/^\d+$/.test(text) || Number(text) < 1) throw new UsageError(`--${flag} must be a positive whole number, got "${text}"`)
    limits[option] = Number(text)
  }
  if (limits.maxMessagesPerSecond !== undefined) limits.messageBurst = limits.maxMessagesPerSecond * 3
  const origins = values['allowed-origins'] ?? env.WEFT_ALLOWED_ORIGINS
  const cors = values['cors-origins'] ?? env.WEFT_CORS_ORIGINS
  return {
    authSecret: values['auth-secret'] ?? env.WEFT_AUTH_SECRET,
    authJwks: values['auth-jwks'] ?? env.WEFT_AUTH_JWKS,
    allowedOrigins: origins === undefined ? undefined : origins.split(',').map(o => o.trim()).filter(o => o !== ''),
    corsOrigins: cors === undefined ? undefined : cors.split(',').map(o => o.trim()).filter(o => o !== ''),
    limits,
    ui: values['no-ui'] !== true && env.WEFT_UI !== '0' && env.WEFT_UI !== 'false',
    readOnlyPresence: values['read-only-presence'] === true || env.WEFT_READ_ONLY_PRESENCE === '1' || env.WEFT_READ_ONLY_PRESENCE === 'true',
    adminToken: values['admin-token'] ?? env.WEFT_ADMIN_TOKEN,
    port,
    host: values.host ?? env.HOST ?? '127.0.0.1',
    data: values.data ?? env.WEFT_DATA ?? './data',
    memory: values.memory ?? (env.WEFT_MEMORY === '1' || env.WEFT_MEMORY === 'true'),
    postgres: values.postgres ?? env.WEFT_POSTGRES,
    logLevel,
    logFormat
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

  const logger = await cliLogger(flags.logLevel, flags.logFormat)
  if (flags.memory && flags.postgres !== undefined) {
    process.stderr.write('weft: choose one of --memory and --postgres\n')
    process.exit(2)
  }
  if (!flags.memory && flags.postgres === undefined) {
    try {
      prepareDataDir(flags.data)
    } catch (err) {
      process.stderr.write(`weft: ${(err as Error).message}\n`)
      process.exit(2)
    }
  }
  const storage = flags.memory ? memoryStorage() : flags.postgres !== undefined ? postgresStorage(flags.postgres) : leveldbStorage(flags.data)
  const where = flags.postgres !== undefined ? 'PostgreSQL' : flags.data
  let weft
  try {
    const auth = flags.authSecret !== undefined || flags.authJwks !== undefined
      ? { ...(flags.authSecret !== undefined ? { secret: flags.authSecret } : {}), ...(flags.authJwks !== undefined ? { jwks: flags.authJwks } : {}) }
      : undefined
    weft = await createWeft({ storage, logger, auth, allowedOrigins: flags.allowedOrigins, corsOrigins: flags.corsOrigins, ...flags.limits, ui: flags.ui, readOnlyPresence: flags.readOnlyPresence, adminToken: flags.adminToken })
  } catch (err) {
    const cause = (err as { cause?: { code?: string } }).cause
    if (cause?.code === 'LEVEL_LOCKED') {
      process.stderr.write(`weft: the data directory ${flags.data} is in use by another process (is another weft running?)\n`)
    } else if (err instanceof WeftOptionsError) {
      process.stderr.write(`weft: ${err.message}\n`)
    } else {
      process.stderr.write(`weft: cannot open storage at ${where}: ${(err as Error).message}\n`)
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
    logger.info({ version, url: `http://${host}:${port}`, storage: flags.memory ? 'memory' : flags.postgres !== undefined ? 'postgres' : 'leveldb', data: flags.memory || flags.postgres !== undefined ? undefined : flags.data, auth: flags.authSecret !== undefined ? 'hs256' : flags.authJwks !== undefined ? 'jwks' : 'off', ui: flags.ui, limits: flags.limits }, 'weft started')
    if (flags.authSecret === undefined && flags.authJwks === undefined) {
      logger.warn(`no auth configured: every client may read and write every doc (use --auth-secret or --auth-jwks)${flags.memory ? '; --memory: docs are lost on exit' : ''}`)
    } else if (flags.memory) {
      logger.warn('--memory: docs are lost on exit')
    }
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
