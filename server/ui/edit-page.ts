/**
 * `GET /edit/:doc`: the live collaborative editor. The server renders the frame (header, status
 * bar) and the config; the bundled script (`client/ui/editor.ts`) mounts CodeMirror in it. When
 * the bundle was never built the page says how to build it instead of failing silently.
 */
import { escapeHtml, jsonForScript, logoSvg, page } from './html.js'
import { encodeSegment } from './snippets.js'

export interface EditModel {
  doc: string
  version: string
  /** Where the routes are mounted, as a path (`''` or `/collab`). */
  basePath: string
  /** Absolute HTTP base URL (what the provider connects to). */
  httpBase: string
  /** The hashed bundle file, or null when `dist/ui` has none. */
  script: string | null
  /** Auth is on: the page needs `?token=` to connect. */
  auth: boolean
}

const css = `
html, body { height: 100%; }
body { display: flex; flex-direction: column; overflow: hidden; }
.bar { display: flex; align-items: center; gap: 14px; height: 56px; padding: 0 18px; background: #fff; border-bottom: 1px solid var(--line); flex: none; min-width: 0; }
.bar .sep { width: 1px; height: 22px; background: var(--line); }
.doc-name { font-family: var(--mono); font-weight: 600; font-size: 14px; white-space: nowrap; overflow: hidden; text-overflow: ellipsis; max-width: 32vw; }
.spacer { flex: 1; }
#people { display: flex; gap: 6px; overflow: hidden; flex-wrap: nowrap; min-width: 0; }
.person { display: inline-flex; align-items: center; gap: 6px; padding: 3px 10px 3px 8px; border-radius: 999px; background: #f3f4f6; font-size: 12.5px; font-weight: 600; white-space: nowrap; }
.person.me { background: var(--accent-soft); color: #3730a3; }
.person .dot { width: 9px; height: 9px; border-radius: 50%; }
.me-field { display: inline-flex; align-items: center; gap: 6px; font-size: 13px; color: var(--muted); }
.me-field input { height: 30px; width: 150px; border-width: 2px; border-radius: 8px; font-size: 13px; padding: 0 8px; }
.bar nav { display: flex; gap: 14px; font-size: 13.5px; white-space: nowrap; }
.stage { flex: 1; min-height: 0; padding: 22px; display: flex; }
.sheet { flex: 1; max-width: 1000px; margin: 0 auto; background: #fff; border: 1px solid var(--line); border-radius: 14px; box-shadow: 0 1px 3px rgba(16,24,40,.06), 0 8px 24px rgba(16,24,40,.04); overflow: hidden; display: flex; flex-direction: column; min-width: 0; }
#editor { flex: 1; min-height: 0; }
#editor .cm-editor { height: 100%; }
.status { display: flex; align-items: center; gap: 10px; height: 38px; padding: 0 18px; background: #fff; border-top: 1px solid var(--line); font-size: 13px; color: var(--muted); flex: none; white-space: nowrap; overflow: hidden; }
.status .dotsep::before { content: "·"; }
.notice { margin: auto; max-width: 560px; padding: 32px; text-align: center; }
.notice h2 { margin: 0 0 10px; font-size: 20px; }
.notice code { background: #f1f2f4; padding: 2px 7px; border-radius: 6px; }
#auth-hint { display: none; color: var(--bad); }
body.needs-token #auth-hint { display: inline; }
@media (max-width: 760px) { .me-field, .bar nav .optional, #people, .status .hint { display: none; } .stage { padding: 0; } .sheet { border-radius: 0; border: 0; } .bar { gap: 10px; padding: 0 12px; } .status { gap: 6px; padding: 0 10px; } }
@media (max-width: 420px) { .status .pill { padding-left: 7px; padding-right: 7px; } .status .dotsep, #chars { display: none; } }
`

export function renderEdit (m: EditModel): string {
  const seg = encodeSegment(m.doc)
  const base = escapeHtml(m.basePath)
  const editor = m.script !== null
    ? '<div id="editor"></div>'
    : `<div class="notice" id="bundle-missing">
        <h2>The editor bundle is not built yet</h2>
        <p>Run <code>npm run build:ui</code> in the Weft folder (or restart with <code>npm start</code>, which builds it when missing), then reload this page.</p>
        <p class="muted">Meanwhile the <a href="${base}/view/${escapeHtml(seg)}">read-only viewer</a> works without it.</p>
      </div>`
  const config = { doc: m.doc, base: m.httpBase, auth: m.auth }
  const body = `
<header class="bar">
  <a class="brand" href="${base}/" title="Weft home">${logoSvg}Weft</a>
  <span class="sep"></span>
  <span class="doc-name" id="doc-name" title="${escapeHtml(m.doc)}">${escapeHtml(m.doc)}</span>
  <span class="spacer"></span>
  <div id="people" aria-label="people here"></div>
  <label class="me-field">You <input type="text" id="me" maxlength="40" spellcheck="false" aria-label="your name"></label>
  <nav><a id="link-view" href="${base}/view/${escapeHtml(seg)}" target="_blank" rel="noopener">Viewer ↗</a><a id="link-events" class="optional" href="${base}/docs/${escapeHtml(seg)}/events?view=json" target="_blank" rel="noopener">Stream ↗</a></nav>
</header>
<div class="stage"><div class="sheet">${editor}</div></div>
<footer class="status">
  <span id="status" class="pill" data-status="connecting">connecting</span>
  <span id="transport" class="pill accent plain" title="transport in use">—</span>
  <span id="synced" class="pill" data-synced="false">syncing…</span>
  <span id="count"></span><span class="dotsep"></span><span id="chars"></span>
  <span id="auth-hint">· this server needs a token: add <code>?token=…</code> to the URL</span>
  <span class="spacer"></span>
  <span class="hint">open this page in another tab to see it sync · weft ${escapeHtml(m.version)}</span>
</footer>
<script type="application/json" id="weft-config">${jsonForScript(config)}</script>
${m.script !== null ? `<script type="module" src="${base}/ui/assets/${escapeHtml(m.script)}"></script>` : ''}`
  return page({ title: `${m.doc} — Weft editor`, css, body })
}

/**
 * The editor's Content-Security-Policy: scripts only from this server (the bundle), network only
 * to this server over HTTP and WebSocket. CodeMirror injects its styles, hence inline styles.
 */
export function editCsp (wsOrigin: string): string {
  return "default-src 'none'; script-src 'self'; style-src 'unsafe-inline'; img-src 'self' data:; " +
    `connect-src 'self' ${wsOrigin}; base-uri 'none'; form-action 'none'; frame-ancestors 'self'`
}
