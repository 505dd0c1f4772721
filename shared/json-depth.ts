/**
 * How deep JSON text nests, read from the text without parsing it: a linear scan of brackets
 * outside strings, no recursion. Checked before `JSON.parse` (or before anything recurses over a
 * parsed value) so that deep nesting is refused cheaply instead of overflowing a stack later.
 */

/** True when `json` nests arrays/objects deeper than `max`; stops at the first bracket past it. */
export function exceedsJsonDepth (json: string, max: number): boolean {
  let depth = 0
  let inString = false
  for (let i = 0; i < json.length; i++) {
    const c = json.charCodeAt(i)
    if (inString) {
      if (c === 0x5c) i++ // backslash: skip the escaped char
      else if (c === 0x22) inString = false
    } else if (c === 0x22) {
      inString = true
    } else if (c === 0x5b || c === 0x7b) {
      if (++depth > max) return true
    } else if (c === 0x5d || c === 0x7d) {
      depth--
    }
  }
  return false
}
