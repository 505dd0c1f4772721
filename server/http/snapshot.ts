/**
 * `GET /docs/:doc`: a doc's current state, read-only.
 * - JSON (default): `{ name, cursor, content, types, stateVector }` — `content` is the JSON view
 *   (`?types=` pins root kinds; `?view=prosemirror` renders XML roots as ProseMirror JSON); with
 *   `?sv=` also `update`, the part the caller lacks (base64).
 * - `Accept: application/octet-stream`: the state as one Yjs update; with `?sv=<base64 state
 *   vector>` only the part missing from it. A bad `sv` is 400.
 * - `?version=ID`: the same answers for a stored version instead (docs/versions.ts); 404 if unknown.
 * The `X-Weft-Cursor` header (and `cursor` field) is an SSE/poll cursor for exactly this state,
 * so a client can take a snapshot and then follow `/events?cursor=…` without a gap.
 * Answers are encoded once per change of the doc (snapshot-cache.ts); a doc that is neither
 * stored nor in memory is answered as empty without loading it.
 */
import type { Response, Router } from 'express'
import * as Y from 'yjs'
import * as decoding from 'lib0/decoding'
import { base64ToBytes, bytesToBase64 } from '../../shared/base64.js'
import { formatCursor } from '../../shared/cursor.js'
import { BLANK_SEQ } from '../docs/blank.js'
import type { WeftContext } from '../context.js'
import { parseTypes } from '../docs/json-view.js'
import { parseView, renderView, type ViewKind } from '../docs/prosemirror.js'
import { encodeDiff } from '../docs/dependencies.js'
import { validateStateVector } from '../docs/validate.js'
import { WeftError } from '../errors.js'
import { corsHeaders, queryParam, readRequest, sendProblem } from './request.js'
import { SnapshotCache, type SnapshotAnswer } from './snapshot-cache.js'

export function snapshotRoutes (router: Router, ctx: WeftContext): void {
  const cache = new SnapshotCache()

  router.get('/docs/:doc', async (req, res) => {
    try {
      const { doc } = await readRequest(ctx, req)
      const svText = queryParam(req, 'sv')
      const sv = svText === undefined ? undefined : parseStateVector(svText)
      const typesText = queryParam(req, 'types')
      const pinned = parseTypes(typesText)
      const view = parseView(queryParam(req, 'view'))
      const binary = req.accepts(['application/json', 'application/octet-stream']) === 'application/octet-stream'
      const ask = { name: doc, sv, pinned, binary, view }
      res.set({ ...corsHeaders(ctx, req), 'Cache-Control': 'no-store', 'Access-Control-Expose-Headers': 'X-Weft-Cursor' })
      ctx.metrics.inc('http_snapshots_total')
      // `?version=ID`: a stored version (docs/versions.ts), answered like the doc itself, with the
      // version's cursor (following it from there brings the edits made since). 404 if unknown.
      const versionId = queryParam(req, 'version')
      if (versionId !== undefined) {
        const v = await ctx.versions.open(doc, versionId)
        try { send(res, answer(v.ydoc, v.info.seq, ask)) } finally { v.ydoc.destroy() }
        return
      }
      // A doc nobody wrote and nobody has open is answered as empty without loading it: a
      // reader walking made-up names filled maxDocs (docs/registry.ts). Its cursor is the blank
      // cursor (docs/blank.ts): following it waits for the first write, or resets after one.
      if (!(await ctx.registry.exists(doc))) {
        const blank = new Y.Doc()
        try { send(res, answer(blank, BLANK_SEQ, ask)) } finally { blank.destroy() }
        return
      }
      const lease = await ctx.registry.lease(doc)
      const shared = lease.doc
      try {
        const variant = sv !== undefined ? null : binary ? 'binary' : `${view} ${typesText ?? ''}`
        let a = variant === null ? undefined : cache.get(shared, variant)
        if (a === undefined) {
          a = answer(shared.ydoc, shared.seq, ask)
          if (variant !== null) cache.set(shared, variant, a)
        } else ctx.metrics.inc('http_snapshot_cache_hits_total')
        send(res, a)
      } finally {
        lease.release()
      }
    } catch (err) {
      sendProblem(ctx, res, err, 'snapshot')
    }
  })
}

interface Ask {
  name: string
  sv: Uint8Array | undefined
  pinned: ReturnType<typeof parseTypes>
  binary: boolean
  /** `?view=prosemirror` renders XML roots as ProseMirror JSON (docs/prosemirror.ts). */
  view: ViewKind
}

/** The answer for a doc at `seq`. All synchronous: the state, its cursor and its view describe the same moment. */
function answer (ydoc: Y.Doc, seq: number, { name, sv, pinned, binary, view: viewKind }: Ask): SnapshotAnswer {
  if (sv !== undefined) validateStateVector(sv, ydoc)
  const cursor = formatCursor(name, seq)
  if (binary) {
    const update = encodeDiff(ydoc, sv)
    return { cursor, contentType: 'application/octet-stream', body: Buffer.from(update.buffer, update.byteOffset, update.byteLength) }
  }
  // JSON carries the update only when asked (`sv`): encoding a large doc costs more than its view.
  const update = sv !== undefined ? encodeDiff(ydoc, sv) : null
  const view = renderView(ydoc, pinned, viewKind)
  const json = JSON.stringify({
    name,
    cursor,
    content: view.content,
    types: view.types,
    stateVector: bytesToBase64(Y.encodeStateVector(ydoc)),
    ...(update !== null ? { update: bytesToBase64(update) } : {})
  })
  return { cursor, contentType: 'application/json; charset=utf-8', body: Buffer.from(json) }
}

/** Written directly, not with res.send(): Express would hash every body for an ETag. */
function send (res: Response, a: SnapshotAnswer): void {
  res.statusCode = 200
  res.setHeader('X-Weft-Cursor', a.cursor)
  res.setHeader('Content-Type', a.contentType)
  res.setHeader('Content-Length', a.body.byteLength)
  res.end(a.body)
}

/** A state vector from base64, checked strictly: count, then (client, clock) pairs, nothing after. */
function parseStateVector (text: string): Uint8Array {
  let bytes: Uint8Array
  try {
    // A raw '+' in a query string arrives as a space; base64url is accepted too.
    bytes = base64ToBytes(text.replace(/[ -]/g, '+').replace(/_/g, '/'))
  } catch {
    throw new WeftError('malformed', 'sv is not base64')
  }
  try {
    const d = decoding.createDecoder(bytes)
    const n = decoding.readVarUint(d)
    if (n > bytes.length) throw new Error('count')
    for (let i = 0; i < 2 * n; i++) {
      if (decoding.readVarUint(d) > Number.MAX_SAFE_INTEGER) throw new Error('range')
    }
    if (decoding.hasContent(d)) throw new Error('trailing bytes')
  } catch {
    throw new WeftError('malformed', 'sv is not a Yjs state vector')
  }
  return bytes
}
