/**
 * `GET /`: what a newcomer sees after `npm start`. Server version and status, a form to open a
 * doc (links to its editor, viewer and SSE stream), the live list of docs (`GET /docs`, asks
 * for the admin token when the server has auth), and copy-paste snippets filled with this
 * server's URLs. One self-contained HTML response: inline CSS and a small inline script.
 */
import { createHash } from 'node:crypto'
import { escapeHtml, jsonForScript, logoSvg, page } from './html.js'
import { encodeSegment, fillSnippet, fillSnippetSource, snippets, type SnippetUrls } from './snippets.js'

export interface HomeModel {
  version: string
  /** Where the routes are mounted, as a path (`''` or `/collab`). */
  basePath: string
  urls: SnippetUrls
  ready: boolean
  problems: string[]
  storage: string
  docsLoaded: number
  peers: number
  /** Auth (JWT or an authenticate callback) is on: clients and the doc list need tokens. */
  auth: boolean
  /** `/docs` needs a credential. */
  docsLocked: boolean
}

export const defaultDoc = 'welcome'

const css = `
.top { background: #fff; border-bottom: 1px solid var(--line); }
.wrap { max-width: 1120px; margin: 0 auto; padding: 0 24px; }
.row { display: flex; align-items: center; gap: 12px; flex-wrap: wrap; }
.top .row { height: 60px; }
.spacer { flex: 1; }
.top nav { display: flex; gap: 18px; font-size: 14px; }
.top nav a { color: var(--muted); }
.hero { padding: 44px 0 28px; }
.hero h1 { font-size: 32px; line-height: 1.2; letter-spacing: -0.02em; margin: 0 0 10px; }
.hero .lead { font-size: 17px; color: var(--muted); margin: 0 0 24px; max-width: 720px; }
.open { display: flex; gap: 10px; flex-wrap: wrap; align-items: center; background: #fff; border: 1px solid var(--line); border-radius: 14px; padding: 16px; box-shadow: 0 1px 2px rgba(16,24,40,.04); }
.open label { font-weight: 600; }
.open input { flex: 1 1 260px; font-family: var(--mono); }
.links { display: flex; gap: 8px; flex-wrap: wrap; margin-top: 12px; }
.link { display: inline-flex; gap: 8px; align-items: baseline; background: #fff; border: 1px solid var(--line); border-radius: 10px; padding: 8px 12px; font-size: 13.5px; max-width: 100%; }
.link b { font-weight: 600; color: var(--ink); }
.link a { font-family: var(--mono); font-size: 12.5px; overflow-wrap: anywhere; }
.grid { display: grid; grid-template-columns: minmax(0, 2fr) minmax(260px, 1fr); gap: 20px; align-items: start; }
@media (max-width: 860px) { .grid { grid-template-columns: 1fr; } }
.card { background: #fff; border: 1px solid var(--line); border-radius: 14px; padding: 20px; box-shadow: 0 1px 2px rgba(16,24,40,.04); min-width: 0; }
.card h2, .section-title { font-size: 16px; margin: 0 0 14px; display: flex; align-items: center; gap: 10px; }
.section-title { font-size: 20px; margin: 40px 0 6px; letter-spacing: -0.01em; }
.section-sub { color: var(--muted); margin: 0 0 18px; }
dl.facts { display: grid; grid-template-columns: auto 1fr; gap: 8px 16px; margin: 0; font-size: 14px; }
dl.facts dt { color: var(--muted); }
dl.facts dd { margin: 0; font-weight: 500; overflow-wrap: anywhere; }
dl.facts dd code { font-size: 12px; }
table.docs { width: 100%; border-collapse: collapse; font-size: 14px; }
table.docs th { text-align: left; font-weight: 600; color: var(--muted); font-size: 12px; text-transform: uppercase; letter-spacing: .04em; padding: 0 10px 8px 0; border-bottom: 1px solid var(--line); }
table.docs td { padding: 10px 10px 10px 0; border-bottom: 1px solid #f0f1f4; vertical-align: middle; }
table.docs tr:last-child td { border-bottom: 0; }
table.docs td.num, table.docs th.num { text-align: right; font-variant-numeric: tabular-nums; }
table.docs .name { font-family: var(--mono); font-size: 13px; font-weight: 600; color: var(--ink); cursor: pointer; overflow-wrap: anywhere; }
table.docs .name:hover { color: var(--accent); }
table.docs .acts { display: flex; gap: 10px; justify-content: flex-end; font-size: 13px; white-space: nowrap; }
/* A phone has room for the name, who is there and the links: size and age are on the laptop view. */
@media (max-width: 600px) { table.docs .opt { display: none; } table.docs .acts { flex-direction: column; align-items: flex-end; gap: 4px; } table.docs th { letter-spacing: 0; } }
.live { display: inline-block; min-width: 22px; padding: 0 7px; border-radius: 999px; background: var(--ok-soft); color: var(--ok); font-weight: 700; text-align: center; }
.live.zero { background: #f1f2f4; color: var(--muted); font-weight: 500; }
.empty, .locked { color: var(--muted); padding: 18px 0 6px; }
.locked form { display: flex; gap: 8px; margin-top: 10px; flex-wrap: wrap; }
.locked input { flex: 1 1 220px; }
.snippets { display: grid; grid-template-columns: minmax(0, 1fr); gap: 20px; }
.snippet { display: flex; flex-direction: column; }
.snippet p { margin: -6px 0 12px; color: var(--muted); font-size: 14px; }
.code { position: relative; flex: 1; display: flex; }
.code pre { flex: 1; margin: 0; padding: 14px 16px; background: #15161a; color: #e6e7eb; border-radius: 10px; overflow: auto; line-height: 1.6; font-size: 12.5px; white-space: pre; }
.code .copy { position: absolute; top: 8px; right: 8px; background: #2a2c33; color: #e6e7eb; border-color: #3a3d46; }
.code .copy:hover { background: #34363e; }
.code .copy.done { background: var(--ok); border-color: var(--ok); color: #fff; }
@media (max-width: 600px) { .wrap { padding: 0 16px; } .hero { padding-top: 28px; } .hero h1 { font-size: 25px; } .hero .lead { font-size: 15.5px; } .top nav { display: none; } .open .btn { width: 100%; } }
footer.foot { color: var(--muted); font-size: 13px; padding: 36px 0 48px; }
footer.foot code { background: #eceef2; padding: 1px 6px; border-radius: 5px; }
`

function statusPill (m: HomeModel): string {
  return m.ready
    ? '<span class="pill ok" id="server-status">ready</span>'
    : `<span class="pill bad" id="server-status" title="${escapeHtml(m.problems.join('; '))}">not ready</span>`
}

export function renderHome (m: HomeModel): string {
  const seg = encodeSegment(defaultDoc)
  const link = (id: string, label: string, path: string): string =>
    `<span class="link"><b>${label}</b><a id="${id}" href="${escapeHtml(path)}">${escapeHtml(m.urls.http + path.slice(m.basePath.length))}</a></span>`
  const snippetCards = snippets.map(s => `
    <section class="card snippet" data-snippet="${s.id}">
      <h2>${escapeHtml(s.title)}</h2>
      <p>${escapeHtml(s.who)}</p>
      <div class="code"><pre><code id="snippet-${s.id}">${escapeHtml(fillSnippet(s.template, m.urls, defaultDoc))}</code></pre><button class="btn small copy" type="button" data-copy="snippet-${s.id}">Copy</button></div>
    </section>`).join('')
  const config = {
    base: m.basePath,
    urls: m.urls,
    defaultDoc,
    snippets: snippets.map(s => ({ id: s.id, template: s.template }))
  }
  const body = `
<header class="top"><div class="wrap row">
  <a class="brand" href="${escapeHtml(m.basePath)}/">${logoSvg}Weft</a>
  <span class="pill plain" id="server-version">v${escapeHtml(m.version)}</span>
  ${statusPill(m)}
  ${m.auth ? '<span class="pill accent">auth on</span>' : '<span class="pill warn" title="every client may read and write every doc">no auth</span>'}
  <span class="spacer"></span>
  <nav><a href="${escapeHtml(m.basePath)}/healthz">healthz</a><a href="${escapeHtml(m.basePath)}/readyz">readyz</a><a href="${escapeHtml(m.basePath)}/metrics">metrics</a><a href="${escapeHtml(m.basePath)}/docs">docs JSON</a></nav>
</div></header>
<main class="wrap">
  <section class="hero">
    <h1>Your Yjs sync server is running.</h1>
    <p class="lead">Open a document in two tabs and type in both: they converge. Follow it read-only in the viewer, or stream it with <code>curl</code>. Then copy a snippet below into your own app.</p>
    <form class="open" id="open-form" action="${escapeHtml(m.basePath)}/edit" method="get">
      <label for="doc-name">Document</label>
      <input type="text" id="doc-name" name="doc" value="${escapeHtml(defaultDoc)}" maxlength="512" autocomplete="off" spellcheck="false" aria-label="document name">
      <button class="btn primary" type="submit">Open editor</button>
    </form>
    <div class="links">
      ${link('link-edit', 'Editor', `${m.basePath}/edit/${seg}`)}
      ${link('link-view', 'Viewer', `${m.basePath}/view/${seg}`)}
      ${link('link-events', 'SSE stream', `${m.basePath}/docs/${seg}/events`)}
    </div>
  </section>
  <div class="grid">
    <section class="card" id="docs-card">
      <h2>Documents <span class="pill plain" id="docs-count">…</span></h2>
      <div id="docs-body"><div class="empty">Loading…</div></div>
    </section>
    <section class="card" id="status-card">
      <h2>Server</h2>
      <dl class="facts">
        <dt>Version</dt><dd>${escapeHtml(m.version)}</dd>
        <dt>Status</dt><dd>${m.ready ? 'ready' : escapeHtml(`not ready: ${m.problems.join('; ')}`)}</dd>
        <dt>Storage</dt><dd>${escapeHtml(m.storage)}</dd>
        <dt>Docs in memory</dt><dd id="fact-loaded">${m.docsLoaded}</dd>
        <dt>Connected peers</dt><dd id="fact-peers">${m.peers}</dd>
        <dt>Access</dt><dd>${m.auth ? 'JWT / authenticate() required' : 'open: anyone may write (local use)'}</dd>
        <dt>WebSocket</dt><dd><code>${escapeHtml(m.urls.ws)}/&lt;doc&gt;</code></dd>
        <dt>HTTP</dt><dd><code>${escapeHtml(m.urls.http)}</code></dd>
      </dl>
    </section>
  </div>
  <h2 class="section-title">Connect your app</h2>
  <p class="section-sub">Three kinds of client, one server. The snippets follow the document name above.</p>
  <div class="snippets">${snippetCards}
  </div>
  <footer class="foot">Weft ${escapeHtml(m.version)} · options: <code>npm start -- --help</code> · production: <code>--no-ui</code> turns these pages off.</footer>
</main>
<script type="application/json" id="weft-home">${jsonForScript(config)}</script>
<script>${homeScript}</script>`
  return page({ title: 'Weft — Yjs sync server', css, body })
}

/** The page's behaviour: links and snippets follow the name; the doc list refreshes itself. */
const homeScript = `
(() => {
  'use strict'
  const config = JSON.parse(document.getElementById('weft-home').textContent)
  ${fillSnippetSource}
  const seg = doc => encodeURIComponent(doc).replace(/[!'()*]/g, ch => '%' + ch.charCodeAt(0).toString(16).toUpperCase())
  const $ = id => document.getElementById(id)
  const input = $('doc-name')
  const current = () => input.value.trim() || config.defaultDoc
  const paths = doc => ({
    edit: config.base + '/edit/' + seg(doc),
    view: config.base + '/view/' + seg(doc),
    events: config.base + '/docs/' + seg(doc) + '/events'
  })
  function refresh () {
    const doc = current()
    const p = paths(doc)
    for (const [key, path] of Object.entries(p)) {
      const a = $('link-' + key)
      a.href = path
      a.textContent = config.urls.http + path.slice(config.base.length)
    }
    for (const s of config.snippets) $('snippet-' + s.id).textContent = fillSnippet(s.template, config.urls, doc)
  }
  input.addEventListener('input', refresh)
  $('open-form').addEventListener('submit', e => {
    e.preventDefault()
    location.href = paths(current()).edit
  })

  document.addEventListener('click', e => {
    const btn = e.target.closest('[data-copy]')
    if (!btn) return
    const text = $(btn.dataset.copy).textContent
    const done = () => {
      btn.textContent = 'Copied'
      btn.classList.add('done')
      setTimeout(() => { btn.textContent = 'Copy'; btn.classList.remove('done') }, 1500)
    }
    const fallback = () => {
      const range = document.createRange()
      range.selectNodeContents($(btn.dataset.copy))
      const sel = getSelection()
      sel.removeAllRanges()
      sel.addRange(range)
      try { document.execCommand('copy') } catch {}
      done()
    }
    if (navigator.clipboard && window.isSecureContext) navigator.clipboard.writeText(text).then(done, fallback)
    else fallback()
  })

  // ---- the doc list ----
  const tokenKey = 'weft:admin-token'
  let token = ''
  try { token = sessionStorage.getItem(tokenKey) || '' } catch {}
  let locked = false
  const el = (tag, cls, text) => {
    const n = document.createElement(tag)
    if (cls) n.className = cls
    if (text !== undefined) n.textContent = text
    return n
  }
  const size = b => b < 1024 ? b + ' B' : b < 1048576 ? (b / 1024).toFixed(1) + ' KB' : (b / 1048576).toFixed(1) + ' MB'
  const ago = iso => {
    if (!iso) return '—'
    const s = Math.max(0, Math.round((Date.now() - Date.parse(iso)) / 1000))
    return s < 60 ? s + ' s ago' : s < 3600 ? Math.round(s / 60) + ' min ago' : s < 86400 ? Math.round(s / 3600) + ' h ago' : new Date(iso).toLocaleDateString()
  }
  const live = n => el('span', n > 0 ? 'live' : 'live zero', String(n))
  function renderDocs (data) {
    const body = $('docs-body')
    $('docs-count').textContent = String(data.totals.docs)
    if ($('fact-loaded')) $('fact-loaded').textContent = String(data.totals.loaded)
    if ($('fact-peers')) $('fact-peers').textContent = String(data.totals.editors + data.totals.observers)
    if (data.docs.length === 0) {
      body.replaceChildren(el('div', 'empty', 'No documents yet. Open one above and type something.'))
      return
    }
    const table = el('table', 'docs')
    const head = el('tr')
    for (const [label, cls] of [['Name'], ['Editors', 'num'], ['Observers', 'num'], ['Stored', 'num opt'], ['Last change', 'opt'], ['', 'num']]) head.append(el('th', cls, label))
    table.append(head)
    for (const d of data.docs) {
      const tr = el('tr')
      tr.dataset.doc = d.name
      const name = el('td')
      const n = el('span', 'name', d.name)
      n.title = 'use this name above'
      n.addEventListener('click', () => { input.value = d.name; refresh(); input.focus() })
      name.append(n)
      const ed = el('td', 'num'); ed.append(live(d.editors))
      const ob = el('td', 'num'); ob.append(live(d.observers))
      const st = el('td', 'num opt', d.stored ? size(d.bytes) : '—')
      st.title = d.records + ' stored record(s)'
      const lc = el('td', 'muted opt', ago(d.lastChange))
      const acts = el('td')
      const wrap = el('div', 'acts')
      const p = paths(d.name)
      for (const [label, href] of [['edit', p.edit], ['view', p.view], ['stream', p.events]]) {
        const a = el('a', '', label)
        a.href = href
        wrap.append(a)
      }
      acts.append(wrap)
      tr.append(name, ed, ob, st, lc, acts)
      table.append(tr)
    }
    if (data.storageError) {
      const tr = el('tr'); const td = el('td', 'muted', 'Storage could not list stored docs (' + data.storageError + '); showing loaded docs only.'); td.colSpan = 6; tr.append(td); table.append(tr)
    }
    if (data.truncated) {
      const tr = el('tr'); const td = el('td', 'muted', 'Showing the first ' + data.docs.length + ' documents.'); td.colSpan = 6; tr.append(td); table.append(tr)
    }
    body.replaceChildren(table)
  }
  function renderLocked (status, message) {
    locked = true
    $('docs-count').textContent = 'locked'
    const box = el('div', 'locked')
    box.append(el('div', '', token === ''
      ? "The document list is protected. Enter the admin token (the server's --admin-token) to see it."
      : status === 403 ? 'That token is not an admin credential.' : 'That token was not accepted.'))
    if (token !== '' && message) box.append(el('div', 'muted', message))
    const form = el('form')
    const field = el('input')
    field.type = 'password'
    field.placeholder = 'admin token'
    field.setAttribute('aria-label', 'admin token')
    const btn = el('button', 'btn', 'Unlock')
    btn.type = 'submit'
    form.append(field, btn)
    form.addEventListener('submit', e => {
      e.preventDefault()
      token = field.value.trim()
      try { sessionStorage.setItem(tokenKey, token) } catch {}
      locked = false
      loadDocs()
    })
    box.append(form)
    $('docs-body').replaceChildren(box)
  }
  let loading = false
  async function loadDocs () {
    if (loading) return
    loading = true
    try {
      const res = await fetch(config.base + '/docs', { cache: 'no-store', headers: token ? { Authorization: 'Bearer ' + token } : {} })
      if (res.status === 401 || res.status === 403) {
        let message = ''
        try { message = (await res.json()).error || '' } catch {}
        renderLocked(res.status, message)
      } else if (!res.ok) {
        $('docs-body').replaceChildren(el('div', 'empty', 'Could not load the document list (HTTP ' + res.status + ').'))
      } else {
        renderDocs(await res.json())
      }
    } catch {
      $('docs-body').replaceChildren(el('div', 'empty', 'The server is not answering. Is it still running?'))
    } finally {
      loading = false
    }
  }
  refresh()
  loadDocs()
  setInterval(() => { if (!locked && document.visibilityState === 'visible') loadDocs() }, 3000)
})()
`

/**
 * The home page's Content-Security-Policy: only its own inline script (by hash) runs, it talks
 * only to this server. Defence in depth: doc names shown on the page are escaped anyway.
 */
export const homeCsp = `default-src 'none'; script-src 'sha256-${createHash('sha256').update(homeScript).digest('base64')}'; ` +
  "style-src 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'self'"
