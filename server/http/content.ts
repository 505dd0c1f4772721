/**
 * Content in without Yjs: a backend that has text or a ProseMirror document, and no Yjs, writes
 * it into a doc's root as the smallest change, so the editors connected meanwhile keep their
 * cursors and their concurrent typing (docs/content-write.ts).
 *
 * - `PUT /docs/:doc/content/:root`, `text/plain` (UTF-8): the root, a Y.Text, reads exactly the
 *   body afterwards; only the characters that differ change (a diff, docs/text-diff.ts).
 * - `PUT …`, `application/json` ProseMirror / Tiptap document: the root, a Y.XmlFragment as
 *   y-prosemirror keeps it, holds that document; unchanged nodes stay the same Yjs items.
 * - `PATCH …`, `application/json` `{ "ops": [{ "retain": n } | { "insert": "…" } | { "delete": n }] }`:
 *   text operations on a text root (Quill-delta style, UTF-16 offsets as in Yjs).
 *
 * Same auth as `POST /docs/:doc/updates` (a write grant for the doc), same pipeline: the server's
 * hooks (`beforeUpdate`, transport `http`), validation, storage, broadcast; one update per
 * request. 200 `{ cursor, seq, changed }` with `X-Weft-Cursor` once stored (content equal to
 * what the root holds: `changed: false`, nothing stored). A root holding another kind: 409. Bad
 * bodies are refused before the doc is touched: 413 over `CONTENT_MAX_BYTES` (or `maxMessageBytes`
 * if smaller), 415 for other types, 400 for bad UTF-8, JSON nesting deeper than 100, more than
 * 5,000 nodes (docs/prosemirror-input.ts), unknown shapes.
 *
 * Why a smaller body limit than POST updates: a content write is diffed and turned into Yjs
 * structs on the event loop (a POSTed update is only checked and applied). Measured on the shared
 * 2-core machine (bench/content-put.ts): a 0.5 MiB text with changes spread through it held the
 * loop 133–267 ms, a 16 MiB one up to 3.6 s. 1 MiB keeps one write in the hundreds of ms; bigger
 * content goes in as a Yjs update (POST /docs/:doc/updates) or in pieces.
 */
import type { Request, Response, Router } from 'express'
import { z } from 'zod'
import type { WeftContext } from '../context.js'
import { formatCursor } from '../../shared/cursor.js'
import { checkRootName, prosemirrorUpdate, textOpsUpdate, textUpdate, type TextOp } from '../docs/content-write.js'
import { checkJsonDepth, parseProsemirror } from '../docs/prosemirror-input.js'
import { WeftError } from '../errors.js'
import { cursorPipe, Session } from '../session.js'
import { readBody } from './body.js'
import { docRequest, preflight, requireWrite, sendProblem } from './request.js'

/** Largest PUT/PATCH body (bytes), see above. */
export const CONTENT_MAX_BYTES = 1024 * 1024

/** Operations in one PATCH. */
const MAX_OPS = 10_000

const opsBody = z.object({
  ops: z.array(z.union([
    z.strictObject({ retain: z.number().int().positive() }),
    z.strictObject({ delete: z.number().int().positive() }),
    z.strictObject({ insert: z.string().min(1) })
  ])).max(MAX_OPS)
}).strict()

type Edit = (ydoc: import('yjs').Doc) => Uint8Array | null

export function contentRoutes (router: Router, ctx: WeftContext): void {
  const path = '/docs/:doc/content/:root'
  preflight(router, ctx, path, 'PUT, PATCH')

  const decoder = new TextDecoder('utf-8', { fatal: true })
  async function text (req: Request, res: Response): Promise<string> {
    const bytes = await readBody(req, res, Math.min(ctx.options.maxMessageBytes, CONTENT_MAX_BYTES))
    ctx.traffic.http.received.inc(bytes.byteLength)
    try {
      return decoder.decode(bytes)
    } catch {
      throw new WeftError('malformed', 'body is not UTF-8')
    }
  }

  async function json (req: Request, res: Response): Promise<unknown> {
    const body = await text(req, res)
    checkJsonDepth(body)
    try {
      return JSON.parse(body)
    } catch {
      throw new WeftError('malformed', 'body is not JSON')
    }
  }

  /** The edit a request asks for, read and checked in full before any doc is touched. */
  async function editOf (req: Request, res: Response, root: string): Promise<Edit> {
    const type = (req.headers['content-type'] ?? '').toLowerCase()
    const charset = /;\s*charset=([^;\s]+)/.exec(type)?.[1]
    if (charset !== undefined && charset.replace(/"/g, '') !== 'utf-8') throw new WeftError('unsupportedType', 'only UTF-8 bodies are accepted')
    if (req.method === 'PATCH') {
      if (!type.startsWith('application/json')) throw new WeftError('unsupportedType', 'send application/json { ops: [...] }')
      const parsed = opsBody.safeParse(await json(req, res))
      if (!parsed.success) throw new WeftError('malformed', `body must be { ops: [{ retain: n } | { insert: "text" } | { delete: n }] } (at most ${MAX_OPS}): ${parsed.error.issues[0]?.message ?? ''}`)
      const ops = parsed.data.ops as TextOp[]
      return ydoc => textOpsUpdate(ydoc, root, ops)
    }
    if (type.startsWith('text/plain')) {
      const content = await text(req, res)
      return ydoc => textUpdate(ydoc, root, content)
    }
    if (type.startsWith('application/json')) {
      const doc = parseProsemirror(await json(req, res))
      return ydoc => prosemirrorUpdate(ydoc, root, doc)
    }
    throw new WeftError('unsupportedType', 'send text/plain (a text root) or application/json (a ProseMirror document)')
  }

  const write = async (req: Request, res: Response): Promise<void> => {
    let release = (): void => {}
    try {
      const { doc, grant } = await docRequest(ctx, req, res)
      requireWrite(grant)
      const root = checkRootName(String(req.params.root ?? ''))
      const edit = await editOf(req, res, root)
      const lease = await ctx.registry.lease(doc)
      release = lease.release
      const shared = lease.doc
      // A one-shot editor like a POST without a session (http/updates.ts): the hooks, checks
      // and pipeline of every editor, and never a peer of the doc.
      const editor = new Session(shared, cursorPipe(), grant.access, ctx.session, grant.user, 'http')
      const update = edit(shared.ydoc)
      if (update !== null) await editor.write(update)
      ctx.metrics.inc(`http_content_writes_total{changed="${update !== null}"}`)
      // Any cursor from here on includes this change (the doc has applied it).
      const seq = shared.seq
      const cursor = formatCursor(doc, seq)
      res.set({ 'X-Weft-Cursor': cursor, 'Access-Control-Expose-Headers': 'X-Weft-Cursor', 'Cache-Control': 'no-store' })
      res.status(200).json({ cursor, seq, changed: update !== null })
    } catch (err) {
      sendProblem(ctx, res, err, 'content')
    } finally {
      release()
    }
  }

  router.put(path, write)
  router.patch(path, write)
}
