/**
 * `weft --help` and the README's options table, both made from settings.ts.
 */
import { envOf, flagOf, sections, settings, type Setting } from './settings.js'

const KiB = 1024

/** 16777216 → "16 MiB", 30000 → "30000". */
export function shown (s: Setting): string {
  if (s.shownDefault !== undefined) return s.shownDefault
  if (s.default === undefined) return ''
  if (typeof s.default === 'number' && s.name.includes('Bytes') && s.default >= KiB && s.default % KiB === 0) {
    return s.default % (KiB * KiB) === 0 ? `${s.default / KiB / KiB} MiB` : `${s.default / KiB} KiB`
  }
  return String(s.default)
}

function usage (s: Setting): string {
  if (s.offFlag !== undefined) return `--${s.offFlag}`
  if (s.type === 'boolean') return `--${flagOf(s)}`
  if (s.repeatable === true) return `--${flagOf(s)} <${s.urls === true ? 'url' : 'value'}>`
  const arg = s.type === 'int' ? 'n' : s.type === 'list' ? 'a,b' : s.type === 'enum' ? s.values!.join('|') : 'value'
  return `--${flagOf(s)} <${arg}>`
}

export function helpText (version: string): string {
  const lines = [
    `weft ${version} — a Yjs sync server (WebSocket, SSE, HTTP fallbacks)`,
    '',
    'Usage: weft [options]        (or: npm start -- [options])',
    '',
    'Each option is also an environment variable (shown after it) and a key of a JSON file',
    'given with --config FILE (WEFT_CONFIG); a flag wins over the variable, the variable over',
    'the file. Booleans in variables and files: 1/0, true/false.'
  ]
  for (const section of sections) {
    lines.push('', `${section}:`)
    for (const s of settings.filter(x => x.section === section)) {
      const def = shown(s)
      lines.push(`  ${usage(s)}`)
      lines.push(`      ${s.help}`)
      lines.push(`      ${envOf(s)}${def !== '' ? `  [${def}]` : ''}`)
    }
  }
  lines.push(
    '',
    '  --config <file>   a JSON object of options, e.g. { "port": 8080, "maxDocs": 500 }',
    '  -h, --help        show this help',
    '  -v, --version     print the version',
    '',
    'Token claims: docs (name, glob "team-a/*" or list), access ("read"|"write"), exp, sub.',
    'Clients send the token as ?token=, Authorization: Bearer, a Sec-WebSocket-Protocol entry',
    'or a weft_token cookie. Per-address limits count the socket peer: behind a proxy every',
    'client shares its address. Editors connect with the stock y-websocket provider to',
    'ws://HOST:PORT/<doc name>. Stop with Ctrl-C (or SIGTERM): clients are told, data is',
    'flushed, exit within 10 s.'
  )
  return lines.join('\n')
}

/** The README's options table (between its `options-table` markers). */
export function readmeTable (): string {
  const rows = ['| option | CLI flag / env | default | what |', '| --- | --- | --- | --- |']
  for (const section of sections) {
    for (const s of settings.filter(x => x.section === section)) {
      const name = s.option === true ? `\`${s.name}\`` : `(CLI) \`${s.name}\``
      const def = shown(s)
      rows.push(`| ${name} | \`${usage(s).replace(/ <.*>$/, '')}\` / \`${envOf(s)}\` | ${def === '' ? '' : `\`${def}\``} | ${s.help.replace(/\|/g, '\\|')} |`)
    }
  }
  return rows.join('\n')
}
