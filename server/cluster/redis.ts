/**
 * The cluster's two kinds of Redis connection. Both reconnect by themselves (50 ms, doubling, at
 * most 2 s between tries); what they report while Redis is away goes to `onError`.
 *
 * - `commands`: XADD, PUBLISH, CLIENT UNBLOCK. They fail at once while Redis is away (no
 *   offline queue, no retry): a write must never wait for the bus.
 * - `listener`: XREAD BLOCK and SUBSCRIBE. Its commands wait for the reconnect, and a
 *   subscriber resubscribes by itself.
 */
import { Redis } from 'ioredis'

const retryStrategy = (attempt: number): number => Math.min(50 * 2 ** attempt, 2000)

export function redisConnection (url: string, kind: 'commands' | 'listener', onError: (err: Error) => void): Redis {
  const conn = kind === 'commands'
    ? new Redis(url, { retryStrategy, enableOfflineQueue: false, maxRetriesPerRequest: 0 })
    : new Redis(url, { retryStrategy, maxRetriesPerRequest: null })
  conn.on('error', onError)
  return conn
}
