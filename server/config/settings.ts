/**
 * Every setting the CLI takes, in one table: its flag, environment variable, config-file key,
 * type, bounds, default and one line of help. The CLI's parser, its `--help`, the README's
 * options table and the validation of `createWeft()`'s scalar options are all made from it, so
 * none of them can drift from the others (test/ops/config.test.ts compares the README).
 *
 * `option: true` settings are `createWeft()` options of the same name; the others (port,
 * storage, auth keys, logging) are the CLI's own and become options through cli.ts.
 */
import { z } from 'zod'
import { defaults } from './defaults.js'
import { isHttpUrl } from '../webhooks/options.js'

export type SettingType = 'int' | 'boolean' | 'string' | 'list' | 'enum'

export interface Setting {
  /** The option / config-file key (camelCase). */
  name: string
  type: SettingType
  /** For `enum`. */
  values?: readonly string[]
  /** For `int`: inclusive bounds (default: 1 and unbounded). */
  min?: number
  max?: number
  /** Shown in help and README, and used when nothing sets it (`undefined`: unset). */
  default?: string | number | boolean
  /** How the default is shown, when not the value itself. */
  shownDefault?: string
  section: Section
  /** One line: what it does. */
  help: string
  /** A `createWeft()` option of the same name. */
  option?: boolean
  /** For a boolean that is on by default: the flag that turns it off (`--no-ui`). */
  offFlag?: string
  /** For a list: an empty list is a meaningful value. */
  emptyOk?: boolean
  /** For a list: the flag may be given again for each value (the variable: comma- or space-separated). */
  repeatable?: boolean
  /** For a list: each value is an http(s) URL. */
  urls?: boolean
}

export const sections = ['Server', 'Access control', 'Limits', 'Presence', 'Docs and observers', 'Webhooks'] as const
export type Section = typeof sections[number]

type NumericDefault = { [K in keyof typeof defaults]: typeof defaults[K] extends number ? K : never }[keyof typeof defaults]
const num = (name: NumericDefault): number => defaults[name]

export const settings: readonly Setting[] = [
  // Server
  { name: 'port', type: 'int', min: 0, max: 65535, default: 1234, section: 'Server', help: 'port to listen on (0: any free port)' },
  { name: 'host', type: 'string', default: '127.0.0.1', section: 'Server', help: 'address to bind (0.0.0.0 for all interfaces)' },
  { name: 'data', type: 'string', default: './data', section: 'Server', help: 'LevelDB directory (created if missing)' },
  { name: 'memory', type: 'boolean', default: false, section: 'Server', help: 'keep docs in memory only (lost on exit)' },
  { name: 'postgres', type: 'string', section: 'Server', help: 'store docs in PostgreSQL at this URL instead' },
  { name: 'redis', type: 'string', section: 'Server', help: 'cluster mode: nodes share docs through Redis at this URL (needs --postgres)' },
  { name: 'nodeId', type: 'string', shownDefault: '<hostname>-<pid>', section: 'Server', help: 'this node\'s name in logs, metrics and the cluster' },
  { name: 'logLevel', type: 'enum', values: ['debug', 'info', 'warn', 'error'], default: 'warn', section: 'Server', help: 'least severe log lines written (stderr)' },
  { name: 'logFormat', type: 'enum', values: ['json', 'pretty'], shownDefault: 'pretty on a terminal, json otherwise', section: 'Server', help: 'pino JSON lines, or short readable lines' },
  { name: 'ui', type: 'boolean', default: defaults.ui, offFlag: 'no-ui', option: true, section: 'Server', help: 'the home page (/) and the editor (/edit/:doc); --no-ui (WEFT_UI=0) leaves them out, for production (/view/:doc stays, behind auth)' },
  { name: 'adminToken', type: 'string', option: true, section: 'Server', help: 'credential for GET /docs (≥ 16 chars); with auth on, /docs needs it or an admin JWT' },
  // Access control
  { name: 'authSecret', type: 'string', section: 'Access control', help: 'require HS256 JWTs signed with this secret (≥ 32 chars)' },
  { name: 'authJwks', type: 'string', section: 'Access control', help: 'require RS256/ES256 JWTs verified with these public keys (file or URL)' },
  { name: 'allowedOrigins', type: 'list', option: true, shownDefault: 'any', section: 'Access control', help: 'browser origins allowed to connect (Origin header); others get 403' },
  { name: 'corsOrigins', type: 'list', emptyOk: true, option: true, shownDefault: 'allowedOrigins; else * without auth, none with auth', section: 'Access control', help: 'pages that may read streams and snapshots cross-origin ("*": any, without credentials)' },
  // Limits
  { name: 'maxConnections', type: 'int', default: num('maxConnections'), option: true, section: 'Limits', help: 'WebSocket connections in total (429 beyond)' },
  { name: 'maxConnectionsPerIp', type: 'int', default: num('maxConnectionsPerIp'), option: true, section: 'Limits', help: '… from one address (behind a proxy all clients share its address)' },
  { name: 'maxConnectionsPerDoc', type: 'int', default: num('maxConnectionsPerDoc'), option: true, section: 'Limits', help: '… on one doc' },
  { name: 'maxObserversPerIp', type: 'int', default: num('maxObserversPerIp'), option: true, section: 'Limits', help: 'SSE streams and held polls from one address' },
  { name: 'maxMessagesPerSecond', type: 'int', default: num('maxMessagesPerSecond'), option: true, section: 'Limits', help: 'per WebSocket connection or HTTP session (burst: messageBurst); over it a WebSocket is read more slowly' },
  { name: 'messageBurst', type: 'int', default: num('messageBurst'), shownDefault: '3 × maxMessagesPerSecond', option: true, section: 'Limits', help: 'messages a connection may send at once' },
  { name: 'maxThrottledMs', type: 'int', default: num('maxThrottledMs'), option: true, section: 'Limits', help: 'over its rate this long without a break: closed with 4529 (it reconnects)' },
  { name: 'maxRequestsPerSecondPerIp', type: 'int', default: num('maxRequestsPerSecondPerIp'), option: true, section: 'Limits', help: 'requests to the doc routes from one address (burst 3×; 429 + Retry-After)' },
  { name: 'maxMessageBytes', type: 'int', default: num('maxMessageBytes'), option: true, section: 'Limits', help: 'largest incoming message or update (1009 / 413 beyond)' },
  { name: 'maxBufferedBytes', type: 'int', default: num('maxBufferedBytes'), option: true, section: 'Limits', help: 'outgoing bytes queued per socket before it is closed with 4508' },
  { name: 'maxQueuedMessages', type: 'int', default: num('maxQueuedMessages'), option: true, section: 'Limits', help: 'messages queued per connection while its doc loads' },
  { name: 'maxDocs', type: 'int', default: num('maxDocs'), option: true, section: 'Limits', help: 'docs in memory at once (4529 / 429 beyond)' },
  { name: 'maxEmptyDocsPerIp', type: 'int', default: num('maxEmptyDocsPerIp'), option: true, section: 'Limits', help: 'docs nobody wrote yet that one address\'s readers hold open' },
  { name: 'maxHttpSessions', type: 'int', default: num('maxHttpSessions'), option: true, section: 'Limits', help: 'HTTP-only editor sessions (SSE + POST, long poll) at once' },
  { name: 'maxHttpSessionsPerIp', type: 'int', default: num('maxHttpSessionsPerIp'), option: true, section: 'Limits', help: '… created from one address' },
  { name: 'httpSessionIdleMs', type: 'int', default: num('httpSessionIdleMs'), option: true, section: 'Limits', help: 'an idle HTTP editor session leaves its doc after this long (ms)' },
  { name: 'maxDocNameLength', type: 'int', default: num('maxDocNameLength'), option: true, section: 'Limits', help: 'longest doc name (characters)' },
  { name: 'pingIntervalMs', type: 'int', default: num('pingIntervalMs'), option: true, section: 'Limits', help: 'WebSocket ping; a connection that misses one pong is dropped (ms)' },
  // Presence
  { name: 'maxAwarenessStateBytes', type: 'int', default: num('maxAwarenessStateBytes'), option: true, section: 'Presence', help: 'largest awareness state of one client (UTF-8 bytes of its JSON)' },
  { name: 'maxPresenceIdsPerConnection', type: 'int', default: num('maxPresenceIdsPerConnection'), option: true, section: 'Presence', help: 'awareness client ids one connection may claim (4413 / 413 beyond)' },
  { name: 'maxPresenceBytesPerConnection', type: 'int', default: num('maxPresenceBytesPerConnection'), option: true, section: 'Presence', help: 'bytes of presence one connection may hold (4413 / 413 beyond)' },
  { name: 'maxPresenceBytesPerDoc', type: 'int', default: num('maxPresenceBytesPerDoc'), option: true, section: 'Presence', help: 'presence of one doc, everyone together (a newcomer\'s state waits for room)' },
  { name: 'readOnlyPresence', type: 'boolean', default: defaults.readOnlyPresence, option: true, section: 'Presence', help: 'read tokens may set presence (show viewers as present)' },
  { name: 'presenceCoalesceMs', type: 'int', min: 0, max: 1000, default: num('presenceCoalesceMs'), option: true, section: 'Presence', help: 'presence changes of a doc within this window (per 8 peers, at most 5×) go out as one message (0: off)' },
  // Docs and observers
  { name: 'unloadAfterMs', type: 'int', default: num('unloadAfterMs'), option: true, section: 'Docs and observers', help: 'unload a doc this long after its last peer left (ms)' },
  { name: 'compactAfterRecords', type: 'int', default: num('compactAfterRecords'), option: true, section: 'Docs and observers', help: 'compact a doc\'s stored log after this many appended records' },
  { name: 'compactAfterBytes', type: 'int', default: num('compactAfterBytes'), option: true, section: 'Docs and observers', help: '… or this many bytes appended since the last compaction' },
  { name: 'historyRecords', type: 'int', default: num('historyRecords'), option: true, section: 'Docs and observers', help: 'resume window kept in memory per doc: records' },
  { name: 'historyBytes', type: 'int', default: num('historyBytes'), option: true, section: 'Docs and observers', help: 'resume window kept in memory per doc: bytes' },
  { name: 'sseKeepaliveMs', type: 'int', default: num('sseKeepaliveMs'), option: true, section: 'Docs and observers', help: 'a keepalive comment on every idle SSE stream this often (ms)' },
  { name: 'sseRetryMs', type: 'int', default: num('sseRetryMs'), option: true, section: 'Docs and observers', help: 'the retry: EventSource waits before reconnecting (ms)' },
  { name: 'sseMaxBufferedBytes', type: 'int', default: num('sseMaxBufferedBytes'), option: true, section: 'Docs and observers', help: 'unsent bytes an SSE observer may hold before it is cut (it resumes)' },
  { name: 'jsonIntervalMs', type: 'int', default: num('jsonIntervalMs'), option: true, section: 'Docs and observers', help: 'at most one JSON content per interval per doc on ?view=json streams (ms)' },
  { name: 'versionQuietMs', type: 'int', min: 0, default: num('versionQuietMs'), option: true, section: 'Docs and observers', help: 'automatic version of a doc once its edits pause this long (ms; 0: off)' },
  { name: 'versionIntervalMs', type: 'int', min: 0, default: num('versionIntervalMs'), option: true, section: 'Docs and observers', help: '… and at least this often while edits go on (ms; 0: off; both 0: no automatic versions)' },
  { name: 'maxAutoVersions', type: 'int', default: num('maxAutoVersions'), option: true, section: 'Docs and observers', help: 'automatic versions kept per doc (oldest pruned; named ones are kept)' },
  // Webhooks (server/webhooks/; createWeft's `webhooks` option has the rest: retries, timeouts, …)
  { name: 'webhook', type: 'list', repeatable: true, urls: true, section: 'Webhooks', help: 'POST doc events (changed, created, deleted, restored) to this http(s) URL; repeat the flag for more (the variable: a comma/space list)' },
  { name: 'webhookSecret', type: 'string', section: 'Webhooks', help: 'sign each request: HMAC-SHA256 in the Weft-Signature header (≥ 16 chars)' },
  { name: 'webhookContent', type: 'boolean', default: false, section: 'Webhooks', help: 'put the doc\'s JSON view in changed events' },
  { name: 'webhookQuietMs', type: 'int', min: 0, shownDefault: '2000', section: 'Webhooks', help: 'a doc\'s changed event goes out once it had no change for this long (ms)' },
  { name: 'webhookMaxDelayMs', type: 'int', min: 0, shownDefault: '10000', section: 'Webhooks', help: '… or this long after the first change of a burst, while typing goes on (ms)' }
]

/** `maxDocs` → `max-docs`. */
export const flagOf = (s: Setting): string => s.name.replace(/[A-Z]/g, c => `-${c.toLowerCase()}`)

/** `maxDocs` → `WEFT_MAX_DOCS`; `port` and `host` keep the names every platform sets. */
export const envOf = (s: Setting): string => s.name === 'port' ? 'PORT' : s.name === 'host' ? 'HOST' : `WEFT_${flagOf(s).toUpperCase().replace(/-/g, '_')}`

/** What a value must be, in words, for error messages. */
export function expected (s: Setting): string {
  switch (s.type) {
    case 'int': {
      const min = s.min ?? 1
      return s.max !== undefined ? `a whole number from ${min} to ${s.max}` : `a whole number of at least ${min}`
    }
    case 'boolean': return 'true or false'
    case 'enum': return `one of ${s.values!.join(', ')}`
    case 'list': return s.urls === true ? 'http(s) URLs such as https://hooks.example/weft' : 'a list of origins such as https://app.example (comma-separated on the command line)'
    case 'string': return 'a non-empty string'
  }
}

/** The zod schema of one setting's (typed) value. */
export function schemaOf (s: Setting): z.ZodType {
  switch (s.type) {
    case 'int': {
      const n = z.number().int().min(s.min ?? 1)
      return s.max !== undefined ? n.max(s.max) : n
    }
    case 'boolean': return z.boolean()
    case 'enum': return z.enum(s.values as [string, ...string[]])
    case 'list': return z.array(s.urls === true ? z.string().refine(isHttpUrl) : z.string().min(1)).min(s.emptyOk === true ? 0 : 1)
    case 'string': return z.string().min(1)
  }
}

/** One schema for the scalar `createWeft()` options: what `resolveOptions` validates with. */
export const optionSettings = settings.filter(s => s.option === true)
