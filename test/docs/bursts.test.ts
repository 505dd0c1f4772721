/**
 * Bursts (docs/bursts.ts), the one debounce behind change windows (hooks, webhooks) and
 * automatic checkpoints: ended after a quiet spell, or at the latest a while after their first
 * event, once; `Infinity` turns a trigger off; `cancel` ends one without telling.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { Bursts } from '../../server/docs/bursts.js'

describe('Bursts', () => {
  beforeEach(() => { vi.useFakeTimers() })
  afterEach(() => { vi.useRealTimers() })

  it('ends a burst once it is quiet for quietMs, or maxMs after its first event while events go on', () => {
    const ended: string[] = []
    const b = new Bursts<string>(100, 250, key => ended.push(key))
    expect(b.touch('a')).toBe(true)
    expect(b.touch('a')).toBe(false)
    vi.advanceTimersByTime(99)
    expect(ended).toEqual([])
    vi.advanceTimersByTime(1)
    expect(ended).toEqual(['a'])
    // Continuous events every 50 ms: never quiet, ended at 250 ms.
    b.touch('b')
    for (let t = 0; t < 240; t += 50) { vi.advanceTimersByTime(50); b.touch('b') }
    expect(ended).toEqual(['a', 'b'])
    expect(b.size).toBe(1) // the last touch began the next burst
  })

  it('Infinity turns a trigger off; cancel ends a burst without telling', () => {
    const ended: string[] = []
    const quietOnly = new Bursts<string>(100, Infinity, key => ended.push(key))
    quietOnly.touch('q')
    for (let i = 0; i < 20; i++) { vi.advanceTimersByTime(90); quietOnly.touch('q') }
    expect(ended).toEqual([])
    vi.advanceTimersByTime(100)
    expect(ended).toEqual(['q'])
    const maxOnly = new Bursts<string>(Infinity, 300, key => ended.push(key))
    maxOnly.touch('m')
    vi.advanceTimersByTime(299)
    expect(ended).toEqual(['q'])
    vi.advanceTimersByTime(1)
    expect(ended).toEqual(['q', 'm'])
    maxOnly.touch('c')
    expect(maxOnly.cancel('c')).toBe(true)
    expect(maxOnly.cancel('c')).toBe(false)
    vi.advanceTimersByTime(1000)
    expect(ended).toEqual(['q', 'm'])
  })
})
