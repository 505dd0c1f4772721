/**
 * `weft` / `npm start -- …`: a standalone server on one port.
 * Prints one line when ready (`listening on http://HOST:PORT`); logs go to stderr.
 */
import { createServer } from 'node:http'
import express from 'express'
import { cliLogger, defaultLogFormat, type Level, type LogFormat } from './cli-logger.js'
import { parseConfig } from './config/cli-config.js'
import { helpText } from './config/help.js'
import { optionSettings } from './config/settings.js'
import { createWeft } from './weft.js'
import { leveldbStorage } from './storage/leveldb.js'
import { memoryStorage } from './storage/memory.js'
import { postgresStorage } from './storage/postgres.js'
import { defaultNodeId } from './cluster/index.js'
import { WeftOptionsError } from './errors.js'
import { version } from './version.js'
import { prepareDataDir } from './data-dir.js'

/** The CLI's settings, typed (what parseConfig checked against settings.ts). */
interface Flags {
  port: number
  host: string
  data: string
  memory: boolean
  postgres?: string
  redis?: string
  nodeId?: string
  logLevel: Level
  logFormat?: LogFormat
  authSecret?: string
  authJwks?: string
  webhook?: string[]
  webhookSecret?: string
  webhookContent: boolean
  webhookQuietMs?: number
  webhookMaxDelayMs?: number
}

async function main (): Promise<void> {
  let parsed
  try {
    parsed = parseConfig(process.argv.slice(2), process.env)
  } catch (err) {
    process.stderr.write(`weft: ${(err as Error).message}\nRun "weft --help" for the options.\n`)
    process.exit(2)
  }
  if (parsed.kind === 'help') { process.stdout.write(helpText(version) + '\n'); return }
  if (parsed.kind === 'version') { process.stdout.write(version + '\n'); return }
  const config = parsed.config
  const flags = config as unknown as Flags
  // The createWeft() options among the settings go to it as they are (checked again there).
  const options = Object.fromEntries(optionSettings.filter(o => config[o.name] !== undefined).map(o => [o.name, config[o.name]]))

  if (flags.memory && flags.postgres !== undefined) {
    process.stderr.write('weft: choose one of --memory and --postgres\n')
    process.exit(2)
  }
  if (flags.redis !== undefined && flags.postgres === undefined) {
    process.stderr.write('weft: --redis (cluster mode) needs --postgres: the nodes share their docs\' log there\n')
    process.exit(2)
  }
  if (flags.webhook === undefined && (flags.webhookSecret !== undefined || flags.webhookContent || flags.webhookQuietMs !== undefined || flags.webhookMaxDelayMs !== undefined)) {
    process.stderr.write('weft: the --webhook-… options need --webhook URL (WEFT_WEBHOOK)\n')
    process.exit(2)
  }
  if (flags.webhookSecret !== undefined && flags.webhookSecret.length < 16) {
    process.stderr.write('weft: --webhook-secret must be at least 16 characters\n')
    process.exit(2)
  }
  const webhooks = flags.webhook === undefined
    ? undefined
    : {
        urls: flags.webhook,
        content: flags.webhookContent,
        ...(flags.webhookSecret !== undefined ? { secret: flags.webhookSecret } : {}),
        ...(flags.webhookQuietMs !== undefined ? { quietMs: flags.webhookQuietMs } : {}),
        ...(flags.webhookMaxDelayMs !== undefined ? { maxDelayMs: flags.webhookMaxDelayMs } : {})
      }
  // In a cluster every log line and metric names its node.
  const nodeId = flags.redis !== undefined ? flags.nodeId ?? defaultNodeId() : flags.nodeId
  const cluster = flags.redis !== undefined ? { redis: flags.redis, nodeId } : undefined
  const logger = await cliLogger(flags.logLevel, flags.logFormat ?? defaultLogFormat(), nodeId)
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
    weft = await createWeft({ ...options, storage, logger, auth, cluster, nodeId, webhooks })
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
    logger.info({ version, url: `http://${host}:${port}`, storage: flags.memory ? 'memory' : flags.postgres !== undefined ? 'postgres' : 'leveldb', cluster: flags.redis !== undefined ? 'redis' : undefined, data: flags.memory || flags.postgres !== undefined ? undefined : flags.data, auth: flags.authSecret !== undefined ? 'hs256' : flags.authJwks !== undefined ? 'jwks' : 'off', set: parsed.from }, 'weft started')
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
