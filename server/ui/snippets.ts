/**
 * Copy-paste snippets for the three kinds of user, filled with this server's real URLs and the
 * doc name chosen on the home page. The templates use `{{placeholders}}` so the page's script
 * can refill them in the browser as the name is typed (the same rules as `fillSnippet`).
 */

export interface SnippetUrls {
  /** Where the HTTP routes are, e.g. `http://127.0.0.1:1234` (no trailing slash). */
  http: string
  /** Where WebSocket upgrades go, e.g. `ws://127.0.0.1:1234`. */
  ws: string
}

export interface Snippet {
  id: string
  title: string
  who: string
  lang: 'js' | 'html' | 'sh'
  template: string
}

export const snippets: Snippet[] = [
  {
    id: 'y-websocket',
    title: 'Editor — stock y-websocket provider',
    who: 'Already use Yjs? Point your WebsocketProvider here. Nothing else changes.',
    lang: 'js',
    template: `// npm install yjs y-websocket
import * as Y from 'yjs'
import { WebsocketProvider } from 'y-websocket'

const doc = new Y.Doc()
const provider = new WebsocketProvider('{{ws}}', {{room}}, doc)
const text = doc.getText('text') // what the /edit page edits
const view = document.body.appendChild(document.createElement('pre'))
text.observe(() => { view.textContent = text.toString() })
provider.once('sync', () => text.insert(0, 'Hello from y-websocket! '))`
  },
  {
    id: 'weft-client',
    title: 'Editor — Weft client (survives hostile proxies)',
    who: 'Same API as WebsocketProvider, but falls back to SSE + POST, then long polling, when WebSockets are blocked.',
    lang: 'js',
    template: `// npm install yjs y-weft
import * as Y from 'yjs'
import { WeftProvider } from 'y-weft/client'

const doc = new Y.Doc()
const provider = new WeftProvider('{{http}}', {{doc}}, doc)
const status = document.body.appendChild(document.createElement('p'))
provider.on('transport-change', () => { status.textContent = 'syncing over ' + provider.transport })
const text = doc.getText('text')
provider.once('sync', () => text.insert(0, 'Hello from WeftProvider! '))`
  },
  {
    id: 'event-source',
    title: 'Viewer — plain EventSource, no Yjs',
    who: 'Dashboards, bots, "watch this doc" pages: five lines, read-only by construction.',
    lang: 'html',
    template: `<pre id="doc"></pre>
<script>
const es = new EventSource('{{http}}/docs/{{docPath}}/events?view=json')
for (const type of ['snapshot', 'update', 'reset']) es.addEventListener(type, e => {
  const { content } = JSON.parse(e.data)
  if (content) document.getElementById('doc').textContent = content.text ?? JSON.stringify(content, null, 2)
})
</script>`
  },
  {
    id: 'curl',
    title: 'Terminal — watch the stream',
    who: 'The same stream, raw: one event per stored update.',
    lang: 'sh',
    template: `curl -N '{{http}}/docs/{{docPath}}/events?view=json'`
  }
]

/** A single-quoted JS string literal (doc names have no control characters). */
export function jsString (text: string): string {
  return `'${text.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`
}

/**
 * A doc name as ONE URL path segment: percent-encoded, `/` included, and also `'()*!` so the
 * result is safe inside single-quoted JS and shell strings too.
 */
export function encodeSegment (doc: string): string {
  return encodeURIComponent(doc).replace(/[!'()*]/g, ch => `%${ch.charCodeAt(0).toString(16).toUpperCase()}`)
}

/**
 * y-websocket puts the room name into the URL as it is, so a name the URL would change
 * (`a b`, `50%`, `#x`) must be passed encoded; plain names stay readable.
 */
export function roomExpression (doc: string): string {
  return encodeURIComponent(doc) === doc ? jsString(doc) : `encodeURIComponent(${jsString(doc)})`
}

export function fillSnippet (template: string, urls: SnippetUrls, doc: string): string {
  const values: Record<string, string> = {
    http: urls.http,
    ws: urls.ws,
    doc: jsString(doc),
    room: roomExpression(doc),
    docPath: encodeSegment(doc)
  }
  return template.replace(/\{\{(\w+)\}\}/g, (_, key: string) => values[key] ?? '')
}

/**
 * The same fill rules as a browser function (source text), inlined into the home page script.
 * Kept next to `fillSnippet` so the two cannot drift apart unnoticed; the home page test
 * checks both produce the same text.
 */
export const fillSnippetSource = `function fillSnippet (template, urls, doc) {
  const jsString = text => "'" + text.replace(/\\\\/g, '\\\\\\\\').replace(/'/g, "\\\\'") + "'"
  const values = {
    http: urls.http,
    ws: urls.ws,
    doc: jsString(doc),
    room: encodeURIComponent(doc) === doc ? jsString(doc) : 'encodeURIComponent(' + jsString(doc) + ')',
    docPath: encodeURIComponent(doc).replace(/[!'()*]/g, ch => '%' + ch.charCodeAt(0).toString(16).toUpperCase())
  }
  return template.replace(/\\{\\{(\\w+)\\}\\}/g, (_, key) => values[key] ?? '')
}`
