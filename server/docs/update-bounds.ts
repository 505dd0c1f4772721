/**
 * A bounded walk over a Yjs v1 update's structure, before Yjs itself decodes it.
 *
 * Why: Yjs trusts the counts and lengths inside an update. yjs#687 shows that a few crafted
 * bytes can declare a huge struct count (`readClientsStructRefs` does `new Array(count)` and
 * loops that many times) and, with the v2 run-length decoders that keep returning their last
 * value once the input ends, spin forever or fill memory. The v1 decoder we use throws at the
 * end of input, but still allocates one object per declared struct, builds clocks past 2^53,
 * and accepts zero-length structs that later confuse binary searches in the struct store.
 *
 * So here every count and length is checked against the bytes that remain (each element takes
 * at least one byte, so a count larger than the rest is a lie), clocks stay far below 2^53,
 * zero-length structs and unknown content refs are refused, nesting of `any` values is capped,
 * the total number of structs is capped, each client has one block of structs (Yjs keeps only
 * the last block of a client and drops the others without a word, while storage would keep
 * them all; no encoder writes two), and the walk itself has a time budget. The walk
 * allocates nothing per struct, so it is cheap to run on every update. Only when it passes
 * does Yjs see the bytes.
 */

export class UpdateBoundsError extends Error {
  override name = 'UpdateBoundsError'
}

export interface UpdateBounds {
  /** Most structs (items, GCs, skips) in one update. */
  maxStructs: number
  /** Time budget for the walk, in ms (checked every few thousand steps). */
  maxMillis: number
}

/** Clocks and lengths beyond this are not produced by any real client (2^40 operations). */
export const MAX_CLOCK = 2 ** 40
const MAX_ANY_DEPTH = 128

/**
 * What the walk learns on the way, per client (not per struct): enough to tell, before Yjs
 * decodes anything, whether an update leaves a gap or deletes what nobody has (docs/write-gate.ts).
 */
export interface UpdateShape {
  structs: number
  deletes: number
  /** The clock range each client's block of structs covers. */
  clients: Map<number, { from: number, to: number }>
  /** The end of the furthest delete range, per client. */
  deleteEnds: Map<number, number>
}

export function checkUpdateBounds (update: Uint8Array, bounds: UpdateBounds): UpdateShape {
  const r = new Reader(update, bounds.maxMillis)
  let structs = 0
  const numClients = r.count('client count')
  const clients = new Map<number, { from: number, to: number }>()
  for (let c = 0; c < numClients; c++) {
    const numStructs = r.count('struct count')
    if (structs + numStructs > bounds.maxStructs) throw new UpdateBoundsError(`update declares more than ${bounds.maxStructs} structs`)
    const client = r.uint()
    if (clients.has(client)) throw new UpdateBoundsError(`client ${client} has two blocks of structs`)
    let clock = r.uint()
    const range = { from: clock, to: clock }
    clients.set(client, range)
    for (let i = 0; i < numStructs; i++) {
      r.tick()
      const info = r.byte()
      const ref = info & 0x1f
      let length: number
      if (ref === 0 || ref === 10) {
        length = r.uint() // GC / Skip: just a length
      } else {
        if ((info & 0x80) !== 0) { r.uint(); r.uint() } // origin id
        if ((info & 0x40) !== 0) { r.uint(); r.uint() } // right origin id
        if ((info & 0xc0) === 0) {
          if (r.uint() === 1) r.string() // parent is a root type, by name
          else { r.uint(); r.uint() } // parent is an item, by id
          if ((info & 0x20) !== 0) r.string() // parentSub (map key)
        }
        length = content(r, ref)
      }
      if (length < 1) throw new UpdateBoundsError('zero-length struct')
      clock += length
      if (clock > MAX_CLOCK) throw new UpdateBoundsError('struct clock out of range')
    }
    range.to = clock
    structs += numStructs
  }
  // The delete set: per client, ranges of (clock, length).
  let deletes = 0
  const deleteEnds = new Map<number, number>()
  const dsClients = r.count('delete set client count')
  for (let c = 0; c < dsClients; c++) {
    const client = r.uint()
    const ranges = r.count('delete range count', 2)
    let end = deleteEnds.get(client) ?? 0
    for (let i = 0; i < ranges; i++) {
      r.tick()
      const clock = r.uint()
      const len = r.uint()
      if (clock + len > MAX_CLOCK) throw new UpdateBoundsError('delete range out of range')
      if (clock + len > end) end = clock + len
    }
    if (ranges > 0) deleteEnds.set(client, end)
    deletes += ranges
  }
  if (!r.done()) throw new UpdateBoundsError('trailing bytes after the update')
  return { structs, deletes, clients, deleteEnds }
}

/** Skips an item's content and returns its length (clock units; an upper bound for strings). */
function content (r: Reader, ref: number): number {
  switch (ref) {
    case 1: return r.uint() // ContentDeleted: a length
    case 2: { // ContentJSON: n strings
      const n = r.count('JSON value count')
      for (let i = 0; i < n; i++) r.json()
      return n
    }
    case 3: r.bytes(); return 1 // ContentBinary
    case 4: return r.string() // ContentString: UTF-16 length ≤ UTF-8 byte length
    case 5: r.json(); return 1 // ContentEmbed
    case 6: r.string(); r.json(); return 1 // ContentFormat: key, value
    case 7: { // ContentType
      const typeRef = r.uint()
      if (typeRef > 6) throw new UpdateBoundsError(`unknown type ref ${typeRef}`)
      if (typeRef === 3 || typeRef === 5) r.string() // XmlElement / XmlHook name
      return 1
    }
    case 8: { // ContentAny: n values
      const n = r.count('any value count')
      for (let i = 0; i < n; i++) any(r, 0)
      return n
    }
    case 9: r.string(); any(r, 0); return 1 // ContentDoc: guid, options
    default: throw new UpdateBoundsError(`unknown content ref ${ref}`)
  }
}

/** lib0 `readAny`: a type byte (127 - case) and its value. */
function any (r: Reader, depth: number): void {
  if (depth > MAX_ANY_DEPTH) throw new UpdateBoundsError('values nested too deeply')
  r.tick()
  switch (127 - r.byte()) {
    case 0: case 1: case 6: case 7: return // undefined, null, false, true
    case 2: r.varInt(); return
    case 3: r.skip(4); return // float32
    case 4: case 5: r.skip(8); return // float64, bigint64
    case 8: r.string(); return
    case 9: { // object
      const n = r.count('object key count')
      for (let i = 0; i < n; i++) { r.string(); any(r, depth + 1) }
      return
    }
    case 10: { // array
      const n = r.count('array length')
      for (let i = 0; i < n; i++) any(r, depth + 1)
      return
    }
    case 11: r.bytes(); return // Uint8Array
    default: throw new UpdateBoundsError('unknown value type')
  }
}

class Reader {
  private pos = 0
  private steps = 0
  private readonly deadline: number

  constructor (private readonly buf: Uint8Array, maxMillis: number) {
    this.deadline = performance.now() + maxMillis
  }

  done (): boolean { return this.pos === this.buf.length }

  /** Counts work; every 4096 steps, checks the time budget. */
  tick (): void {
    if ((++this.steps & 4095) === 0 && performance.now() > this.deadline) throw new UpdateBoundsError('update took too long to check')
  }

  byte (): number {
    if (this.pos >= this.buf.length) throw new UpdateBoundsError('unexpected end of update')
    return this.buf[this.pos++]!
  }

  uint (): number {
    let num = 0
    let mult = 1
    for (;;) {
      const b = this.byte()
      num += (b & 0x7f) * mult
      if (b < 0x80) return num
      mult *= 128
      if (mult > 2 ** 53) throw new UpdateBoundsError('integer out of range')
    }
  }

  varInt (): void {
    let b = this.byte()
    while ((b & 0x80) !== 0) b = this.byte()
  }

  /** A count of things that each take at least `minBytes`: refused if the rest cannot hold them. */
  count (what: string, minBytes = 1): number {
    const n = this.uint()
    if (n * minBytes > this.buf.length - this.pos) throw new UpdateBoundsError(`${what} ${n} exceeds what the remaining bytes can hold`)
    return n
  }

  skip (n: number): void {
    if (n > this.buf.length - this.pos) throw new UpdateBoundsError('length runs past the end of the update')
    this.pos += n
  }

  /** A varUint length and that many bytes; returns the length. */
  bytes (): number {
    const n = this.uint()
    this.skip(n)
    return n
  }

  string (): number { return this.bytes() }

  /**
   * A JSON string (embeds, formats, legacy JSON content): its nesting is capped like `any`
   * values, because rendering the doc (toJSON, the JSON view, SSE `content`) re-encodes it with
   * JSON.stringify, which recurses. Brackets, quotes and backslashes are ASCII, so the UTF-8
   * bytes can be scanned as they are.
   */
  json (): number {
    const n = this.uint()
    if (n > this.buf.length - this.pos) throw new UpdateBoundsError('length runs past the end of the update')
    let depth = 0
    let inString = false
    for (let i = this.pos, end = this.pos + n; i < end; i++) {
      const c = this.buf[i]!
      if (inString) {
        if (c === 92) i++
        else if (c === 34) inString = false
      } else if (c === 34) inString = true
      else if (c === 91 || c === 123) { if (++depth > MAX_ANY_DEPTH) throw new UpdateBoundsError('values nested too deeply') }
      else if (c === 93 || c === 125) depth--
    }
    this.pos += n
    return n
  }
}
