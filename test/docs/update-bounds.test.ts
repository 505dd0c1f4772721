/**
 * The bounded pre-parse of Yjs updates: every real update passes, crafted counts and lengths
 * fail fast (yjs#687-style inputs), and it agrees with Yjs on thousands of mutated updates.
 */
import { describe, expect, it } from 'vitest'
import * as Y from 'yjs'
import * as encoding from 'lib0/encoding'
import { checkUpdateBounds, UpdateBoundsError } from '../../server/docs/update-bounds.js'
import { STATE_VECTOR_SLACK, validateStateVector, validateUpdate } from '../../server/docs/validate.js'
import { ProtocolError } from '../../shared/protocol.js'
import { rng } from '../helpers/random.js'

const bounds = { maxStructs: 1_000_000, maxMillis: 500 }

function richDoc (seed: number): Y.Doc {
  const r = rng(seed)
  const d = new Y.Doc()
  const text = d.getText('text')
  const map = d.getMap('meta')
  const arr = d.getArray<unknown>('list')
  const xml = d.getXmlFragment('xml')
  for (let i = 0; i < 200; i++) {
    const op = r.int(8)
    if (op === 0) text.insert(r.int(text.length + 1), 'héllo ✓ '.slice(0, 1 + r.int(8)), r.int(2) === 0 ? { bold: true } : undefined)
    else if (op === 1 && text.length > 2) text.delete(r.int(text.length - 1), 1 + r.int(2))
    else if (op === 2) map.set(`k${r.int(10)}`, { n: r.next(), deep: { list: [1, 'two', null, true, new Uint8Array([1, 2])] }, big: BigInt(r.int(1000)) })
    else if (op === 3) arr.insert(r.int(arr.length + 1), [r.int(100), 'x', null, 1.5])
    else if (op === 4 && arr.length > 0) arr.delete(r.int(arr.length))
    else if (op === 5) { const el = new Y.XmlElement('p'); el.setAttribute('class', 'c'); el.insert(0, [new Y.XmlText('t')]); xml.insert(0, [el]) }
    else if (op === 6) map.set(`sub${r.int(3)}`, new Y.Map())
    else text.insertEmbed(0, { image: 'x.png' })
  }
  d.getMap('docs').set('child', new Y.Doc({ guid: 'child-guid' }))
  return d
}

describe('update bounds check', () => {
  it('passes every real update: full states, incremental updates, merged and diffed ones', () => {
    for (let seed = 1; seed <= 20; seed++) {
      const d = richDoc(seed)
      const updates: Uint8Array[] = []
      d.on('update', (u: Uint8Array) => updates.push(u))
      d.getText('text').insert(0, 'more')
      d.getMap('meta').delete('k1')
      const full = Y.encodeStateAsUpdate(d)
      for (const u of [full, ...updates, Y.mergeUpdates(updates), Y.encodeStateAsUpdate(d, Y.encodeStateVector(new Y.Doc()))]) {
        expect(() => checkUpdateBounds(u, bounds)).not.toThrow()
        expect(() => validateUpdate(u, { maxUpdateBytes: 1 << 24 })).not.toThrow()
      }
    }
  })

  it('refuses crafted counts and lengths at once', () => {
    const crafted: Array<[string, number[]]> = [
      ['huge client count', [0xff, 0xff, 0xff, 0xff, 0x0f]],
      ['huge struct count', [1, 0xff, 0xff, 0xff, 0xff, 0x0f, 1, 0]],
      ['GC with clock past 2^40', [1, 1, 1, 0, 0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f, 0, 0]],
      ['zero-length GC', [1, 1, 1, 0, 0, 0, 0]],
      ['string length past the end', [1, 1, 1, 0, 4, 1, 4, 't', 'e', 'x', 't', 0xff, 0x7f, 1].map(x => typeof x === 'string' ? x.charCodeAt(0) : x)],
      ['ContentAny with a huge count', [1, 1, 1, 0, 8, 1, 1, 65, 0xff, 0xff, 0x7f]],
      ['deeply nested any', [1, 1, 1, 0, 8, 1, 1, 65, 1, ...Array(500).fill([117, 1]).flat(), 126, 0]],
      ['deeply nested embed JSON', [1, 1, 1, 0, 5, 1, 1, 65, 0xe8, 0x07, ...Array(500).fill(91), ...Array(500).fill(93), 0, 0]],
      ['unknown content ref', [1, 1, 1, 0, 20, 0, 0]],
      ['unknown type ref', [1, 1, 1, 0, 7, 1, 1, 65, 9, 0]],
      ['huge delete range count', [0, 1, 1, 0xff, 0xff, 0xff, 0x7f]],
      ['trailing bytes', [0, 0, 0]],
      ['truncated varint', [0x80]]
    ]
    for (const [what, bytes] of crafted) {
      expect(() => checkUpdateBounds(new Uint8Array(bytes), bounds), what).toThrow(UpdateBoundsError)
      expect(() => validateUpdate(new Uint8Array(bytes), { maxUpdateBytes: 1 << 20 }), what).toThrow(ProtocolError)
    }
  })

  it('caps the number of structs in one update', () => {
    const d = new Y.Doc()
    const arr = d.getArray('a')
    for (let i = 0; i < 100; i++) d.transact(() => arr.insert(0, [i]), `o${i}`)
    // Items inserted at 0 each have their own origin, so they do not merge: ~100 structs.
    const u = Y.encodeStateAsUpdate(d)
    expect(checkUpdateBounds(u, bounds).structs).toBeGreaterThan(50)
    expect(() => checkUpdateBounds(u, { maxStructs: 10, maxMillis: 500 })).toThrow(/more than 10 structs/)
  })

  it('refuses two blocks of structs for one client (Yjs would keep only the last)', () => {
    const e = encoding.createEncoder()
    encoding.writeVarUint(e, 2)
    for (const clock of [0, 5]) {
      encoding.writeVarUint(e, 1) // one struct
      encoding.writeVarUint(e, 42) // the same client twice
      encoding.writeVarUint(e, clock)
      encoding.writeUint8(e, 0) // GC
      encoding.writeVarUint(e, 1)
    }
    encoding.writeVarUint(e, 0)
    expect(() => checkUpdateBounds(encoding.toUint8Array(e), bounds)).toThrow(/two blocks/)
  })

  it('reports per client the clocks covered and the furthest deletion, before any decoding', () => {
    const d = new Y.Doc()
    d.clientID = 7
    d.getText('t').insert(0, 'abcdef')
    d.getText('t').delete(1, 2)
    const shape = checkUpdateBounds(Y.encodeStateAsUpdate(d), bounds)
    expect(shape.clients.get(7)).toEqual({ from: 0, to: 6 })
    expect(shape.deleteEnds.get(7)).toBe(3)
  })

  it('bounds state vectors by the doc\'s client count plus slack, and refuses malformed ones', () => {
    const doc = new Y.Doc()
    for (let i = 0; i < 3; i++) { const p = new Y.Doc(); p.getText('t').insert(0, 'x'); Y.applyUpdate(doc, Y.encodeStateAsUpdate(p)) }
    const sv = (n: number): Uint8Array => {
      const e = encoding.createEncoder()
      encoding.writeVarUint(e, n)
      for (let i = 0; i < n; i++) { encoding.writeVarUint(e, 2 ** 31 + i); encoding.writeVarUint(e, 2 ** 40) }
      return encoding.toUint8Array(e)
    }
    expect(() => validateStateVector(Y.encodeStateVector(doc), doc)).not.toThrow()
    expect(() => validateStateVector(sv(3 + STATE_VECTOR_SLACK), doc)).not.toThrow()
    expect(() => validateStateVector(sv(4 + STATE_VECTOR_SLACK), doc)).toThrow(/entries exceeds/)
    expect(() => validateStateVector(new Uint8Array(17 * (4 + STATE_VECTOR_SLACK)), doc)).toThrow(/bytes exceeds/)
    for (const bad of [[1, 5], [0, 0], [1, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f, 1], [0x80]]) {
      expect(() => validateStateVector(new Uint8Array(bad), doc), String(bad)).toThrow(ProtocolError)
    }
  })

  it('on 10,000 mutated updates: only UpdateBoundsError, and whatever passes Yjs decodes or refuses without hanging', () => {
    const seed = Number(process.env.SEED ?? Date.now() % 100000)
    const r = rng(seed)
    const bases = [1, 2, 3].map(s => Y.encodeStateAsUpdate(richDoc(s)))
    let passed = 0
    for (let i = 0; i < 10_000; i++) {
      const base = bases[r.int(bases.length)]!
      const u = base.slice(0, r.int(4) === 0 ? r.int(base.length) : base.length)
      for (let f = 1 + r.int(3); f > 0; f--) u[r.int(u.length)] = r.int(256)
      let ok = true
      try { checkUpdateBounds(u, bounds) } catch (err) { ok = false; expect(err, `seed ${seed}`).toBeInstanceOf(UpdateBoundsError) }
      if (!ok) continue
      passed++
      // Anything the bounds check lets through must be something Yjs decodes or rejects by throwing.
      try { Y.decodeUpdate(u) } catch {}
    }
    expect(passed, `seed ${seed}`).toBeGreaterThan(0)
  })
})
