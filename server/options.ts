/**
 * The one options object, with documented defaults, validated once at start.
 */
import type { IncomingMessage } from 'node:http'
import type { Logger } from './logger.js'
import type { Storage } from './storage/types.js'
import type { Grant } from './auth/grant.js'
import { WeftOptionsError } from './errors.js'
import type { ClusterOptions } from './cluster/index.js'
import { hookNames, type WeftHooks } from './hooks.js'
import { resolveWebhookOptions, type ResolvedWebhookOptions, type WebhookOptions } from './webhooks/options.js'
import type { AuthOptions } from './auth/jwt.js'
import { defaults } from './config/defaults.js'
import { expected, optionSettings, schemaOf } from './config/settings.js'

export interface WeftOptions {
  /**
   * Cluster mode: several nodes serve the same docs, sharing them through Redis
   * (server/cluster/). Needs a storage all nodes share that reports heads (PostgreSQL).
   * @default off (one node)
   */
  cluster?: ClusterOptions
  /**
   * Your code at the points of a doc's and a session's life (server/hooks.ts), run in list order:
   * `beforeUpdate` may refuse an update; `onConnect`, `onDisconnect`, `onChange`, `onLoad`,
   * `onUnload` observe. @default none
   */
  hooks?: WeftHooks[]
  /**
   * `onChange` hooks hear of a doc's stored changes once no new change came for this long (ms)…
   * @default 2000
   */
  changeDebounceMs?: number
  /** … or at the latest this long after the first change of a burst (ms), while changes go on. @default 10000 (or `changeDebounceMs`, if longer) */
  changeMaxDelayMs?: number
  /**
   * POST doc events (`changed`, debounced; `created`, `deleted`, `restored`) to these URLs,
   * signed, retried, kept in storage until accepted (server/webhooks/). @default off
   */
  webhooks?: WebhookOptions
  /** This node's name: a `node` label on every metric (and the cluster's node id). @default none; in a cluster `<hostname>-<pid>` */
  nodeId?: string
  /** Where docs live. @default leveldbStorage('./data') */
  storage?: Storage
  /** A pino-compatible logger. The library never prints. @default silent */
  logger?: Logger
  /**
   * Decides access per request and doc. Return a grant, or throw `AuthError` (null → 401).
   * The alternative to `auth`; pass one or the other.
   * @default everyone may write (local use)
   */
  authenticate?: (req: IncomingMessage, doc: string) => Grant | null | Promise<Grant | null>
  /**
   * JWT access on every transport (see server/auth/jwt.ts): `{ secret }` for HS256, `{ jwks }`
   * (object, file path or URL) for RS256/ES256. Claims `docs`, `access`, `exp`, `sub`.
   * @default off (everyone may write)
   */
  auth?: AuthOptions
  /**
   * Origins allowed to connect from a browser (`https://app.example`); requests carrying another
   * `Origin` get 403 on upgrades, SSE, POST and every other route. `['*']` allows all. A token
   * from the `weft_token` cookie is accepted only from the server's own origin or a listed one
   * (`*` never counts for a cookie): the browser sends cookies on other sites' requests too.
   * @default any origin (with a cookie token: the server's own origin only)
   */
  allowedOrigins?: string[]
  /** Most WebSocket connections in total; one more is refused with HTTP 429. @default 10000 */
  maxConnections?: number
  /**
   * Most WebSocket connections from one IP address (HTTP 429 beyond). The address is the socket
   * peer: behind a reverse proxy every client shares the proxy's, so the default does not bind
   * below `maxConnections`; lower it when clients connect directly. @default 10000
   */
  maxConnectionsPerIp?: number
  /** Most WebSocket connections on one doc (HTTP 429 beyond). @default 5000 */
  maxConnectionsPerDoc?: number
  /**
   * Sustained messages per second per WebSocket connection (token bucket). Beyond it the server
   * stops reading the connection until the bucket refills (backpressure, nothing lost). @default 100
   */
  maxMessagesPerSecond?: number
  /** Burst size of that token bucket: messages a connection may send at once. @default 300 */
  messageBurst?: number
  /**
   * A WebSocket connection kept over its message rate this long without a break (its bucket
   * never refills) is closed with 4529, a transient code: a stock provider reconnects after its
   * backoff and resyncs in one message. Longer than the stock provider's 30 s silence watchdog
   * would be pointless. @default 30000
   */
  maxThrottledMs?: number
  /** Most SSE streams and pending long polls from one IP address (HTTP 429 beyond; same caveat). @default 10000 */
  maxObserversPerIp?: number
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
  /** Largest awareness state per client (UTF-8 bytes of its JSON). @default 64 KiB */
  maxAwarenessStateBytes?: number
  /**
   * Most awareness client ids one connection (or HTTP session) may hold at once; claiming more
   * closes it with 4413 (HTTP 413). A stock provider holds one, plus the states of its other
   * tabs of the same doc that it relays (BroadcastChannel); echoes of others' states never
   * count. @default 16
   */
  maxPresenceIdsPerConnection?: number
  /**
   * Most bytes of awareness state (UTF-8 JSON) one connection may hold, its ids together
   * (4413 / 413 beyond). At least `maxAwarenessStateBytes`. @default 64 KiB
   */
  maxPresenceBytesPerConnection?: number
  /**
   * Most bytes of awareness state one doc holds, everyone together: what a joiner is sent at
   * once. A state that would pass it is refused with 4529 (HTTP 429), a transient code. At
   * least `maxPresenceBytesPerConnection`; keep it well under `maxBufferedBytes`. @default 4 MiB
   */
  maxPresenceBytesPerDoc?: number
  /**
   * Let read-only sessions set presence (show viewers as present). Off, their awareness is
   * ignored (WebSocket: silently; POST: 204): a read token is often a share link handed to
   * many, and presence is the one thing it could otherwise put in front of every editor.
   * @default false
   */
  readOnlyPresence?: boolean
  /**
   * Presence changes of one doc that arrive within one window go out together, as one awareness
   * message with each changed client's newest state (0: each change at once). The window is this
   * many ms per 8 peers of the doc, at most 5 times it (docs/presence-window.ts). @default 20
   */
  presenceCoalesceMs?: number
  /** Longest doc name (chars). @default 512 */
  maxDocNameLength?: number
  /** WebSocket ping interval; a connection that misses one pong is dropped (ms). @default 30000 */
  pingIntervalMs?: number
  /** Compact a doc's stored log after this many appended records. @default 500 */
  compactAfterRecords?: number
  /** … or after this many bytes appended since the last compaction (the doc's size does not count). @default 1 MiB */
  compactAfterBytes?: number
  /** Resume window kept in memory per doc: records. @default 10000 */
  historyRecords?: number
  /** Resume window kept in memory per doc: bytes. @default 8 MiB */
  historyBytes?: number
  /** An HTTP-only editor session (SSE + POST, long poll) idle this long leaves its doc, awareness removed (ms). @default 30000 */
  httpSessionIdleMs?: number
  /** Most HTTP-only editor sessions at once (over it: 429). @default 10000 */
  maxHttpSessions?: number
  /**
   * Most HTTP-only editor sessions created from one IP address (429 beyond), so one client
   * cannot take the whole `maxHttpSessions` table. Same proxy caveat as `maxConnectionsPerIp`.
   * @default 1000
   */
  maxHttpSessionsPerIp?: number
  /**
   * Requests per second to the doc routes (`/docs/:doc…`, `/view/:doc`) from one IP address, a
   * token bucket with a burst of 3× (429 with `Retry-After` beyond). Requests that name an HTTP
   * session also spend that session's `maxMessagesPerSecond` / `messageBurst` budget, as a
   * WebSocket's messages do. Same proxy caveat as `maxConnectionsPerIp`. @default 1000
   */
  maxRequestsPerSecondPerIp?: number
  /**
   * Docs with no content (nobody wrote them yet) that the SSE streams and held polls of one IP
   * address may keep open (429 beyond). Any name is a valid doc, so without it one reader could
   * fill `maxDocs` with made-up names; a dashboard watching a doc before its first editor counts
   * one. Snapshots of such docs are answered without loading them. @default 100
   */
  maxEmptyDocsPerIp?: number
  /**
   * Serve the newcomer pages: the home page (`/`) and the live editor (`/edit/:doc`) with its
   * bundle (`/ui/assets/*`). Turn off in production (`--no-ui`); `/view/:doc` stays (it is an
   * observer feature, behind auth like SSE). @default true
   */
  ui?: boolean
  /**
   * Admin credential for `GET /docs` (as `Authorization: Bearer …` or `?token=`). Without auth
   * and without this, `/docs` is open (local use); with auth on, `/docs` needs it (or a JWT
   * with an `admin: true` claim). @default none
   */
  adminToken?: string
  /** SSE: a `: keepalive` comment on every stream this often, so idle proxies keep it (ms). @default 15000 */
  sseKeepaliveMs?: number
  /** SSE: the `retry:` EventSource waits before reconnecting (ms). @default 2000 */
  sseRetryMs?: number
  /**
   * SSE: unsent bytes an observer's socket may hold before the stream is cut; it resumes by
   * cursor. Bounds memory per slow observer. @default 1 MiB
   */
  sseMaxBufferedBytes?: number
  /** SSE `?view=json`: at most one JSON `content` per interval per doc; always current after a burst (ms). @default 100 */
  jsonIntervalMs?: number
  /**
   * Versions (docs/versions.ts): an automatic version of a doc once edits stored by this node
   * pause this long (ms); 0 turns this trigger off. Skipped when the content equals the newest
   * version's. @default 60000
   */
  versionQuietMs?: number
  /** … and at least this often while edits go on without a pause (ms; 0: off; both 0: no automatic versions). @default 600000 */
  versionIntervalMs?: number
  /** Automatic versions kept per doc, oldest pruned first; versions taken on demand are kept. @default 50 */
  maxAutoVersions?: number
  /**
   * Origins whose pages may read the SSE stream and snapshots cross-origin (CORS). A listed
   * origin is echoed with credentials; `['*']` lets any page read without credentials.
   * @default `allowedOrigins` when set; else `['*']` without auth, [] (same-origin only) with auth
   */
  corsOrigins?: string[]
}

export type ResolvedOptions = Required<Omit<WeftOptions, 'storage' | 'logger' | 'authenticate' | 'auth' | 'allowedOrigins' | 'adminToken' | 'corsOrigins' | 'cluster' | 'nodeId' | 'hooks' | 'changeDebounceMs' | 'changeMaxDelayMs' | 'webhooks'>> &
  Pick<WeftOptions, 'authenticate' | 'auth' | 'adminToken' | 'cluster' | 'nodeId'> & { hooks: WeftHooks[], changeDebounceMs: number, changeMaxDelayMs: number, webhooks: ResolvedWebhookOptions | undefined } & { storage: Storage, logger: Logger, allowedOrigins: string[] | null, corsOrigins: string[] }

export { defaults } from './config/defaults.js'
// Where embedders and older code found them; they live with access control and the error rules.
export { AuthError, type Grant } from './auth/grant.js'
export { WeftOptionsError } from './errors.js'

/** Checks every option and fills in defaults; throws one clear message naming the option. */
export function resolveOptions (options: WeftOptions, fallbackStorage: () => Storage, silent: Logger): ResolvedOptions {
  if (options == null || typeof options !== 'object') throw new WeftOptionsError('createWeft(options): options must be an object')
  const known = new Set([...optionSettings.map(o => o.name), 'storage', 'logger', 'authenticate', 'auth', 'cluster', 'nodeId', 'hooks', 'changeDebounceMs', 'changeMaxDelayMs', 'webhooks'])
  for (const key of Object.keys(options)) {
    if (!known.has(key)) throw new WeftOptionsError(`unknown option "${key}" (known: ${[...known].sort().join(', ')})`)
  }
  // The scalar options: one schema per option (config/settings.ts), the same the CLI checks with.
  const out: Record<string, unknown> = { ...defaults }
  for (const setting of optionSettings) {
    const value = (options as Record<string, unknown>)[setting.name]
    if (value === undefined) continue
    if (!schemaOf(setting).safeParse(value).success) throw new WeftOptionsError(`option "${setting.name}" must be ${expected(setting)}, got ${JSON.stringify(value)}`)
    out[setting.name] = value
  }
  if (options.authenticate !== undefined && typeof options.authenticate !== 'function') {
    throw new WeftOptionsError('option "authenticate" must be a function (req, doc) => grant')
  }
  if (options.authenticate !== undefined && options.auth !== undefined) {
    throw new WeftOptionsError('pass either "auth" (JWT) or "authenticate" (your own check), not both')
  }
  const origins = options.allowedOrigins
  if (origins !== undefined && (!Array.isArray(origins) || origins.length === 0 || !origins.every(o => typeof o === 'string' && o !== ''))) {
    throw new WeftOptionsError('option "allowedOrigins" must be a non-empty list of origins such as ["https://app.example"]')
  }
  const storage = options.storage ?? fallbackStorage()
  for (const method of ['open', 'load', 'append', 'replace', 'quarantine', 'delete', 'list', 'close'] as const) {
    if (typeof storage[method] !== 'function') throw new WeftOptionsError(`option "storage" must implement ${method}()`)
  }
  const logger = options.logger ?? silent
  for (const level of ['debug', 'info', 'warn', 'error'] as const) {
    if (typeof logger[level] !== 'function') throw new WeftOptionsError(`option "logger" must have a ${level}() method (pino-compatible)`)
  }
  // Otherwise one valid state, or one connection's, would be refused as too much presence.
  const presence = out as Pick<typeof defaults, 'maxAwarenessStateBytes' | 'maxPresenceBytesPerConnection' | 'maxPresenceBytesPerDoc'>
  if (presence.maxPresenceBytesPerConnection < presence.maxAwarenessStateBytes) {
    throw new WeftOptionsError(`option "maxPresenceBytesPerConnection" (${presence.maxPresenceBytesPerConnection}) must be at least "maxAwarenessStateBytes" (${presence.maxAwarenessStateBytes})`)
  }
  if (presence.maxPresenceBytesPerDoc < presence.maxPresenceBytesPerConnection) {
    throw new WeftOptionsError(`option "maxPresenceBytesPerDoc" (${presence.maxPresenceBytesPerDoc}) must be at least "maxPresenceBytesPerConnection" (${presence.maxPresenceBytesPerConnection})`)
  }
  if (options.adminToken !== undefined && (typeof options.adminToken !== 'string' || options.adminToken.length < 16)) {
    throw new WeftOptionsError('option "adminToken" must be a string of at least 16 characters (it guards the doc list)')
  }
  // Pages of an allowed origin may connect; by default they may also read the HTTP answers.
  // Without auth any page may read (`['*']`, no credentials): a server without auth already
  // lets anyone connect over WebSocket, which CORS does not cover, so hiding the HTTP answers
  // from other origins protected nothing and only broke dashboards on their own origin. With
  // auth on, reads carry tokens, so only listed origins (by default the allowed ones) may read.
  const authOn = options.auth !== undefined || options.authenticate !== undefined
  const cors = options.corsOrigins ?? origins ?? (authOn ? [] : ['*'])
  if (!Array.isArray(cors) || !cors.every(o => typeof o === 'string' && o !== '')) {
    throw new WeftOptionsError('option "corsOrigins" must be a list of origins such as ["https://dash.example"] or ["*"]')
  }
  const cluster = options.cluster
  if (cluster !== undefined) {
    if (cluster === null || typeof cluster !== 'object' || typeof cluster.redis !== 'string' || cluster.redis === '') throw new WeftOptionsError('option "cluster" must be { redis: "redis://host:port", nodeId?: string }')
    if (storage.heads === undefined) throw new WeftOptionsError(`option "cluster" needs a storage every node shares that reports its heads (postgresStorage), not ${storage.kind}`)
  }
  if (options.nodeId !== undefined && (typeof options.nodeId !== 'string' || !/^[\w.:-]{1,64}$/.test(options.nodeId))) throw new WeftOptionsError('option "nodeId" must be 1-64 characters of letters, digits, _ . : -')
  const hooks = options.hooks ?? []
  if (!Array.isArray(hooks) || !hooks.every(h => h !== null && typeof h === 'object')) throw new WeftOptionsError('option "hooks" must be a list of objects with hook functions (onConnect, beforeUpdate, …)')
  for (const h of hooks) {
    for (const [name, fn] of Object.entries(h)) {
      if (!(hookNames as readonly string[]).includes(name)) throw new WeftOptionsError(`option "hooks": unknown hook "${name}" (known: ${hookNames.join(', ')})`)
      if (typeof fn !== 'function') throw new WeftOptionsError(`option "hooks": ${name} must be a function`)
    }
  }
  const changeDebounceMs = options.changeDebounceMs ?? 2000
  if (!Number.isInteger(changeDebounceMs) || changeDebounceMs < 0) throw new WeftOptionsError('option "changeDebounceMs" must be a whole number of ms ≥ 0')
  const changeMaxDelayMs = options.changeMaxDelayMs ?? Math.max(10_000, changeDebounceMs)
  if (!Number.isInteger(changeMaxDelayMs) || changeMaxDelayMs < changeDebounceMs) throw new WeftOptionsError(`option "changeMaxDelayMs" must be a whole number of ms ≥ "changeDebounceMs" (${changeDebounceMs})`)
  const webhooks = options.webhooks !== undefined ? resolveWebhookOptions(options.webhooks) : undefined
  return { ...(out as typeof defaults), hooks, changeDebounceMs, changeMaxDelayMs, webhooks, cluster, nodeId: options.nodeId ?? cluster?.nodeId, corsOrigins: cors, authenticate: options.authenticate, auth: options.auth, allowedOrigins: origins ?? null, storage, logger, adminToken: options.adminToken }
}
