/**
 * Doc patterns in a token's `docs` claim: an exact name, or a glob where `*` matches any run
 * of characters except `/` and `**` matches anything (slashes included). So `team-a/*` grants
 * `team-a/notes` but not `team-a/x/y` (use `team-a/**` for that), and `*` alone grants only
 * top-level docs. Nothing else is special: `?`, `[`, `.` match themselves.
 */

const cache = new Map<string, RegExp>()
const MAX_CACHED = 1024

function compile (pattern: string): RegExp {
  let re = cache.get(pattern)
  if (re !== undefined) return re
  let src = ''
  for (let i = 0; i < pattern.length; i++) {
    const ch = pattern[i]!
    if (ch === '*') {
      if (pattern[i + 1] === '*') { src += '.*'; i++ } else src += '[^/]*'
    } else {
      src += ch.replace(/[\\^$.|?+()[\]{}]/g, '\\$&')
    }
  }
  // Doc names cannot contain control characters, so `s` (dotAll) changes nothing; the anchors matter.
  re = new RegExp(`^${src}$`, 's')
  if (cache.size >= MAX_CACHED) cache.clear() // tokens carry few patterns; never grow without bound
  cache.set(pattern, re)
  return re
}

/** True when `doc` is granted by `pattern` (exact name or glob). */
export function docMatches (pattern: string, doc: string): boolean {
  if (!pattern.includes('*')) return pattern === doc
  return compile(pattern).test(doc)
}

/** True when any of the patterns grants `doc`. */
export function docsGrant (patterns: readonly string[], doc: string): boolean {
  return patterns.some(p => docMatches(p, doc))
}
