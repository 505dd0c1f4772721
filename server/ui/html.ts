/**
 * What the server-rendered pages share: escaping (doc names and Host headers are untrusted),
 * the page shell, and one stylesheet — inline, so the pages need no asset and no CDN.
 */

const entities: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' }

/** Text or attribute value → HTML. */
export function escapeHtml (text: string): string {
  return text.replace(/[&<>"']/g, ch => entities[ch]!)
}

/** JSON safe inside `<script type="application/json">`: no `</script>`, no `<!--`, no U+2028/9. */
export function jsonForScript (value: unknown): string {
  return JSON.stringify(value).replace(/</g, '\\u003c').replace(/>/g, '\\u003e').replace(/&/g, '\\u0026')
    .replace(/\u2028/g, '\\u2028').replace(/\u2029/g, '\\u2029')
}

/** A small woven mark: two warp threads crossed by a weft thread. */
export const logoSvg = '<svg class="logo" viewBox="0 0 32 32" aria-hidden="true"><rect width="32" height="32" rx="8" fill="#4f46e5"/><path d="M10 6v20M22 6v20" stroke="#c7d2fe" stroke-width="3" stroke-linecap="round"/><path d="M5 16c3.5 0 3.5-5 7-5s3.5 10 7 10 3.5-5 7-5" fill="none" stroke="#fff" stroke-width="3" stroke-linecap="round"/></svg>'

const favicon = `data:image/svg+xml,${encodeURIComponent(logoSvg.replace(' class="logo"', ' xmlns="http://www.w3.org/2000/svg"'))}`

export const baseCss = `
:root { --ink: #1c1d21; --muted: #6b6f7b; --line: #e6e7eb; --bg: #f6f7f9; --card: #fff; --accent: #4f46e5; --accent-soft: #eef0ff; --ok: #15803d; --ok-soft: #e7f6ec; --warn: #b45309; --warn-soft: #fdf3e3; --bad: #b91c1c; --bad-soft: #fdecec; --mono: ui-monospace, SFMono-Regular, "JetBrains Mono", Menlo, Consolas, monospace; }
* { box-sizing: border-box; }
html, body { margin: 0; }
body { font: 15px/1.55 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif; color: var(--ink); background: var(--bg); -webkit-font-smoothing: antialiased; }
a { color: var(--accent); text-decoration: none; }
a:hover { text-decoration: underline; }
code, pre, kbd { font-family: var(--mono); font-size: 13px; }
.logo { width: 28px; height: 28px; flex: none; }
.brand { display: inline-flex; align-items: center; gap: 10px; font-weight: 700; font-size: 18px; color: var(--ink); letter-spacing: -0.01em; }
.brand:hover { text-decoration: none; }
.pill { display: inline-flex; align-items: center; gap: 6px; padding: 2px 10px; border-radius: 999px; font-size: 12.5px; font-weight: 600; background: #eef0f3; color: var(--muted); white-space: nowrap; }
.pill::before { content: ""; width: 7px; height: 7px; border-radius: 50%; background: currentColor; opacity: .85; }
.pill.plain::before { display: none; }
.pill.ok, .pill[data-status="connected"], .pill[data-synced="true"] { background: var(--ok-soft); color: var(--ok); }
.pill.warn, .pill[data-status="connecting"], .pill[data-synced="false"] { background: var(--warn-soft); color: var(--warn); }
.pill.bad, .pill[data-status="disconnected"] { background: var(--bad-soft); color: var(--bad); }
.pill.accent { background: var(--accent-soft); color: var(--accent); }
.btn { display: inline-flex; align-items: center; justify-content: center; gap: 6px; height: 38px; padding: 0 16px; border-radius: 9px; border: 1px solid var(--line); background: #fff; color: var(--ink); font: inherit; font-weight: 600; cursor: pointer; white-space: nowrap; }
.btn:hover { border-color: #cfd1d8; text-decoration: none; }
.btn.primary { background: var(--accent); border-color: var(--accent); color: #fff; }
.btn.primary:hover { background: #4338ca; }
.btn.small { height: 28px; padding: 0 10px; font-size: 12.5px; border-radius: 7px; }
input[type=text], input[type=password] { height: 38px; padding: 0 12px; border-radius: 9px; border: 1px solid var(--line); font: inherit; background: #fff; color: var(--ink); min-width: 0; }
input[type=text]:focus, input[type=password]:focus { outline: 2px solid #c7d2fe; border-color: var(--accent); }
.muted { color: var(--muted); }
`

export interface PageParts {
  title: string
  /** Extra CSS for this page. */
  css?: string
  /** Already-escaped HTML. */
  body: string
}

export function page (parts: PageParts): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(parts.title)}</title>
<link rel="icon" href="${favicon}">
<style>${baseCss}${parts.css ?? ''}</style>
</head>
<body>
${parts.body}
</body>
</html>
`
}
