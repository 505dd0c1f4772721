/**
 * The worst cases of `PUT /docs/:doc/content/:root` (server/http/content.ts): bodies at its
 * 1 MiB limit and at the 5,000-node limit, into an empty root and over content that
 * differs everywhere, beside a 16 MiB `POST /updates` as the baseline a WebSocket or HTTP editor
 * can already cause. Prints, per case, the request's time and the worst event-loop delay seen by
 * the server's process (this one).
 *
 *   npx tsx bench/content-put.ts
 */
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { monitorEventLoopDelay } from 'node:perf_hooks'
import os from 'node:os'
import * as Y from 'yjs'
import { createWeft } from '../server/weft.js'
import { memoryStorage } from '../server/storage/memory.js'

const MIB = 1 << 20
const SIZE = MIB - 64 // under the content limit (http/content.ts CONTENT_MAX_BYTES)
const BASELINE = 16 * MIB - 64 * 1024 // a POST /updates under maxMessageBytes

let seed = 42
const rnd = (): number => { seed = (seed * 1103515245 + 12345) & 0x7fffffff; return seed / 0x7fffffff }
function randomText (n: number, alphabet = 'abcdefghijklmnopqrstuvwxyz \n'): string {
  const parts: string[] = []
  for (let i = 0; i < n; i += 65536) {
    let p = ''
    for (let k = 0; k < Math.min(65536, n - i); k++) p += alphabet[Math.floor(rnd() * alphabet.length)]
    parts.push(p)
  }
  return parts.join('')
}
const pmDoc = (paragraphs: number, chars: number): string => JSON.stringify({
  type: 'doc',
  content: Array.from({ length: paragraphs }, () => ({ type: 'paragraph', content: [{ type: 'text', text: randomText(chars, 'abcdefghij klm') }] }))
})

const weft = await createWeft({ storage: memoryStorage() })
const http = createServer()
weft.attach(http)
// Requests here take seconds apart: keep the one connection fetch reuses.
http.keepAliveTimeout = 120_000
await new Promise<void>(resolve => http.listen(0, '127.0.0.1', () => resolve()))
const url = `http://127.0.0.1:${(http.address() as AddressInfo).port}`

const rows: Array<{ case: string, bodyMiB: string, status: number, requestMs: string, worstLoopDelayMs: string, changed: string }> = []
async function measure (name: string, method: string, path: string, body: string | Uint8Array, type: string): Promise<void> {
  const h = monitorEventLoopDelay({ resolution: 5 })
  h.enable()
  const t = performance.now()
  const res = await fetch(url + path, { method, body: typeof body === 'string' ? body : Buffer.from(body), headers: { 'content-type': type } })
  const text = await res.text()
  const ms = performance.now() - t
  h.disable()
  const bytes = typeof body === 'string' ? Buffer.byteLength(body) : body.byteLength
  let changed = ''
  try { changed = String(JSON.parse(text).changed ?? '') } catch {}
  rows.push({ case: name, bodyMiB: (bytes / MIB).toFixed(2), status: res.status, requestMs: ms.toFixed(0), worstLoopDelayMs: Math.max(0, h.max / 1e6 - 5).toFixed(0), changed })
}

const post = new Y.Doc()
post.getText('text').insert(0, randomText(BASELINE))
await measure('POST /updates, 16 MiB text insert (baseline)', 'POST', '/docs/baseline/updates', Y.encodeStateAsUpdate(post), 'application/octet-stream')

const a = randomText(SIZE)
await measure('PUT text, 1 MiB into an empty root', 'PUT', '/docs/t/content/text', a, 'text/plain')
await measure('PUT text, 1 MiB, the same again', 'PUT', '/docs/t/content/text', a, 'text/plain')
await measure('PUT text, 1 MiB, one char changed in the middle', 'PUT', '/docs/t/content/text', a.slice(0, SIZE / 2) + 'X' + a.slice(SIZE / 2 + 1), 'text/plain')
const every = a.split('')
for (let i = 0; i < every.length; i += 1000) every[i] = every[i] === 'Q' ? 'R' : 'Q'
await measure('PUT text, 1 MiB, every 1000th char changed', 'PUT', '/docs/t/content/text', every.join(''), 'text/plain')
await measure('PUT text, 1 MiB, all different', 'PUT', '/docs/t/content/text', randomText(SIZE), 'text/plain')
const small = randomText(MIB / 2)
await measure('PUT text, 0.5 MiB into an empty root', 'PUT', '/docs/s/content/text', small, 'text/plain')
const smallEvery = small.split('')
for (let i = 0; i < smallEvery.length; i += 1000) smallEvery[i] = smallEvery[i] === 'Q' ? 'R' : 'Q'
await measure('PUT text, 0.5 MiB, every 1000th char changed', 'PUT', '/docs/s/content/text', smallEvery.join(''), 'text/plain')

const big = pmDoc(300, 3_000)
await measure('PUT ProseMirror, 300 paragraphs × 3 KB, into an empty root', 'PUT', '/docs/p/content/default', big, 'application/json')
await measure('PUT ProseMirror, the same again', 'PUT', '/docs/p/content/default', big, 'application/json')
await measure('PUT ProseMirror, 300 × 3 KB, all different', 'PUT', '/docs/p/content/default', pmDoc(300, 3_000), 'application/json')
const many = pmDoc(2_500, 120)
await measure('PUT ProseMirror, 2,500 paragraphs (5,000 nodes), into an empty root', 'PUT', '/docs/m/content/default', many, 'application/json')
const oneChanged = JSON.parse(many)
oneChanged.content[1_250].content[0].text = 'changed'
await measure('PUT ProseMirror, 5,000 nodes, one paragraph changed', 'PUT', '/docs/m/content/default', JSON.stringify(oneChanged), 'application/json')
await measure('PUT ProseMirror, 5,000 nodes, all different', 'PUT', '/docs/m/content/default', pmDoc(2_500, 120), 'application/json')

console.log(`node ${process.version}, ${os.cpus()[0]?.model ?? 'cpu'} × ${os.cpus().length}, load ${os.loadavg().map(l => l.toFixed(1)).join(' ')}`)
console.table(rows)
await weft.close()
http.close()
