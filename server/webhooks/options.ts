/**
 * `createWeft({ webhooks })`: where doc events are POSTed, how they are debounced, signed and
 * retried. Validated once at start (resolveOptions), with one message naming the bad field.
 */
import { z } from 'zod'
import { WeftOptionsError } from '../errors.js'

export interface WebhookOptions {
  /**
   * Where every event is POSTed: http(s) URLs. They are the operator's configuration, so any
   * host works, loopback and private addresses included (a sidecar); nothing filters them.
   */
  urls: string[]
  /**
   * Key of the HMAC-SHA256 signature in the `Weft-Signature` header (at least 16 characters).
   * @default none: requests are not signed
   */
  secret?: string
  /** A doc's `changed` event goes out once it has had no new record for this long (ms). @default 2000 */
  quietMs?: number
  /** … and at the latest this long after the first change of a burst (ms), even while typing goes on. @default 10000 (or `quietMs`, if longer) */
  maxDelayMs?: number
  /** Put the doc's JSON view (`content`, `types`: docs/json-view.ts) in `changed` events. @default false */
  content?: boolean
  /** One attempt's time limit (ms); a receiver slower than that is retried. @default 10000 */
  timeoutMs?: number
  /** Most requests in flight at once, all URLs together. @default 8 */
  concurrency?: number
  /** The first retry comes after about this long (ms); each next one waits twice as long (with jitter). @default 1000 */
  retryMinMs?: number
  /** … but never longer than this between two attempts (ms). @default 3600000 (1 h) */
  retryMaxMs?: number
  /** Attempts of one delivery before it is dropped (logged, counted). @default 30 */
  maxAttempts?: number
  /** A delivery not accepted this long after its event is dropped (ms). @default 86400000 (24 h) */
  maxAgeMs?: number
  /** Most deliveries waiting; past it the oldest is dropped (logged, counted). @default 10000 */
  maxPending?: number
  /** On close, deliveries due are tried for up to this long (ms); the rest go out after the next start. @default 2000 */
  drainMs?: number
}

export type ResolvedWebhookOptions = Required<Omit<WebhookOptions, 'secret'>> & { secret: string | undefined }

export const webhookDefaults = {
  quietMs: 2000,
  maxDelayMs: 10_000,
  content: false,
  timeoutMs: 10_000,
  concurrency: 8,
  retryMinMs: 1000,
  retryMaxMs: 3_600_000,
  maxAttempts: 30,
  maxAgeMs: 86_400_000,
  maxPending: 10_000,
  drainMs: 2000
} as const

/** Whether `text` is an absolute http: or https: URL. */
export function isHttpUrl (text: string): boolean {
  try {
    const u = new URL(text)
    return (u.protocol === 'http:' || u.protocol === 'https:') && u.hostname !== ''
  } catch {
    return false
  }
}

const ms = (min: number): z.ZodNumber => z.number({ message: 'must be a number' }).int('must be a whole number').min(min, `must be at least ${min}`)

const schema = z.object({
  urls: z.array(z.string().refine(isHttpUrl, { error: iss => `must be http(s) URLs, got ${JSON.stringify(iss.input)}` }), { message: 'must be a list of http(s) URLs' }).min(1, 'must hold at least one URL'),
  secret: z.string({ message: 'must be a string' }).min(16, 'must be at least 16 characters').optional(),
  quietMs: ms(0).optional(),
  maxDelayMs: ms(0).optional(),
  content: z.boolean({ message: 'must be true or false' }).optional(),
  timeoutMs: ms(1).optional(),
  concurrency: ms(1).max(1000, 'must be at most 1000').optional(),
  retryMinMs: ms(1).optional(),
  retryMaxMs: ms(1).optional(),
  maxAttempts: ms(1).optional(),
  maxAgeMs: ms(1).optional(),
  maxPending: ms(1).optional(),
  drainMs: ms(0).optional()
}).strict()

/** Checks `webhooks` and fills in the defaults; throws a WeftOptionsError naming the field. */
export function resolveWebhookOptions (options: unknown): ResolvedWebhookOptions {
  if (options === null || typeof options !== 'object' || Array.isArray(options)) {
    throw new WeftOptionsError('option "webhooks" must be an object such as { urls: ["https://hooks.example/weft"], secret: "…" }')
  }
  const parsed = schema.safeParse(options)
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!
    if (issue.code === 'unrecognized_keys') throw new WeftOptionsError(`option "webhooks": unknown key "${issue.keys[0]}" (known: ${Object.keys(schema.shape).join(', ')})`)
    const field = issue.path.filter(p => typeof p === 'string').join('.')
    throw new WeftOptionsError(`option "webhooks.${field}" ${issue.message}`)
  }
  const out: ResolvedWebhookOptions = { ...webhookDefaults, ...parsed.data, secret: parsed.data.secret }
  // A longer quiet period alone moves the default longest delay along with it.
  if (parsed.data.maxDelayMs === undefined) out.maxDelayMs = Math.max(out.maxDelayMs, out.quietMs)
  if (out.maxDelayMs < out.quietMs) throw new WeftOptionsError(`option "webhooks.maxDelayMs" (${out.maxDelayMs}) must be at least "webhooks.quietMs" (${out.quietMs})`)
  if (out.retryMaxMs < out.retryMinMs) throw new WeftOptionsError(`option "webhooks.retryMaxMs" (${out.retryMaxMs}) must be at least "webhooks.retryMinMs" (${out.retryMinMs})`)
  return out
}
