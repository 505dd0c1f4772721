/**
 * What the version tests talk to Weft with: the versions API over real HTTP, a long-poll reader
 * that keeps a Y.Doc current (and counts its resets: a reader that had to start over), and the
 * content of a Y.Doc as the snapshot's JSON view renders it, for "exactly the version's content".
 */
import * as Y from 'yjs'
import { base64ToBytes } from '../../shared/base64.js'
import type { PollBody } from '../../shared/poll.js'
import { jsonView } from '../../server/docs/json-view.js'
import type { VersionInfo, RestoreResult } from '../../server/docs/versions.js'

export interface Answer<T> { status: number, body: T }

async function call<T> (url: string, init: RequestInit = {}): Promise<Answer<T>> {
  const res = await fetch(url, init)
  const text = await res.text()
  let body: unknown = text
  try { body = JSON.parse(text) } catch {}
  return { status: res.status, body: body as T }
}

export interface VersionsApi {
  list (token?: string): Promise<Answer<{ doc: string, versions: VersionInfo[] }>>
  take (name?: string, token?: string): Promise<Answer<VersionInfo>>
  restore (id: string, token?: string): Promise<Answer<RestoreResult>>
  /** `GET /docs/:doc?version=ID` as JSON. */
  show (id: string, token?: string): Promise<Answer<{ content: Record<string, unknown>, cursor: string }>>
}

export function versionsApi (baseUrl: string, doc: string): VersionsApi {
  const root = `${baseUrl}/docs/${encodeURIComponent(doc)}`
  const auth = (token?: string): Record<string, string> => token === undefined ? {} : { authorization: `Bearer ${token}` }
  return {
    list: async token => await call(`${root}/versions`, { headers: auth(token) }),
    take: async (name, token) => await call(`${root}/versions`, {
      method: 'POST',
      headers: { ...auth(token), ...(name !== undefined ? { 'content-type': 'application/json' } : {}) },
      ...(name !== undefined ? { body: JSON.stringify({ name }) } : {})
    }),
    restore: async (id, token) => await call(`${root}/versions/${encodeURIComponent(id)}/restore`, { method: 'POST', headers: auth(token) }),
    show: async (id, token) => await call(`${root}?version=${encodeURIComponent(id)}`, { headers: auth(token) })
  }
}

/** The JSON view of a doc's content, roots sorted, as one string (roots listed in `only`, if given). */
export function contentOf (doc: Y.Doc, only?: readonly string[]): string {
  const { content } = jsonView(doc)
  const names = Object.keys(content).filter(n => only === undefined || only.includes(n)).sort()
  return JSON.stringify(names.map(n => [n, content[n]]))
}

/** A JSON-view content object (a snapshot's `content`) in `contentOf`'s form. */
export function contentString (content: Record<string, unknown>, only?: readonly string[]): string {
  const names = Object.keys(content).filter(n => only === undefined || only.includes(n)).sort()
  return JSON.stringify(names.map(n => [n, content[n]]))
}

export interface Poller {
  doc: Y.Doc
  /** Answers that were a reset (the first is one; more would mean the reader started over). */
  resets: number
  polls: number
  close (): void
}

/** A long-poll reader of `doc`: one poll held at a time, each answer applied. Bounded by `close()`. */
export async function longPoller (baseUrl: string, docName: string): Promise<Poller> {
  const p: Poller = { doc: new Y.Doc(), resets: 0, polls: 0, close: () => abort.abort() }
  const abort = new AbortController()
  let cursor = ''
  const once = async (timeoutS: number): Promise<boolean> => {
    const q = new URLSearchParams({ timeout: String(timeoutS) })
    if (cursor !== '') q.set('cursor', cursor)
    const res = await fetch(`${baseUrl}/docs/${encodeURIComponent(docName)}/poll?${q}`, { signal: abort.signal })
    if (res.status === 204) { await res.arrayBuffer(); return true }
    if (res.status !== 200) { await res.arrayBuffer(); return false }
    const body = await res.json() as PollBody
    p.polls++
    if (body.reset === true) p.resets++
    if (body.update !== undefined) Y.applyUpdate(p.doc, base64ToBytes(body.update))
    cursor = body.cursor
    return true
  }
  if (!(await once(0))) throw new Error('the first poll failed')
  void (async () => { while (await once(5).catch(() => false)); })()
  return p
}

/** A y-prosemirror style paragraph element holding `text`. */
export function paragraph (text: string, attrs: Record<string, string> = {}): Y.XmlElement {
  const p = new Y.XmlElement('paragraph')
  for (const [k, v] of Object.entries(attrs)) p.setAttribute(k, v)
  p.insert(0, [new Y.XmlText(text)])
  return p
}
