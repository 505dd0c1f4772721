/**
 * Doc patterns in a token's `docs` claim: an exact name, or a glob where `*` matches any run
 * of characters except `/` and `**` matches anything (slashes included). So `team-a/*` grants
 * `team-a/notes` but not `team-a/x/y` (use `team-a/**` for that), and `*` alone grants only
 * top-level docs. Nothing else is special: `?`, `[`, `.` match themselves.
 *
 * Matched by dynamic programming over (pattern, name) positions rather than a RegExp: a regex
 * of many `[^/]*` runs backtracks exponentially on a near-miss, and a token issuer's pattern
 * should not be able to stall the server. Cost is O(pattern × name), both length-capped.
 */

/** Longest pattern considered; longer ones never match (doc names are capped at 512 by default). */
export const MAX_PATTERN_LENGTH = 1024

type Token = { kind: 'char', ch: string } | { kind: 'star' } | { kind: 'globstar' }

function tokenize (pattern: string): Token[] {
  const out: Token[] = []
  for (let i = 0; i < pattern.length; i++) {
    if (pattern[i] !== '*') { out.push({ kind: 'char', ch: pattern[i]! }); continue }
    let run = 1
    while (pattern[i + 1] === '*') { run++; i++ }
    // `**` (or longer runs) crosses slashes; consecutive stars add nothing beyond that.
    out.push({ kind: run >= 2 ? 'globstar' : 'star' })
  }
  return out
}

/** True when `doc` is granted by `pattern` (exact name or glob). */
export function docMatches (pattern: string, doc: string): boolean {
  if (!pattern.includes('*')) return pattern === doc
  if (pattern.length > MAX_PATTERN_LENGTH) return false
  const tokens = tokenize(pattern)
  // reach[j]: the first i tokens can match doc[0, j).
  let reach = new Uint8Array(doc.length + 1)
  reach[0] = 1
  for (const t of tokens) {
    const next = new Uint8Array(doc.length + 1)
    if (t.kind === 'char') {
      for (let j = 0; j < doc.length; j++) if (reach[j] === 1 && doc[j] === t.ch) next[j + 1] = 1
    } else {
      // A star extends a match over any run of characters (not `/` for a single star).
      let on = false
      for (let j = 0; j <= doc.length; j++) {
        if (reach[j] === 1) on = true
        if (on) next[j] = 1
        if (j < doc.length && t.kind === 'star' && doc[j] === '/') on = false
      }
    }
    reach = next
  }
  return reach[doc.length] === 1
}

/** True when any of the patterns grants `doc`. */
export function docsGrant (patterns: readonly string[], doc: string): boolean {
  return patterns.some(p => docMatches(p, doc))
}
