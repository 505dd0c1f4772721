/** The tier rules on a fake clock: abandon, restart rounds, cut windows, probe doubling. */
import { describe, expect, it } from 'vitest'
import { TierPolicy } from '../../client/tiers.js'

function policy (): { p: TierPolicy, clock: { t: number } } {
  const clock = { t: 1_000_000 }
  const p = new TierPolicy(['websocket', 'sse', 'poll'], { cutWindowMs: 30_000, maxCuts: 3, probeAfterMs: 30_000, maxProbeAfterMs: 120_000, now: () => clock.t })
  return { p, clock }
}

describe('TierPolicy', () => {
  it('a tier that fails to open while a lower one opens is abandoned until its probe time', () => {
    const { p, clock } = policy()
    expect(p.next()).toBe('websocket')
    p.failedToOpen('websocket')
    expect(p.next()).toBe('sse')
    p.opened('sse')
    expect(p.isAbandoned('websocket')).toBe(true)
    expect(p.next()).toBe('sse')
    expect(p.nextProbe('sse')).toEqual({ tier: 'websocket', inMs: 30_000 })
    clock.t += 30_000
    expect(p.nextProbe('sse')).toEqual({ tier: 'websocket', inMs: 0 })
    expect(p.next()).toBe('websocket')
  })

  it('when every tier fails to open nothing is abandoned and the next round starts at the top', () => {
    const { p } = policy()
    for (const t of ['websocket', 'sse', 'poll'] as const) { expect(p.next()).toBe(t); p.failedToOpen(t) }
    expect(p.next()).toBeNull()
    expect(p.isAbandoned('websocket')).toBe(false)
    expect(p.next()).toBe('websocket')
  })

  it('abandons a tier cut maxCuts times within the window, not when the cuts are spread out', () => {
    const { p, clock } = policy()
    expect(p.cut('websocket')).toBe(false)
    clock.t += 20_000
    expect(p.cut('websocket')).toBe(false)
    clock.t += 20_000 // the first cut left the window
    expect(p.cut('websocket')).toBe(false)
    clock.t += 1000
    expect(p.cut('websocket')).toBe(true)
    expect(p.next()).toBe('sse')
    // The lowest tier is never abandoned, however often it is cut.
    for (let i = 0; i < 10; i++) expect(p.cut('poll')).toBe(false)
  })

  it('failed probes double the wait up to the cap; a good probe forgets it all', () => {
    const { p, clock } = policy()
    const waits: number[] = []
    for (let i = 0; i < 5; i++) {
      p.abandon('websocket')
      waits.push(p.nextProbe('sse')!.inMs)
      clock.t += waits[waits.length - 1]!
    }
    expect(waits).toEqual([30_000, 60_000, 120_000, 120_000, 120_000])
    p.restored('websocket')
    expect(p.isAbandoned('websocket')).toBe(false)
    p.abandon('websocket')
    expect(p.nextProbe('sse')!.inMs).toBe(30_000)
    expect(p.nextProbe('websocket')).toBeNull()
  })
})
