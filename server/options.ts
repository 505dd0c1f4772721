/**
 * The one options object, with documented defaults, validated once at start.
 */
import type { IncomingMessage } from 'node:http'
import type { Logger } from './logger.js'
import type { Storage } from './storage/types.js'
import type { Access } from './docs/broadcast.js'

/** What `authenticate` decides for a request: the access it gets and who it is (for logs). */
export interface Grant {
  access: Access
  user?: string
  /** Seconds since the epoch after which the session must end (4401). */
  expiresAt?: number
}

/** Thrown by `authenticate` to answer 401 (no or bad credentials) or 403 (not for this doc). */
export class AuthError extends Error {
  override name = 'AuthError'
  constructor (readonly status: 401 | 403, message: string) { super(message) }
}

export interface WeftOptions {
  /** Where docs live. @default leveldbStorage('./data') */
  storage?: Storage
  /** A pino-compatible logger. The library never prints. @default silent */
  logger?: Logger
  /**
   * Decides access per request and doc. Return a grant, or throw `AuthError`.
   * @default everyone may write (local use)
   */
  authenticate?: (req: IncomingMessage, doc: string) => Grant | Promise<Grant>
  /** Unload a doc this long after its last peer left (ms). @default 30000 */
  unloadAfterMs?: number
  /** Most docs in memory at once. @default 10000 */
  maxDocs?: number
  /** Largest incoming WebSocket message (bytes); bigger ones close with 1009. @default 16 MiB */
  maxMessageBytes?: number
  /** Outgoing bytes buffered per socket before it is closed with 4508. @default 16 MiB */
  maxBufferedBytes?: number
  /** Messages queued per connection while its doc loads. @default 1024 */
  maxQueuedMessages?: number
  /** Largest awareness state (JSON chars) per client. @default 64 KiB */
  maxAwarenessStateBytes?: number
  /** Longest doc name (chars). @default 512 */
  maxDocNameLength?: number
  /** WebSocket ping interval; a connection that misses one pong is dropped (ms). @default 30000 */
  pingIntervalMs?: number
  /** Compact a doc's stored log after this many appended records. @default 500 */
  compactAfterRecords?: number
  /** … or after this many appended bytes. @default 1 MiB */
  compactAfterBytes?: number
  /** Resume window kept in memory per doc: records. @default 10000 */
  historyRecords?: number
  /** Resume window kept in memory per doc: bytes. @default 8 MiB */
  historyBytes?: number
}

export type ResolvedOptions = Required<Omit<WeftOptions, 'storage' | 'logger' | 'authenticate'>> &
  Pick<WeftOptions, 'authenticate'> & { storage: Storage, logger: Logger }

export const defaults = {
  unloadAfterMs: 30_000,
  maxDocs: 10_000,
  maxMessageBytes: 16 * 1024 * 1024,
  maxBufferedBytes: 16 * 1024 * 1024,
  maxQueuedMessages: 1024,
  maxAwarenessStateBytes: 64 * 1024,
  maxDocNameLength: 512,
  pingIntervalMs: 30_000,
  compactAfterRecords: 500,
  compactAfterBytes: 1024 * 1024,
  historyRecords: 10_000,
  historyBytes: 8 * 1024 * 1024
} satisfies Partial<WeftOptions>

export class WeftOptionsError extends Error {
  override name = 'WeftOptionsError'
}

/** Checks every option and fills in defaults; throws one clear message naming the option. */
export function resolveOptions (options: WeftOptions, fallbackStorage: () => Storage, silent: Logger): ResolvedOptions {
  if (options == null || typeof options !== 'object') throw new WeftOptionsError('createWeft(options): options must be an object')
  const known = new Set([...Object.keys(defaults), 'storage', 'logger', 'authenticate'])
  for (const key of Object.keys(options)) {
    if (!known.has(key)) throw new WeftOptionsError(`unknown option "${key}" (known: ${[...known].sort().join(', ')})`)
  }
  const out: Record<string, unknown> = { ...defaults }
  for (const [key, def] of Object.entries(defaults)) {
    const value = (options as Record<string, unknown>)[key]
    if (value === undefined) continue
    if (typeof value !== typeof def || !Number.isFinite(value) || (value as number) <= 0) {
      throw new WeftOptionsError(`option "${key}" must be a positive number, got ${JSON.stringify(value)}`)
    }
    out[key] = value
  }
  if (options.authenticate !== undefined && typeof options.authenticate !== 'function') {
    throw new WeftOptionsError('option "authenticate" must be a function (req, doc) => grant')
  }
  const storage = options.storage ?? fallbackStorage()
  for (const method of ['open', 'load', 'append', 'replace', 'quarantine', 'delete', 'list', 'close'] as const) {
    if (typeof storage[method] !== 'function') throw new WeftOptionsError(`option "storage" must implement ${method}()`)
  }
  const logger = options.logger ?? silent
  for (const level of ['debug', 'info', 'warn', 'error'] as const) {
    if (typeof logger[level] !== 'function') throw new WeftOptionsError(`option "logger" must have a ${level}() method (pino-compatible)`)
  }
  return { ...(out as typeof defaults), authenticate: options.authenticate, storage, logger }
}
