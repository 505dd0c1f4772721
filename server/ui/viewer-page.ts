/**
 * The live viewer page (`GET /view/:doc`): one self-contained HTML document (inline CSS and
 * script, no build, no CDN) that follows the doc through `EventSource` on the JSON view.
 *
 * Document content is untrusted. The page never puts it through `innerHTML`: XML fragments
 * are parsed with `DOMParser` as XML (an inert document: nothing in it runs) and rebuilt element
 * by element from an allow-list (paragraph → p, heading → h1–h6, …; links only http(s)/mailto),
 * text always as text nodes. The doc name is read by the script from its own URL, so nothing
 * from the request is interpolated into the HTML either; a CSP with a per-response nonce backs
 * this up (an injected script would not run).
 *
 * Versions (http/versions.ts): a "Versions" button lists them (time, name, who; hidden when the
 * token may not read them); `?version=ID` shows that version once, read-only, under a banner
 * leading back to the live doc. The list is a panel under the header, full width on a phone.
 */
import { logoSvg, page } from './html.js'

const css = `
header.bar { position: sticky; top: 0; z-index: 2; display: flex; align-items: center; gap: 14px; padding: 12px 24px; background: rgba(255,255,255,.92); backdrop-filter: blur(6px); border-bottom: 1px solid var(--line); }
header.bar .doc { display: flex; flex-direction: column; min-width: 0; }
header.bar .doc .label { font-size: 11.5px; text-transform: uppercase; letter-spacing: .06em; color: var(--muted); font-weight: 600; }
header.bar .doc h1 { margin: 0; font-size: 17px; font-weight: 650; white-space: nowrap; overflow: hidden; text-overflow: ellipsis; max-width: 46vw; }
header.bar .spacer { flex: 1; }
.people { display: flex; align-items: center; gap: 6px; flex-wrap: wrap; justify-content: flex-end; }
.person { display: inline-flex; align-items: center; gap: 6px; padding: 2px 10px 2px 6px; border-radius: 999px; background: #fff; border: 1px solid var(--line); font-size: 12.5px; font-weight: 600; }
.person .dot { width: 9px; height: 9px; border-radius: 50%; }
main { max-width: 860px; margin: 28px auto 60px; padding: 0 20px; }
.root { background: var(--card); border: 1px solid var(--line); border-radius: 14px; box-shadow: 0 1px 2px rgba(16,24,40,.04), 0 8px 24px -12px rgba(16,24,40,.10); margin-bottom: 22px; overflow: hidden; }
.root > .head { display: flex; align-items: center; gap: 10px; padding: 10px 18px; border-bottom: 1px solid var(--line); background: #fbfbfc; }
.root > .head .name { font-family: var(--mono); font-size: 12.5px; font-weight: 600; }
.root > .head .kind { font-size: 11px; text-transform: uppercase; letter-spacing: .06em; color: var(--muted); font-weight: 700; }
.root > .body { padding: 22px 28px; }
.rich { font-size: 16.5px; line-height: 1.7; font-family: Charter, "Iowan Old Style", Georgia, Cambria, serif; overflow-wrap: anywhere; }
.rich > :first-child { margin-top: 0; } .rich > :last-child { margin-bottom: 0; }
.rich h1, .rich h2, .rich h3, .rich h4 { font-family: system-ui, sans-serif; line-height: 1.25; letter-spacing: -0.01em; }
.rich blockquote { margin: 1em 0; padding: 2px 16px; border-left: 3px solid #c7d2fe; color: #3f4350; }
.rich pre { background: #f4f5f7; padding: 12px 14px; border-radius: 8px; overflow: auto; font-size: 13px; }
.rich code { background: #f1f2f5; padding: 1px 5px; border-radius: 4px; font-size: .86em; }
.rich pre code { background: none; padding: 0; }
.rich .unknown { outline: 1px dashed #d4d6dd; outline-offset: 2px; border-radius: 3px; }
.rich li > p { margin: .2em 0; }
.rich blockquote > p { margin: .5em 0; }
.rich hr { border: 0; border-top: 1px solid var(--line); margin: 1.6em 0; }
.rich table { border-collapse: collapse; } .rich td, .rich th { border: 1px solid var(--line); padding: 4px 8px; }
pre.plain, pre.json { margin: 0; white-space: pre-wrap; overflow-wrap: anywhere; font-size: 13.5px; line-height: 1.6; }
pre.json { color: #374151; }
.empty { text-align: center; padding: 60px 20px; color: var(--muted); }
.empty strong { display: block; color: var(--ink); font-size: 17px; margin-bottom: 4px; }
footer.meta { max-width: 860px; margin: -40px auto 40px; padding: 0 20px; display: flex; gap: 14px; color: var(--muted); font-size: 12.5px; }
footer.meta code { font-size: 12px; }
/* Versions: a panel under the header (full width on a phone), and a banner over a version shown. */
#versions { max-width: 860px; margin: 16px auto 0; padding: 0 20px; }
#versions[hidden] { display: none; }
#versions-toggle[hidden] { display: none; }
#versions .list { background: var(--card); border: 1px solid var(--line); border-radius: 14px; max-height: 50vh; overflow: auto; }
#versions a.v { display: flex; flex-wrap: wrap; gap: 2px 10px; align-items: baseline; padding: 10px 16px; border-bottom: 1px solid var(--line); color: var(--ink); }
#versions a.v:last-child { border-bottom: 0; }
#versions a.v:hover { background: #fbfbfc; text-decoration: none; }
#versions a.v[aria-current="true"] { background: var(--accent-soft); }
#versions a.v .vname { font-weight: 650; overflow-wrap: anywhere; }
#versions a.v .vmeta { font-size: 12.5px; color: var(--muted); }
#versions .none { padding: 14px 16px; color: var(--muted); }
.banner { max-width: 860px; margin: 16px auto 0; padding: 10px 16px; border-radius: 12px; background: var(--warn-soft); color: var(--warn); font-weight: 600; display: flex; flex-wrap: wrap; gap: 6px 14px; align-items: center; }
.banner[hidden] { display: none; }
.banner a { font-weight: 700; }
@media (max-width: 640px) { header.bar { flex-wrap: wrap; padding: 10px 14px; } .root > .body { padding: 16px; } #versions, .banner { margin-left: 10px; margin-right: 10px; } #versions { padding: 0; } }
`

/** The page's script. Plain ES2017, no template literals: it is embedded in one. */
const script = String.raw`
(function () {
  'use strict';
  var seg = location.pathname.split('/').pop() || '';
  var name = seg; try { name = decodeURIComponent(seg); } catch (e) {}
  var $ = function (id) { return document.getElementById(id); };
  $('doc-name').textContent = name;
  document.title = name + ' \u00b7 Weft viewer';
  var params = new URLSearchParams(location.search);
  var query = new URLSearchParams({ view: 'json' });
  ['token', 'types'].forEach(function (k) { if (params.get(k)) query.set(k, params.get(k)); });
  var base = new URL('../docs/' + seg + '/events', location.href);
  var people = new Map();
  var lastId = '', lastChange = 0, es = null, retryTimer = null;
  var versionId = params.get('version');

  // ---- versions ------------------------------------------------------------------------
  // Versions are listed from /docs/:doc/versions (hidden when the token may not read them); a
  // version opens as ?version=ID: its content from /docs/:doc?version=ID, shown once, not live.
  function docUrl(suffix, extra) {
    var url = new URL('../docs/' + seg + suffix, location.href);
    ['token', 'types'].forEach(function (k) { if (params.get(k)) url.searchParams.set(k, params.get(k)); });
    Object.keys(extra || {}).forEach(function (k) { url.searchParams.set(k, extra[k]); });
    return url.href;
  }
  function pageUrl(id) {
    var q = new URLSearchParams(location.search);
    if (id) q.set('version', id); else q.delete('version');
    var s = q.toString();
    return location.pathname + (s ? '?' + s : '');
  }
  function when(iso) {
    var d = new Date(iso);
    return isNaN(d.getTime()) ? iso : d.toLocaleString([], { dateStyle: 'medium', timeStyle: 'short' });
  }
  function versionLabel(v) { return v.name || (v.auto ? 'Automatic checkpoint' : 'Version'); }
  function versionMeta(v) { return when(v.at) + (v.by ? ' \u00b7 ' + v.by : '') + ' \u00b7 ' + Math.max(1, Math.round(v.size / 1024)) + ' KB'; }

  var versions = [];
  function loadVersions() {
    return fetch(docUrl('/versions'), { credentials: 'same-origin' }).then(function (res) {
      if (!res.ok) throw new Error('HTTP ' + res.status);
      return res.json();
    }).then(function (data) {
      versions = Array.isArray(data.versions) ? data.versions : [];
      $('versions-toggle').hidden = false;
      $('versions-toggle').textContent = 'Versions (' + versions.length + ')';
      renderVersions();
    }, function () { $('versions-toggle').hidden = true; });
  }
  function renderVersions() {
    var items = [];
    var live = el('a', 'v');
    live.href = pageUrl(null);
    live.setAttribute('aria-current', versionId ? 'false' : 'true');
    live.append(el('span', 'vname', 'Live document'), el('span', 'vmeta', 'follows every edit'));
    items.push(live);
    versions.forEach(function (v) {
      var a = el('a', 'v');
      a.href = pageUrl(v.id);
      a.setAttribute('aria-current', v.id === versionId ? 'true' : 'false');
      a.append(el('span', 'vname', versionLabel(v)), el('span', 'vmeta', versionMeta(v)));
      items.push(a);
    });
    if (versions.length === 0) items.push(el('div', 'none', 'No versions yet.'));
    var list = $('versions-list');
    list.replaceChildren.apply(list, items);
    if (versionId) {
      var v = versions.filter(function (x) { return x.id === versionId; })[0];
      if (v) $('banner-text').textContent = 'Version: ' + versionLabel(v) + ' \u00b7 ' + versionMeta(v) + ' \u2014 read-only';
    }
  }
  function showVersion() {
    $('banner').hidden = false;
    $('banner-live').href = pageUrl(null);
    setStatus('connecting', 'Loading version\u2026');
    fetch(docUrl('', { version: versionId }), { credentials: 'same-origin', headers: { Accept: 'application/json' } }).then(function (res) {
      if (!res.ok) throw new Error(res.status === 404 ? 'No such version' : 'HTTP ' + res.status);
      return res.json();
    }).then(function (data) {
      render(data.content || {}, data.types || {});
      lastId = data.cursor || '';
      setStatus('connected', 'Version');
      tick();
    }, function (err) {
      setStatus('disconnected', String(err.message || err));
    });
  }
  $('versions-toggle').addEventListener('click', function () {
    var panel = $('versions');
    panel.hidden = !panel.hidden;
    $('versions-toggle').setAttribute('aria-expanded', panel.hidden ? 'false' : 'true');
    if (!panel.hidden) loadVersions();
  });

  function setStatus(status, text) {
    var pill = $('status');
    pill.setAttribute('data-status', status);
    pill.textContent = text;
  }

  function connect() {
    var url = new URL(base.href);
    query.forEach(function (v, k) { url.searchParams.set(k, v); });
    // A fresh EventSource does not send Last-Event-ID: resume with ?cursor= instead.
    if (lastId) url.searchParams.set('cursor', lastId);
    es = new EventSource(url.href);
    setStatus('connecting', lastId ? 'Reconnecting\u2026' : 'Connecting\u2026');
    es.onopen = function () { setStatus('connected', 'Live'); people.clear(); renderPeople(); };
    es.onerror = function () {
      if (es.readyState === EventSource.CLOSED) {
        // Refused (401/403/404) or the server is gone: try again later ourselves.
        setStatus('disconnected', 'Offline \u2014 retrying');
        es.close();
        clearTimeout(retryTimer);
        retryTimer = setTimeout(connect, 5000);
      } else {
        setStatus('connecting', 'Reconnecting\u2026');
      }
    };
    ['snapshot', 'reset', 'update'].forEach(function (type) {
      es.addEventListener(type, function (e) {
        lastId = e.lastEventId || lastId;
        var data = JSON.parse(e.data);
        if (data.content) render(data.content, data.types || {});
        // A snapshot is how the doc was when we came, not a change.
        if (type === 'update') lastChange = Date.now();
        tick();
      });
    });
    es.addEventListener('awareness', function (e) {
      var data = JSON.parse(e.data);
      (data.removed || []).forEach(function (id) { people.delete(String(id)); });
      Object.keys(data.states || {}).forEach(function (id) { people.set(id, data.states[id]); });
      renderPeople();
    });
  }

  function el(tag, className, text) {
    var node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined) node.textContent = text;
    return node;
  }

  function renderPeople() {
    var box = $('people');
    var chips = [];
    people.forEach(function (state) {
      var user = state && typeof state === 'object' ? state.user : null;
      if (!user || typeof user.name !== 'string' || chips.length >= 8) return;
      var chip = el('span', 'person');
      var dot = el('span', 'dot');
      dot.style.backgroundColor = /^#[0-9a-f]{3,8}$/i.test(user.color || '') ? user.color : '#9aa0ab';
      chip.append(dot, el('span', 'name', user.name.slice(0, 40)));
      chips.push(chip);
    });
    box.replaceChildren.apply(box, chips);
    var n = people.size;
    $('present').textContent = n === 1 ? '1 person here' : n + ' people here';
    $('present').className = n > 0 ? 'pill accent' : 'pill';
  }

  // ---- content -------------------------------------------------------------------------
  var BLOCK = { paragraph: 'p', blockquote: 'blockquote', bullet_list: 'ul', bulletList: 'ul', ordered_list: 'ol', orderedList: 'ol',
    list_item: 'li', listItem: 'li', horizontal_rule: 'hr', horizontalRule: 'hr', hard_break: 'br', hardBreak: 'br',
    table: 'table', table_row: 'tr', tableRow: 'tr', table_cell: 'td', tableCell: 'td', table_header: 'th', tableHeader: 'th',
    p: 'p', ul: 'ul', ol: 'ol', li: 'li', br: 'br', hr: 'hr', div: 'div', span: 'span' };
  var INLINE = { strong: 'strong', bold: 'strong', b: 'strong', em: 'em', italic: 'em', i: 'em', code: 'code', underline: 'u', u: 'u',
    strike: 's', strikethrough: 's', s: 's', sub: 'sub', subscript: 'sub', sup: 'sup', superscript: 'sup', mark: 'mark', highlight: 'mark' };
  var SAFE_LINK = /^(https?:|mailto:)/i;

  function xmlNode(node, depth) {
    if (node.nodeType === 3) return document.createTextNode(node.nodeValue);
    if (node.nodeType !== 1) return null;
    var tag = node.nodeName, out;
    if (tag === 'heading') {
      var level = parseInt(node.getAttribute('level') || '1', 10);
      out = document.createElement('h' + (level >= 1 && level <= 6 ? level : 2));
    } else if (tag === 'code_block' || tag === 'codeBlock') {
      out = document.createElement('pre');
      out.appendChild(el('code', '', node.textContent));
      return out;
    } else if (tag === 'link' || tag === 'a') {
      out = document.createElement('a');
      var href = node.getAttribute('href') || '';
      if (SAFE_LINK.test(href)) { out.href = href; out.rel = 'noopener noreferrer nofollow'; out.target = '_blank'; }
    } else if (tag === 'image' || tag === 'img') {
      return el('span', 'unknown', '[image' + (node.getAttribute('alt') ? ': ' + node.getAttribute('alt') : '') + ']');
    } else if (BLOCK[tag] || INLINE[tag]) {
      out = document.createElement(BLOCK[tag] || INLINE[tag]);
    } else {
      out = el(depth === 0 ? 'div' : 'span', 'unknown');
      out.title = tag;
    }
    for (var c = node.firstChild; c; c = c.nextSibling) {
      var child = xmlNode(c, depth + 1);
      if (child) out.appendChild(child);
    }
    return out;
  }

  function renderXml(xml) {
    var box = el('div', 'rich');
    var parsed = new DOMParser().parseFromString('<weft-root>' + xml + '</weft-root>', 'application/xml');
    if (parsed.getElementsByTagName('parsererror').length > 0) {
      box.appendChild(el('pre', 'plain', xml));
      return box;
    }
    for (var c = parsed.documentElement.firstChild; c; c = c.nextSibling) {
      var node = xmlNode(c, 0);
      if (node) box.appendChild(node);
    }
    return box;
  }

  var KIND_LABEL = { xml: 'rich text', text: 'text', map: 'map', array: 'array' };

  function render(content, types) {
    var names = Object.keys(content);
    var roots = names.map(function (rootName) {
      var kind = types[rootName] || (typeof content[rootName] === 'string' ? 'text' : 'map');
      var value = content[rootName];
      var card = el('section', 'root');
      var head = el('div', 'head');
      head.append(el('span', 'name', rootName), el('span', 'kind', KIND_LABEL[kind] || kind));
      var body = el('div', 'body');
      if (kind === 'xml') body.appendChild(renderXml(String(value)));
      else if (kind === 'text') body.appendChild(el('pre', 'plain', String(value)));
      else body.appendChild(el('pre', 'json', JSON.stringify(value, null, 2)));
      card.append(head, body);
      return card;
    });
    if (roots.length === 0) {
      var empty = el('div', 'root empty');
      empty.append(el('strong', '', 'This document is empty'), el('span', '', 'Edits will appear here as they happen.'));
      roots.push(empty);
    }
    $('content').replaceChildren.apply($('content'), roots);
  }

  function tick() {
    if (lastChange) {
      var s = Math.round((Date.now() - lastChange) / 1000);
      $('updated').textContent = s < 2 ? 'updated just now' : s < 90 ? 'updated ' + s + ' s ago' : 'updated ' + Math.round(s / 60) + ' min ago';
    }
    $('cursor').textContent = lastId;
  }
  setInterval(tick, 1000);
  loadVersions();
  if (versionId) { $('versions').hidden = false; showVersion(); } else connect();
})();
`

export function viewerPage (nonce: string): string {
  const body = `
<header class="bar">
  <a class="brand" href="../" aria-label="Weft">${logoSvg}</a>
  <div class="doc"><span class="label">Watching</span><h1 id="doc-name"></h1></div>
  <span class="pill plain">read-only</span>
  <span class="spacer"></span>
  <div class="people" id="people"></div>
  <span class="pill" id="present">0 people here</span>
  <span class="pill" id="status" data-status="connecting">Connecting…</span>
  <button class="btn small" id="versions-toggle" type="button" aria-controls="versions" aria-expanded="false" hidden>Versions</button>
</header>
<div class="banner" id="banner" hidden><span id="banner-text">Version — read-only</span><a id="banner-live" href="">Back to the live document</a></div>
<nav id="versions" aria-label="Versions" hidden><div class="list" id="versions-list"></div></nav>
<main id="content" aria-live="polite"><div class="root empty"><strong>Loading…</strong></div></main>
<footer class="meta"><span id="updated"></span><span>cursor <code id="cursor"></code></span></footer>
<script nonce="${nonce}">${script}</script>`
  return page({ title: 'Weft viewer', css, body })
}

/** The page's policy: only its own nonce'd script runs, it may only talk back to this server. */
export const viewerCsp = (nonce: string): string =>
  `default-src 'none'; script-src 'nonce-${nonce}'; style-src 'unsafe-inline'; connect-src 'self'; img-src data:; base-uri 'none'; form-action 'none'; frame-ancestors 'self'`
