/**
 * A small SSE client for tests, over plain `http.get`: parses the event stream as the
 * EventSource spec does (fields, comments, multi-line data, `id` kept across events), exposes
 * the raw response (headers, socket — to pause it) and resumes with `Last-Event-ID`.
 * `sseMirror` keeps a Y.Doc current from the stream, the way a Yjs observer client would.
 */
import http, { type IncomingHttpHeaders, type IncomingMessage, type ClientRequest } from 'node:http'
import * as Y from 'yjs'
import { waitFor } from './wait.js'

export interface SseEvent { event: string, data: string, id: string }

export interface SseClient {
  status: number
  headers: IncomingHttpHeaders
  res: IncomingMessage
  req: ClientRequest
  events: SseEvent[]
  comments: string[]
  /** The raw text received, in order (for checks such as "retry comes first"). */
  raw: string
  retry: number | null
  /** The id of the last dispatched event (what EventSource would send as Last-Event-ID). */
  lastEventId: string
  /** The server ended the stream (or it broke). */
  ended: boolean
  /** The response body when the status was not 200. */
  body: string
  onEvent (fn: (e: SseEvent) => void): void
  /** The first event (from index `from`, default 0: already received ones count) matching. */
  next (predicate: (e: SseEvent) => boolean, what: string, timeoutMs?: number, from?: number): Promise<SseEvent>
  close (): void
}

export interface SseOptions {
  lastEventId?: string
  headers?: Record<string, string>
}

export function openSse (url: string, opts: SseOptions = {}): Promise<SseClient> {
  return new Promise((resolve, reject) => {
    const headers: Record<string, string> = { Accept: 'text/event-stream', ...opts.headers }
    if (opts.lastEventId !== undefined) headers['Last-Event-ID'] = opts.lastEventId
    const req = http.get(url, { headers, agent: false }, res => {
      const listeners: Array<(e: SseEvent) => void> = []
      const client: SseClient = {
        status: res.statusCode ?? 0,
        headers: res.headers,
        res,
        req,
        events: [],
        comments: [],
        raw: '',
        retry: null,
        lastEventId: opts.lastEventId ?? '',
        ended: false,
        body: '',
        onEvent (fn) { listeners.push(fn) },
        async next (predicate, what, timeoutMs = 10_000, start = 0) {
          let found: SseEvent | undefined
          await waitFor(() => {
            found = client.events.slice(start).find(predicate)
            return found !== undefined
          }, what, timeoutMs)
          return found!
        },
        close () { req.destroy() }
      }
      res.setEncoding('utf8')
      res.on('close', () => { client.ended = true })
      res.on('error', () => { client.ended = true })
      if (client.status !== 200) {
        res.on('data', (chunk: string) => { client.body += chunk })
        res.on('end', () => resolve(client))
        return
      }
      let buffer = ''
      let event = ''
      let data: string[] = []
      // As in the spec: an id takes effect when its event is complete (the blank line), so a
      // stream cut mid-event resumes from the last event the client really has.
      let idBuffer = client.lastEventId
      const dispatch = (): void => {
        client.lastEventId = idBuffer
        if (data.length === 0) { event = ''; return }
        const e = { event: event === '' ? 'message' : event, data: data.join('\n'), id: client.lastEventId }
        event = ''
        data = []
        client.events.push(e)
        for (const fn of listeners) fn(e)
      }
      res.on('data', (chunk: string) => {
        client.raw += chunk
        buffer += chunk
        let nl: number
        while ((nl = buffer.indexOf('\n')) >= 0) {
          const line = buffer.slice(0, nl).replace(/\r$/, '')
          buffer = buffer.slice(nl + 1)
          if (line === '') { dispatch(); continue }
          if (line.startsWith(':')) { client.comments.push(line.slice(1).trim()); continue }
          const colon = line.indexOf(':')
          const field = colon < 0 ? line : line.slice(0, colon)
          let value = colon < 0 ? '' : line.slice(colon + 1)
          if (value.startsWith(' ')) value = value.slice(1)
          if (field === 'event') event = value
          else if (field === 'data') data.push(value)
          else if (field === 'id' && !value.includes('\0')) idBuffer = value
          else if (field === 'retry' && /^\d+$/.test(value)) client.retry = Number(value)
        }
      })
      resolve(client)
    })
    req.on('error', reject)
  })
}

export interface SseMirror {
  client: SseClient
  /** Rebuilt from scratch on every snapshot/reset; updates applied in order. */
  doc: Y.Doc
  text: () => string
  /** The latest JSON content seen (with `?view=json`). */
  content: Record<string, unknown> | null
  snapshots: number
  resets: number
  updates: number
  /** Ids of snapshot/update/reset events, in arrival order. */
  ids: string[]
  close (): void
}

/** `opts.doc` continues an existing mirror doc (a resume); otherwise a fresh one. */
export async function sseMirror (url: string, opts: SseOptions & { doc?: Y.Doc } = {}, textName = 'text'): Promise<SseMirror> {
  const client = await openSse(url, opts)
  if (client.status !== 200) throw new Error(`SSE ${url} answered ${client.status}: ${client.body}`)
  const m: SseMirror = {
    client,
    doc: opts.doc ?? new Y.Doc(),
    text: () => m.doc.getText(textName).toString(),
    content: null,
    snapshots: 0,
    resets: 0,
    updates: 0,
    ids: [],
    close () { client.close() }
  }
  const apply = (e: SseEvent): void => {
    if (e.event !== 'snapshot' && e.event !== 'reset' && e.event !== 'update') return
    const data = JSON.parse(e.data) as { update: string, content?: Record<string, unknown> }
    if (e.event !== 'update') {
      m.doc.destroy()
      m.doc = new Y.Doc()
      if (e.event === 'snapshot') m.snapshots++
      else m.resets++
    } else {
      m.updates++
    }
    Y.applyUpdate(m.doc, Buffer.from(data.update, 'base64'))
    if (data.content !== undefined) m.content = data.content
    m.ids.push(e.id)
  }
  for (const e of client.events) apply(e)
  client.onEvent(apply)
  return m
}

/** Waits until a mirror's stream has delivered at least one snapshot or reset. */
export async function mirrorReady (m: SseMirror): Promise<void> {
  await waitFor(() => m.snapshots + m.resets > 0 || m.updates > 0, 'SSE mirror to get its first event')
}
