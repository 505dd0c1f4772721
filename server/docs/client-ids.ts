/**
 * Two Y.Docs writing under the same Yjs client id.
 *
 * A Yjs struct is named by (client id, clock), and every doc assumes that name means one thing.
 * When two docs share a client id (a cloned doc, a clientID set by hand, a state restored into
 * two tabs) both write different structs under the same names: every peer keeps whichever it
 * saw first and silently drops the other, so text is corrupted ("from A!!") and one writer
 * diverges for good. The server can see it happen: an incoming struct whose id range the server
 * already holds (or has in its write pipeline) but whose content differs — another origin, right
 * origin, parent, map key, content kind or content — can only come from a second doc with the
 * same client id. Who wrote a client id first is no signal (y-websocket relays other clients'
 * structs between tabs, and every sync step2 may repeat structs the server has); a different
 * struct under a known name is.
 *
 * The check is cheap for live typing: only structs below the known state of their client need a
 * look-up (a binary search in the struct store), and new edits are above it.
 *
 * A second doc rarely sends known structs by itself, though: its sync step2 answers the server's
 * state vector, so it sends only what lies above it, and its first new edit then lands right
 * after the other doc's structs (that is the corruption). So the server's step1 to a writer
 * claims one clock less than it has for every client (`probeStateVector`): a peer that has that
 * clock sends the last element of each client back, one element each (Yjs encodes from an
 * offset), and a twin is caught before it writes anything. A peer with fewer clocks of a client
 * than the server sends none of them, and would take the server's rest of that client as the
 * continuation of its own; so once its step1 shows that, the server asks again with the peer's
 * own state vector one clock short for those clients (`behindProbe`, sent before the step2 that
 * fills the peer in), and compares the peer's last element of each.
 */
import * as Y from 'yjs'
import { equalityDeep } from 'lib0/function'
import type { DecodedUpdate } from './validate.js'
import type { InFlight } from './in-flight.js'
import { WeftError } from '../errors.js'

/** An update writes structs under a client id that already names different structs. */
export class ClientIdConflictError extends WeftError {
  override name = 'ClientIdConflictError'
  constructor (readonly client: number, readonly clock: number) {
    super('clientIdConflict', `client id ${client} already names different content at clock ${clock}: two docs use the same Yjs client id`)
  }
}

/** Throws `ClientIdConflictError` when `decoded` rewrites a known struct with other content. */
export function checkClientIds (decoded: DecodedUpdate, ydoc: Y.Doc, inFlight: InFlight): void {
  for (const s of decoded.structs) {
    if (!(s instanceof Y.Item)) continue // GC and Skip structs carry nothing to compare
    const client = s.id.client
    const state = Y.getState(ydoc.store, client)
    if (s.id.clock < state) compareWith(s, ydoc.store.clients.get(client)!, 0)
    if (s.id.clock < inFlight.end(client) && s.id.clock + s.length > state) {
      // Not applied yet: a write in the pipeline may name the same structs.
      for (const w of inFlight) {
        const block = clientBlock(w.decoded, client)
        if (block !== null) compareWith(s, w.decoded.structs, block.from, block.to)
      }
    }
  }
}

/**
 * Compares `s` with the structs of its client in `structs[from, to)` (sorted by clock, no
 * overlaps: the struct store, or one client's block of an update) that overlap it.
 */
function compareWith (s: Y.Item, structs: Array<Y.Item | Y.GC | Y.Skip>, from: number, to = structs.length): void {
  // Binary search: the first struct that ends after s starts.
  let lo = from
  let hi = to
  while (lo < hi) {
    const mid = (lo + hi) >>> 1
    const m = structs[mid]!
    if (m.id.clock + m.length <= s.id.clock) lo = mid + 1
    else hi = mid
  }
  const end = s.id.clock + s.length
  for (let i = lo; i < to && structs[i]!.id.clock < end; i++) {
    const known = structs[i]!
    if (!(known instanceof Y.Item)) continue
    const at = differsAt(s, known)
    if (at !== null) throw new ClientIdConflictError(s.id.client, at)
  }
}

/** Where `client`'s structs are in `decoded.structs` (one block per client: update-bounds.ts). */
const blocks = new WeakMap<DecodedUpdate, Map<number, { from: number, to: number }>>()
function clientBlock (decoded: DecodedUpdate, client: number): { from: number, to: number } | null {
  let map = blocks.get(decoded)
  if (map === undefined) {
    map = new Map()
    decoded.structs.forEach((s, i) => {
      const b = map!.get(s.id.client)
      if (b === undefined) map!.set(s.id.client, { from: i, to: i + 1 })
      else b.to = i + 1
    })
    blocks.set(decoded, map)
  }
  return map.get(client) ?? null
}

/**
 * The first clock where items `a` and `b` (same client) overlap and say different things, or
 * null. Compared element by element where they overlap, so items split or merged differently
 * on each side (Yjs does both) compare equal: inside an item, the element at clock k has the
 * origin (client, k - 1) and the item's right origin.
 */
function differsAt (a: Y.Item, b: Y.Item): number | null {
  const from = Math.max(a.id.clock, b.id.clock)
  const to = Math.min(a.id.clock + a.length, b.id.clock + b.length)
  if (from >= to) return null
  const origin = (it: Y.Item): Y.ID | null => from === it.id.clock ? it.origin : Y.createID(it.id.client, from - 1)
  if (!sameId(origin(a), origin(b)) || !sameId(a.rightOrigin, b.rightOrigin)) return from
  // With neither origin, the parent and map key place the element (otherwise the origins do).
  if (origin(a) === null && a.rightOrigin === null && (parentKey(a) !== parentKey(b) || a.parentSub !== b.parentSub)) return from
  const ca = a.content
  const cb = b.content
  // Deleted content is dropped by garbage collection on one side and not the other: it says
  // nothing about which doc wrote the item.
  if (ca instanceof Y.ContentDeleted || cb instanceof Y.ContentDeleted) return null
  if (ca.constructor !== cb.constructor) return from
  const offA = from - a.id.clock
  const offB = from - b.id.clock
  for (let k = 0; k < to - from; k++) {
    if (!sameElement(ca, cb, offA + k, offB + k)) return from + k
  }
  return null
}

function sameId (a: Y.ID | null, b: Y.ID | null): boolean {
  return a === null ? b === null : b !== null && a.client === b.client && a.clock === b.clock
}

/** The parent as the update encodes it: a root type's name or the parent item's id. */
function parentKey (it: Y.Item): string {
  const p = it.parent as Y.AbstractType<unknown> | Y.ID | string | null
  if (p === null) return ''
  if (typeof p === 'string') return `root:${p}`
  if (p instanceof Y.ID) return `item:${p.client}:${p.clock}`
  const item = p._item
  if (item !== null) return `item:${item.id.client}:${item.id.clock}`
  return `root:${Y.findRootTypeKey(p)}`
}

type Content = Y.Item['content']

/** Element `i` of `a` against element `j` of `b` (same content class). */
function sameElement (a: Content, b: Content, i: number, j: number): boolean {
  if (a instanceof Y.ContentString) {
    const x = a.str.charCodeAt(i)
    const y = (b as Y.ContentString).str.charCodeAt(j)
    // Yjs replaces both halves of a surrogate pair it splits by U+FFFD (ContentString.splice),
    // so one side may hold U+FFFD where the other still has the original half.
    return x === y || x === 0xfffd || y === 0xfffd
  }
  if (a instanceof Y.ContentAny || a instanceof Y.ContentJSON) return same(a.getContent()[i], b.getContent()[j])
  if (a instanceof Y.ContentFormat) {
    const f = b as Y.ContentFormat
    return a.key === f.key && same(a.value, f.value)
  }
  if (a instanceof Y.ContentEmbed) return same(a.embed, (b as Y.ContentEmbed).embed)
  if (a instanceof Y.ContentBinary) return same(a.content, (b as Y.ContentBinary).content)
  if (a instanceof Y.ContentDoc) return a.doc?.guid === (b as Y.ContentDoc).doc?.guid
  if (a instanceof Y.ContentType) return typeName(a.type) === typeName((b as Y.ContentType).type)
  return true
}

/** Deep equality of decoded values; NaN (a float64 in `any` content) equals itself. */
const same = (a: unknown, b: unknown): boolean => Object.is(a, b) || equalityDeep(a, b)

/** A nested type's kind (and element / hook name): what ContentType encodes. */
function typeName (t: Y.AbstractType<unknown>): string {
  const name = (t as { nodeName?: string, hookName?: string }).nodeName ?? (t as { hookName?: string }).hookName ?? ''
  return `${t.constructor.name}:${name}`
}

/** The doc's state vector with every clock one lower (see the header): the server's step1 to writers. */
export function probeStateVector (ydoc: Y.Doc): Uint8Array {
  const sv = new Map<number, number>()
  for (const [client, structs] of ydoc.store.clients) {
    const last = structs[structs.length - 1]!
    sv.set(client, last.id.clock + last.length - 1)
  }
  return Y.encodeStateVector(sv)
}

/**
 * For a writer whose state vector `sv` (already validated) has fewer clocks than the doc for some
 * client: `sv` with those clients one clock short, to send as a second step1; null when none is.
 */
export function behindProbe (sv: Uint8Array, ydoc: Y.Doc): Uint8Array | null {
  const peer = Y.decodeStateVector(sv)
  let behind = false
  for (const [client, clock] of peer) {
    if (clock > 0 && clock < Y.getState(ydoc.store, client)) { peer.set(client, clock - 1); behind = true }
  }
  return behind ? Y.encodeStateVector(peer) : null
}
