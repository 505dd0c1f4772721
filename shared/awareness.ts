/**
 * Awareness update codec with bounds, so the server can inspect and filter an update
 * (anti-spoofing, size caps) before `y-protocols/awareness` ever sees it.
 * Wire format (y-protocols): varUint count, then per entry varUint clientID, varUint clock,
 * varString JSON state ("null" means the client left).
 */
import * as encoding from 'lib0/encoding'
import * as decoding from 'lib0/decoding'
import { ProtocolError } from './protocol.js'
import { exceedsJsonDepth } from './json-depth.js'

export interface AwarenessEntry {
  clientID: number
  clock: number
  /** The state as JSON text, exactly as received ("null" = removed). */
  json: string
}

export interface AwarenessLimits {
  /** Most entries in one update. */
  maxEntries: number
  /** Longest JSON state, in UTF-8 bytes. */
  maxStateLength: number
}

const utf8 = new TextDecoder()
const NULL = [110, 117, 108, 108] // "null"

/**
 * An entry as received: its state stays bytes (a view into the message) until someone reads
 * `json`. A server refuses or skips most entries (stale echoes, claims over a cap) on their
 * id, clock and size alone; decoding megabytes of text it then drops cost 25–30 ms per 2 MiB
 * message under load (measured in test/attacks/presence-limits.test.ts's flood).
 */
export class DecodedAwarenessEntry implements AwarenessEntry {
  private text: string | null = null
  constructor (readonly clientID: number, readonly clock: number, private readonly state: Uint8Array) {}
  /** Size of the state in bytes. */
  get size (): number { return this.state.byteLength }
  /** The state is "null": the client left. */
  get isNull (): boolean { return this.state.byteLength === 4 && NULL.every((c, i) => this.state[i] === c) }
  get json (): string { return (this.text ??= utf8.decode(this.state)) }
}

export const defaultAwarenessLimits: AwarenessLimits = { maxEntries: 1024, maxStateLength: 64 * 1024 }

/**
 * Decodes an awareness update and checks every state (JSON, nesting). A server that drops
 * entries first (stale echoes, refused claims) decodes with `decodeAwarenessEntries` and checks
 * only what it keeps with `checkAwarenessStates`: parsing costs about 10–40 ms per MiB, and a
 * stock provider's echoes, most of its traffic, are never applied.
 */
export function decodeAwarenessUpdate (update: Uint8Array, limits: AwarenessLimits = defaultAwarenessLimits): DecodedAwarenessEntry[] {
  const entries = decodeAwarenessEntries(update, limits)
  checkAwarenessStates(entries)
  return entries
}

/** The entries of an awareness update, bounded and well framed; their JSON is not yet checked. */
export function decodeAwarenessEntries (update: Uint8Array, limits: AwarenessLimits = defaultAwarenessLimits): DecodedAwarenessEntry[] {
  const decoder = decoding.createDecoder(update)
  const entries: DecodedAwarenessEntry[] = []
  try {
    const count = decoding.readVarUint(decoder)
    if (count > limits.maxEntries) throw new ProtocolError(`awareness update has ${count} entries (max ${limits.maxEntries})`)
    for (let i = 0; i < count; i++) {
      const clientID = decoding.readVarUint(decoder)
      const clock = decoding.readVarUint(decoder)
      const state = decoding.readVarUint8Array(decoder)
      if (state.byteLength > limits.maxStateLength) throw new ProtocolError(`awareness state of ${state.byteLength} bytes (max ${limits.maxStateLength})`)
      entries.push(new DecodedAwarenessEntry(clientID, clock, state))
    }
  } catch (err) {
    if (err instanceof ProtocolError) throw err
    throw new ProtocolError(`malformed awareness update: ${(err as Error).message}`)
  }
  if (decoding.hasContent(decoder)) throw new ProtocolError('trailing bytes after awareness update')
  return entries
}

/** Throws `ProtocolError` unless every state is JSON nested at most `MAX_STATE_DEPTH` deep. */
export function checkAwarenessStates (entries: Iterable<AwarenessEntry>): void {
  parseAwarenessStates(entries)
}

/**
 * `checkAwarenessStates`, returning each entry's parsed state (same order): a server applies
 * them as they are instead of parsing every state again (server/docs/awareness-states.ts).
 */
export function parseAwarenessStates (entries: Iterable<AwarenessEntry>): unknown[] {
  const out: unknown[] = []
  for (const entry of entries) {
    // JSON.parse is safe (no prototype pollution through parse itself) and bounded by the cap above.
    let value: unknown
    try { value = JSON.parse(entry.json) } catch { throw new ProtocolError(`awareness state of client ${entry.clientID} is not JSON`) }
    // A removal is the exact text "null" (what y-protocols writes); a padded one would be counted
    // as a state by the server's presence caps and then applied as a removal.
    if (value === null && entry.json !== 'null') throw new ProtocolError(`awareness state of client ${entry.clientID} is a padded null`)
    // Parsing deep nesting works, but JSON.stringify (y-protocols re-encodes states for every
    // broadcast) recurses and throws on ~10k levels: one such state would fail every later
    // broadcast and every new peer's join. Real presence states are a few levels deep.
    if (exceedsJsonDepth(entry.json, MAX_STATE_DEPTH)) throw new ProtocolError(`awareness state of client ${entry.clientID} is nested deeper than ${MAX_STATE_DEPTH}`)
    out.push(value)
  }
  return out
}

/** Deepest nesting of arrays/objects accepted in an awareness state. */
export const MAX_STATE_DEPTH = 64



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

/**
 * `update` (a well-formed awareness update, e.g. one the server encoded) without the entries
 * whose client id `keep` refuses, sliced from its bytes: no state is decoded to text and
 * re-encoded. A broadcast builds one per peer that made some of its changes.
 */
export function filterAwarenessEntries (update: Uint8Array, keep: (clientID: number) => boolean): Uint8Array {
  const decoder = decoding.createDecoder(update)
  const count = decoding.readVarUint(decoder)
  const kept: number[] = [] // start, end of each kept entry
  for (let i = 0; i < count; i++) {
    const start = decoder.pos
    const clientID = decoding.readVarUint(decoder)
    decoding.readVarUint(decoder)
    decoding.readVarUint8Array(decoder)
    if (keep(clientID)) kept.push(start, decoder.pos)
  }
  const encoder = encoding.createEncoder()
  encoding.writeVarUint(encoder, kept.length / 2)
  for (let i = 0; i < kept.length; i += 2) encoding.writeUint8Array(encoder, update.subarray(kept[i], kept[i + 1]))
  return encoding.toUint8Array(encoder)
}

