/**
 * `GET /docs`: every doc the server knows — loaded ones (live peers, updates, last change) and
 * stored ones (records, bytes) — for the home page and for operators. Behind an admin
 * credential when auth or an admin token is configured (see admin.ts).
 *
 * Peers are told apart by what they may do: `editors` are peers with write access (WebSocket or
 * HTTP sessions), `observers` are read-only peers (SSE streams, polls, read-token sessions).
 * Server-side handles from `weft.openDoc()` are counted as `handles`.
 */
import type { Router } from 'express'
import type { WeftContext } from '../context.js'
import { DocHandle } from '../docs/handle.js'
import { AuthError } from '../auth/grant.js'
import { adminCheck, challengeAdmin } from '../auth/admin.js'
import { statusOf } from '../errors.js'
import { disconnect } from '../transports/disconnect.js'

export interface DocListEntry {
  name: string
  /** In memory now. */
  loaded: boolean
  /** Has stored records. */
  stored: boolean
  /** Stored update records (after compaction: the log, not the edit count). */
  records: number
  /** Bytes of stored updates. */
  bytes: number
  /** Updates stored since the doc was loaded into this process (0 when not loaded). */
  updates: number
  editors: number
  observers: number
  handles: number
  /** ISO time of the last stored update since load, or null. */
  lastChange: string | null
}

export interface DocList {
  docs: DocListEntry[]
  totals: { docs: number, loaded: number, stored: number, editors: number, observers: number }
  /** More docs exist than `limit` (default 1000, max 10000) allowed in the answer. */
  truncated: boolean
  /** Set when storage could not list its docs: the answer then holds the loaded docs only. */
  storageError?: string
}

const DEFAULT_LIMIT = 1000
const MAX_LIMIT = 10_000

export async function listDocs (ctx: WeftContext, limit = DEFAULT_LIMIT): Promise<DocList> {
  const byName = new Map<string, DocListEntry>()
  const entry = (name: string): DocListEntry => {
    let e = byName.get(name)
    if (e === undefined) {
      e = { name, loaded: false, stored: false, records: 0, bytes: 0, updates: 0, editors: 0, observers: 0, handles: 0, lastChange: null }
      byName.set(name, e)
    }
    return e
  }
  let storageError: string | undefined
  try {
    for (const info of await ctx.options.storage.list()) {
      const e = entry(info.name)
      e.stored = info.records > 0
      e.records = info.records
      e.bytes = info.bytes
    }
  } catch (err) {
    // An operator looking at the list while the database is down still sees what is live.
    storageError = (err as Error).message
    ctx.options.logger.warn({ err }, 'GET /docs: storage.list() failed')
  }
  for (const doc of ctx.registry.docs()) {
    const e = entry(doc.name)
    e.loaded = true
    e.updates = doc.updatesStored
    e.lastChange = doc.lastChange > 0 ? new Date(doc.lastChange).toISOString() : null
    for (const peer of doc.peers) {
      if (peer instanceof DocHandle) e.handles++
      else if (peer.access === 'write') e.editors++
      else e.observers++
    }
  }
  // Live docs first (most people, then most recent change), then the rest by name.
  const all = [...byName.values()].sort((a, b) =>
    (b.editors + b.observers) - (a.editors + a.observers) ||
    (b.lastChange ?? '').localeCompare(a.lastChange ?? '') ||
    Number(b.loaded) - Number(a.loaded) ||
    a.name.localeCompare(b.name))
  const totals = { docs: all.length, loaded: 0, stored: 0, editors: 0, observers: 0 }
  for (const e of all) {
    if (e.loaded) totals.loaded++
    if (e.stored) totals.stored++
    totals.editors += e.editors
    totals.observers += e.observers
  }
  const list: DocList = { docs: all.slice(0, limit), totals, truncated: all.length > limit }
  if (storageError !== undefined) list.storageError = storageError
  return list
}

export function docListRoutes (router: Router, ctx: WeftContext): void {
  const checkAdmin = adminCheck(ctx)
  router.get('/docs', async (req, res) => {
    res.set('Cache-Control', 'no-store')
    try {
      await checkAdmin(req)
    } catch (err) {
      if (!(err instanceof AuthError)) throw err
      challengeAdmin(res, err)
      res.status(err.status).json({ error: err.message })
      return
    }
    const raw = typeof req.query.limit === 'string' ? Number(req.query.limit) : DEFAULT_LIMIT
    if (!Number.isInteger(raw) || raw < 1) {
      res.status(400).json({ error: 'limit must be a positive integer' })
      return
    }
    res.json(await listDocs(ctx, Math.min(raw, MAX_LIMIT)))
  })

  // Kicking, e.g. after a permission change: POST /admin/disconnect?user=…&doc=… (either or both).
  router.post('/admin/disconnect', async (req, res) => {
    res.set('Cache-Control', 'no-store')
    try {
      await checkAdmin(req)
      const doc = typeof req.query.doc === 'string' && req.query.doc !== '' ? req.query.doc : undefined
      const user = typeof req.query.user === 'string' && req.query.user !== '' ? req.query.user : undefined
      res.json({ ended: disconnect(ctx.registry, { doc, user }) })
    } catch (err) {
      challengeAdmin(res, err)
      res.status(statusOf(err)).json({ error: (err as Error).message })
    }
  })
}
