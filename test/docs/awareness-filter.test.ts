/**
 * `filterAwarenessEntries` (shared/awareness.ts): a broadcast's variant for a peer that made some
 * of its changes is sliced from the encoded bytes. It must equal what decoding, filtering and
 * re-encoding gives, for any ids, clocks and states (multi-byte text, removals, big varints).
 */
import { describe, expect, it } from 'vitest'
import * as awarenessProtocol from 'y-protocols/awareness'
import * as Y from 'yjs'
import { decodeAwarenessEntries, encodeAwarenessEntries, filterAwarenessEntries, type AwarenessEntry } from '../../shared/awareness.js'

const states = ['null', '{}', JSON.stringify({ user: { name: 'Zoë 🦊', color: '#30bced' }, cursor: { anchor: { item: { client: 2 ** 40, clock: 7 } } } }), JSON.stringify({ text: 'x'.repeat(300) })]

describe('filterAwarenessEntries', () => {
  it('equals decode → filter → encode on random updates', () => {
    let seed = 7
    const rand = (n: number): number => { seed = (seed * 1103515245 + 12345) % 2 ** 31; return seed % n }
    for (let round = 0; round < 300; round++) {
      const entries: AwarenessEntry[] = Array.from({ length: rand(12) }, () => ({ clientID: rand(3) === 0 ? 2 ** 32 + rand(1000) : rand(200), clock: rand(2) === 0 ? rand(5) : 2 ** 31 + rand(99), json: states[rand(states.length)]! }))
      const update = encodeAwarenessEntries(entries)
      const drop = new Set(entries.filter(() => rand(3) === 0).map(e => e.clientID))
      const keep = (id: number): boolean => !drop.has(id)
      const expected = encodeAwarenessEntries(decodeAwarenessEntries(update, { maxEntries: Infinity, maxStateLength: Infinity }).filter(e => keep(e.clientID)))
      expect(filterAwarenessEntries(update, keep)).toEqual(expected)
    }
  })

  it('what y-protocols applies from the slice is exactly the kept clients\' states', () => {
    const entries: AwarenessEntry[] = [{ clientID: 1, clock: 3, json: states[2]! }, { clientID: 2, clock: 1, json: states[3]! }, { clientID: 3, clock: 9, json: '{}' }]
    const slice = filterAwarenessEntries(encodeAwarenessEntries(entries), id => id !== 2)
    const a = new awarenessProtocol.Awareness(new Y.Doc())
    awarenessProtocol.applyAwarenessUpdate(a, slice, 'test')
    expect([...a.getStates().keys()].filter(id => id !== a.clientID).sort()).toEqual([1, 3])
    expect(a.getStates().get(1)).toEqual(JSON.parse(states[2]!))
    expect(a.meta.get(3)!.clock).toBe(9)
    a.destroy()
  })
})
