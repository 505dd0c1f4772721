/**
 * Awareness update codec with bounds, so the server can inspect and filter an update
 * (anti-spoofing, size caps) before `y-protocols/awareness` ever sees it.
 * Wire format (y-protocols): varUint count, then per entry varUint clientID, varUint clock,
 * varString JSON state ("null" means the client left).
 */
import * as encoding from 'lib0/encoding'
import * as decoding from 'lib0/decoding'
import { ProtocolError } from './protocol.js'

export interface AwarenessEntry {
  clientID: number
  clock: number
  /** The state as JSON text, exactly as received ("null" = removed). */
  json: string
}

export interface AwarenessLimits {
  /** Most entries in one update. */
  maxEntries: number
  /** Longest JSON state, in UTF-16 code units (close to bytes for typical states). */
  maxStateLength: number
}

export const defaultAwarenessLimits: AwarenessLimits = { maxEntries: 1024, maxStateLength: 64 * 1024 }

export function decodeAwarenessUpdate (update: Uint8Array, limits: AwarenessLimits = defaultAwarenessLimits): AwarenessEntry[] {
  const decoder = decoding.createDecoder(update)
  const entries: AwarenessEntry[] = []
  try {
    const count = decoding.readVarUint(decoder)
    if (count > limits.maxEntries) throw new ProtocolError(`awareness update has ${count} entries (max ${limits.maxEntries})`)
    for (let i = 0; i < count; i++) {
      const clientID = decoding.readVarUint(decoder)
      const clock = decoding.readVarUint(decoder)
      const json = decoding.readVarString(decoder)
      if (json.length > limits.maxStateLength) throw new ProtocolError(`awareness state of ${json.length} chars (max ${limits.maxStateLength})`)
      entries.push({ clientID, clock, json })
    }
  } catch (err) {
    if (err instanceof ProtocolError) throw err
    throw new ProtocolError(`malformed awareness update: ${(err as Error).message}`)
  }
  if (decoding.hasContent(decoder)) throw new ProtocolError('trailing bytes after awareness update')
  for (const entry of entries) {
    // JSON.parse is safe (no prototype pollution through parse itself) and bounded by the cap above.
    try { JSON.parse(entry.json) } catch { throw new ProtocolError(`awareness state of client ${entry.clientID} is not JSON`) }
    // Parsing deep nesting works, but JSON.stringify (y-protocols re-encodes states for every
    // broadcast) recurses and throws on ~10k levels: one such state would fail every later
    // broadcast and every new peer's join. Real presence states are a few levels deep.
    if (jsonDepth(entry.json) > MAX_STATE_DEPTH) throw new ProtocolError(`awareness state of client ${entry.clientID} is nested deeper than ${MAX_STATE_DEPTH}`)
  }
  return entries
}

/** Deepest nesting of arrays/objects accepted in an awareness state. */
export const MAX_STATE_DEPTH = 64

/** Nesting depth of JSON text (brackets outside strings), without recursion. */
function jsonDepth (json: string): number {
  let depth = 0
  let max = 0
  let inString = false
  for (let i = 0; i < json.length; i++) {
    const c = json.charCodeAt(i)
    if (inString) {
      if (c === 92) i++ // backslash: skip the escaped char
      else if (c === 34) inString = false
    } else if (c === 34) inString = true
    else if (c === 91 || c === 123) { if (++depth > max) max = depth }
    else if (c === 93 || c === 125) depth--
  }
  return max
}

export function encodeAwarenessEntries (entries: readonly AwarenessEntry[]): Uint8Array {
  const encoder = encoding.createEncoder()
  encoding.writeVarUint(encoder, entries.length)
  for (const { clientID, clock, json } of entries) {
    encoding.writeVarUint(encoder, clientID)
    encoding.writeVarUint(encoder, clock)
    encoding.writeVarString(encoder, json)
  }
  return encoding.toUint8Array(encoder)
}
