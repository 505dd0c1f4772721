/**
 * The one JSON depth scan (shared/json-depth.ts) and its two users: awareness states (at most
 * MAX_STATE_DEPTH) and content PUT bodies (docs/prosemirror-input.ts).
 */
import { describe, expect, it } from 'vitest'
import { exceedsJsonDepth } from '../../shared/json-depth.js'
import { checkAwarenessStates, MAX_STATE_DEPTH } from '../../shared/awareness.js'
import { checkJsonDepth } from '../../server/docs/prosemirror-input.js'

const nested = (n: number): string => '['.repeat(n) + ']'.repeat(n)

describe('JSON depth', () => {
  it('counts brackets outside strings only, escapes included, and stops past the limit', () => {
    expect(exceedsJsonDepth(nested(3), 3)).toBe(false)
    expect(exceedsJsonDepth(nested(4), 3)).toBe(true)
    expect(exceedsJsonDepth('{"a":[{"b":1}]}', 3)).toBe(false)
    expect(exceedsJsonDepth('{"a":[{"b":[1]}]}', 3)).toBe(true)
    expect(exceedsJsonDepth(JSON.stringify({ s: '[[[[[[{{{{' }), 1)).toBe(false)
    expect(exceedsJsonDepth(JSON.stringify({ s: 'a\\"[[[[' }), 1)).toBe(false)
    // An unterminated deep prefix is caught without reading on.
    expect(exceedsJsonDepth('['.repeat(1_000_000), 100)).toBe(true)
  })

  it('refuses an awareness state nested past MAX_STATE_DEPTH, and a content body past its limit', () => {
    const entry = (json: string): { clientID: number, clock: number, json: string } => ({ clientID: 1, clock: 1, json })
    expect(() => checkAwarenessStates([entry(`{"a":${nested(MAX_STATE_DEPTH - 1)}}`)])).not.toThrow()
    expect(() => checkAwarenessStates([entry(`{"a":${nested(MAX_STATE_DEPTH)}}`)])).toThrow(/nested deeper than 64/)
    expect(() => checkJsonDepth(nested(100))).not.toThrow()
    expect(() => checkJsonDepth(nested(101))).toThrow(/deeper than 100/)
  })
})
