/** The reconnect schedule, on fake timers: grows, jitters, caps, resets only after a good connection. */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { Backoff } from '../client/backoff.js'
import { rng } from './helpers/random.js'

describe('Backoff', () => {
  beforeEach(() => { vi.useFakeTimers() })
  afterEach(() => { vi.useRealTimers() })

  it('grows exponentially up to the cap, with full jitter below the ceiling', () => {
    const r = rng(7)
    const b = new Backoff({ baseMs: 100, maxMs: 3000, random: r.next })
    const ceilings: number[] = []
    const delays: number[] = []
    for (let i = 0; i < 10; i++) {
      ceilings.push(b.ceiling())
      delays.push(b.next())
    }
    expect(ceilings).toEqual([100, 200, 400, 800, 1600, 3000, 3000, 3000, 3000, 3000])
    for (let i = 0; i < delays.length; i++) {
      expect(delays[i]).toBeGreaterThanOrEqual(0)
      expect(delays[i]).toBeLessThan(ceilings[i]!)
    }
    // Jittered: the capped delays are not all the same.
    expect(new Set(delays.slice(5)).size).toBeGreaterThan(1)
  })

  it('draws uniformly over [0, ceiling): the extremes of random() map to the ends', () => {
    const lo = new Backoff({ baseMs: 100, random: () => 0 })
    const hi = new Backoff({ baseMs: 100, random: () => 0.999999 })
    expect(lo.next()).toBe(0)
    expect(hi.next()).toBe(99)
    expect(hi.next()).toBe(199)
  })

  it('resets only after a connection stayed up for stableAfterMs', () => {
    const b = new Backoff({ baseMs: 100, maxMs: 10_000, stableAfterMs: 5000, random: () => 0.5 })
    for (let i = 0; i < 5; i++) b.next()
    expect(b.ceiling()).toBe(3200)
    // Opened and cut after 1 s: not a good connection, the schedule keeps growing.
    b.opened()
    vi.advanceTimersByTime(1000)
    b.closed()
    vi.advanceTimersByTime(10_000)
    expect(b.attempts).toBe(5)
    expect(b.next()).toBe(1600)
    // Opened and stayed up 5 s: reset.
    b.opened()
    vi.advanceTimersByTime(5000)
    expect(b.attempts).toBe(0)
    b.closed()
    expect(b.next()).toBe(50)
    b.dispose()
    expect(vi.getTimerCount()).toBe(0)
  })

  it('backs off longer after a rate limit (4429), with a floor, still capped', () => {
    const b = new Backoff({ baseMs: 100, maxMs: 1000, slowFactor: 4, slowMinMs: 2000, random: () => 0.5 })
    expect(b.next(true)).toBe(2000)
    for (let i = 0; i < 10; i++) b.next(true)
    expect(b.ceiling(true)).toBe(4000)
    expect(b.next(true)).toBe(2000)
  })
})
