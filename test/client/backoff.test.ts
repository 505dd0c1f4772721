/** The reconnect schedule, on fake timers: grows, jitters, caps, resets only after a good connection. */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { Backoff } from '../../client/backoff.js'
import { closeAdvice, CloseCode, isPermanentCloseCode } from '../../shared/close-codes.js'
import { rng } from '../helpers/random.js'

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

  it('backs off longer after a limit (tooManyRequests, 4529), with a floor, still capped', () => {
    const b = new Backoff({ baseMs: 100, maxMs: 1000, slowFactor: 4, slowMinMs: 2000, random: () => 0.5 })
    expect(b.next(true)).toBe(2000)
    for (let i = 0; i < 10; i++) b.next(true)
    expect(b.ceiling(true)).toBe(4000)
    expect(b.next(true)).toBe(2000)
  })

  it('closeAdvice: permanent codes stop, transient ones reconnect (limits slowly), as the stock provider does', () => {
    const advice = Object.fromEntries(Object.entries(CloseCode).map(([name, code]) => [name, closeAdvice(code)]))
    expect(advice).toEqual({
      normal: 'stop',
      goingAway: 'reconnect',
      messageTooBig: 'stop',
      serviceRestart: 'reconnect',
      malformed: 'stop',
      unauthorized: 'refresh-token',
      forbidden: 'stop',
      clientIdConflict: 'stop',
      docDeleted: 'stop',
      presenceTooLarge: 'stop',
      storageFailed: 'reconnect',
      tooSlow: 'reconnect',
      tooManyRequests: 'reconnect-slowly'
    })
    // The ranges, not a list: a code added later inherits its range's meaning.
    for (const code of [4400, 4404, 4450, 4499]) expect(closeAdvice(code)).toBe(code === 4401 ? 'refresh-token' : 'stop')
    for (const code of [1006, 4000, 4399, 4500, 4503, 4599, 4600]) expect(closeAdvice(code)).toBe('reconnect')
    for (const code of [4399, 4400, 4499, 4500]) expect(isPermanentCloseCode(code)).toBe(code >= 4400 && code < 4500)
  })
})
