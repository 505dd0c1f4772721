/**
 * The defaults of `createWeft()`'s scalar options (documented with each option in options.ts;
 * listed with flags and help in settings.ts).
 */
import { defaultPresenceLimits } from '../docs/presence.js'
import { defaultPresenceCoalesceMs } from '../docs/presence-window.js'

export const defaults = {
  ui: true,
  readOnlyPresence: false,
  presenceCoalesceMs: defaultPresenceCoalesceMs,
  unloadAfterMs: 30_000,
  maxDocs: 10_000,
  maxMessageBytes: 16 * 1024 * 1024,
  maxBufferedBytes: 16 * 1024 * 1024,
  maxQueuedMessages: 1024,
  maxAwarenessStateBytes: 64 * 1024,
  maxPresenceIdsPerConnection: defaultPresenceLimits.maxPresenceIdsPerConnection,
  maxPresenceBytesPerConnection: defaultPresenceLimits.maxPresenceBytesPerConnection,
  maxPresenceBytesPerDoc: defaultPresenceLimits.maxPresenceBytesPerDoc,
  maxDocNameLength: 512,
  pingIntervalMs: 30_000,
  compactAfterRecords: 500,
  compactAfterBytes: 1024 * 1024,
  historyRecords: 10_000,
  historyBytes: 8 * 1024 * 1024,
  httpSessionIdleMs: 30_000,
  maxHttpSessions: 10_000,
  maxHttpSessionsPerIp: 1000,
  maxRequestsPerSecondPerIp: 1000,
  maxEmptyDocsPerIp: 100,
  maxConnections: 10_000,
  maxConnectionsPerIp: 10_000,
  maxConnectionsPerDoc: 5000,
  maxMessagesPerSecond: 100,
  messageBurst: 300,
  maxThrottledMs: 30_000,
  maxObserversPerIp: 10_000,
  sseKeepaliveMs: 15_000,
  sseRetryMs: 2000,
  sseMaxBufferedBytes: 1024 * 1024,
  jsonIntervalMs: 100,
  versionQuietMs: 60_000,
  versionIntervalMs: 600_000,
  maxAutoVersions: 50
}
