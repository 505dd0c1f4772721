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
  }
  return entries
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
