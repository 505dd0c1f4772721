/**
 * `GET /docs/:doc`: a doc's current state, read-only.
 * - JSON (default): `{ name, cursor, content, types, stateVector }` — `content` is the JSON view
 *   (`?types=` pins root kinds); with `?sv=` also `update`, the part the caller lacks (base64).
 * - `Accept: application/octet-stream`: the state as one Yjs update; with `?sv=<base64 state
 *   vector>` only the part missing from it. A bad `sv` is 400.
 * The `X-Weft-Cursor` header (and `cursor` field) is an SSE/poll cursor for exactly this state,
 * so a client can take a snapshot and then follow `/events?cursor=…` without a gap.
 */
import type { Router } from 'express'
import * as Y from 'yjs'
import * as decoding from 'lib0/decoding'
import { base64ToBytes, bytesToBase64 } from '../../shared/base64.js'
import { formatCursor } from '../../shared/cursor.js'
import type { WeftContext } from '../context.js'
import { jsonView, parseTypes } from '../docs/json-view.js'
import { BadRequest, corsHeaders, queryParam, readRequest, sendProblem } from './request.js'

export function snapshotRoutes (router: Router, ctx: WeftContext): void {
  router.get('/docs/:doc', async (req, res) => {
    try {
      const { doc } = await readRequest(ctx, req)
      const svText = queryParam(req, 'sv')
      const sv = svText === undefined ? undefined : parseStateVector(svText)
      const pinned = parseTypes(queryParam(req, 'types'))
      const binary = req.accepts(['application/json', 'application/octet-stream']) === 'application/octet-stream'
      const holder = {}
      const shared = await ctx.registry.acquire(doc, holder)
      try {
        // All synchronous: the state, its cursor and its view describe the same moment.
        const cursor = formatCursor(doc, shared.seq)
        const update = Y.encodeStateAsUpdate(shared.ydoc, sv)
        res.set({ ...corsHeaders(ctx, req), 'Cache-Control': 'no-store', 'X-Weft-Cursor': cursor, 'Access-Control-Expose-Headers': 'X-Weft-Cursor' })
        ctx.metrics.inc('http_snapshots_total')
        if (binary) {
          res.type('application/octet-stream').send(Buffer.from(update.buffer, update.byteOffset, update.byteLength))
          return
        }
        const view = jsonView(shared.ydoc, pinned)
        res.json({
          name: doc,
          cursor,
          content: view.content,
          types: view.types,
          stateVector: bytesToBase64(Y.encodeStateVector(shared.ydoc)),
          ...(sv !== undefined ? { update: bytesToBase64(update) } : {})
        })
      } finally {
        ctx.registry.release(doc, holder)
      }
    } catch (err) {
      sendProblem(ctx, res, err, 'snapshot')
    }
  })
}

/** A state vector from base64, checked strictly: count, then (client, clock) pairs, nothing after. */
function parseStateVector (text: string): Uint8Array {
  let bytes: Uint8Array
  try {
    // A raw '+' in a query string arrives as a space; base64url is accepted too.
    bytes = base64ToBytes(text.replace(/[ -]/g, '+').replace(/_/g, '/'))
  } catch {
    throw new BadRequest('sv is not base64')
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
    throw new BadRequest('sv is not a Yjs state vector')
  }
  return bytes
}
