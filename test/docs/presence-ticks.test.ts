/**
 * The coalescing windows of all docs end on one shared tick per window length
 * (server/docs/presence-window.ts `Ticks`): one timer however many docs are busy, a lone change
 * still goes out at once, a window is never longer than its ticks (one per 8 peers, at most 5),
 * and a closed doc leaves the tick.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { MAX_TICKS, PresenceWindow, Ticks, windowTicks, type PresenceBatch } from '../../server/docs/presence-window.js'

const changed = (id: number): { added: number[], updated: number[], removed: number[] } => ({ added: [], updated: [id], removed: [] })

describe('presence windows share one tick', () => {
  beforeEach(() => { vi.useFakeTimers() })
  afterEach(() => { vi.useRealTimers() })

  it('many busy docs: one timer, every window ends on the tick, nothing waits longer than one window', () => {
    const flushes: Array<{ doc: number, at: number, ids: number[] }> = []
    const windows = Array.from({ length: 50 }, (_, doc) => new PresenceWindow(37, (b: PresenceBatch) => {
      flushes.push({ doc, at: Date.now(), ids: [...b.changes.updated] })
    }))
    const t0 = Date.now()
    // Each doc's first change at a different moment: out at once (leading edge).
    for (const [doc, w] of windows.entries()) {
      vi.advanceTimersByTime(doc % 2) // 25 ms in all, inside the first window
      w.add(changed(doc * 1000), 'peer')
    }
    expect(flushes.length).toBe(50)
    expect(vi.getTimerCount()).toBe(1)
    // Changes during the windows wait for the one shared tick.
    for (const [doc, w] of windows.entries()) { w.add(changed(doc * 1000 + 1), 'peer'); w.add(changed(doc * 1000 + 2), 'peer') }
    expect(flushes.length).toBe(50)
    vi.advanceTimersByTime(37)
    const second = flushes.slice(50)
    expect(second.length).toBe(50)
    expect(new Set(second.map(f => f.at)).size).toBe(1) // all on the same tick
    expect(second[0]!.at - t0).toBeLessThanOrEqual(37)
    expect(second.every(f => f.ids.length === 2)).toBe(true)
    expect(vi.getTimerCount()).toBe(1) // they flushed, so their next windows are open
    // Quiet: the next tick closes every window and the timer stops.
    vi.advanceTimersByTime(37)
    expect(vi.getTimerCount()).toBe(0)
    expect(windows.every(w => !w.open)).toBe(true)
    expect(Ticks.of(37).size).toBe(0)
    // A change in a quiet doc goes out at once again.
    windows[3]!.add(changed(5), 'peer')
    expect(flushes.length).toBe(101)
    for (const w of windows) w.close()
    expect(vi.getTimerCount()).toBe(0)
  })

  it('a flush that throws does not strand its doc: the next change goes out at once', () => {
    const got: number[][] = []
    let fail = false
    const w = new PresenceWindow(43, b => {
      if (fail) throw new Error('boom')
      got.push([...b.changes.updated])
    })
    w.add(changed(1), 'p') // out at once, window open
    w.add(changed(2), 'p') // waits for the tick
    fail = true
    expect(() => { w.tick() }).toThrow('boom') // the tick's flush (the shared timer passes such errors on)
    fail = false
    expect(w.open).toBe(false)
    w.add(changed(3), 'p')
    expect(got).toEqual([[1], [3]])
    w.close()
    expect(vi.getTimerCount()).toBe(0)
  })

  it('a closed window leaves the tick; the others still flush', () => {
    const got: number[] = []
    const a = new PresenceWindow(41, () => { got.push(1) })
    const b = new PresenceWindow(41, () => { got.push(2) })
    a.add(changed(1), 'p')
    b.add(changed(2), 'p')
    a.add(changed(3), 'p')
    b.add(changed(4), 'p')
    a.close()
    expect(a.size).toBe(0)
    vi.advanceTimersByTime(41)
    expect(got).toEqual([1, 2, 2])
    b.close()
    expect(vi.getTimerCount()).toBe(0)
  })

  it('a bigger room waits more ticks: ceil(peers / 8) of them, at most MAX_TICKS, on the same timer', () => {
    expect([1, 8, 9, 16, 17, 24, 33, 200, 0].map(windowTicks)).toEqual([1, 1, 2, 2, 3, 3, 5, MAX_TICKS, 1])
    let peers = 16
    const t0 = Date.now()
    const flushes: string[] = []
    const small = new PresenceWindow(29, () => { flushes.push(`small at ${Date.now() - t0}`) })
    const big = new PresenceWindow(29, () => { flushes.push(`big at ${Date.now() - t0}`) }, () => windowTicks(peers))
    small.add(changed(1), 'p')
    big.add(changed(2), 'p') // both out at once; big's window is 2 ticks (16 peers)
    small.add(changed(3), 'p')
    big.add(changed(4), 'p')
    vi.advanceTimersByTime(29)
    expect(flushes).toEqual(['small at 0', 'big at 0', 'small at 29']) // big still waits
    expect(big.open).toBe(true)
    expect(vi.getTimerCount()).toBe(1) // one shared timer
    peers = 45 // the room grows: the next window is 5 ticks
    vi.advanceTimersByTime(29)
    expect(flushes.slice(3)).toEqual(['big at 58'])
    big.add(changed(5), 'p')
    vi.advanceTimersByTime(29 * 4)
    expect(flushes.length).toBe(4) // 4 ticks of 5
    vi.advanceTimersByTime(29)
    expect(flushes.slice(4)).toEqual([`big at ${58 + 5 * 29}`])
    small.close()
    big.close()
    expect(vi.getTimerCount()).toBe(0)
  })
})
