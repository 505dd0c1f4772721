/**
 * Outdated presence goes by one sweep for all loaded docs (server/docs/presence-timeouts.ts),
 * not by y-protocols' interval per doc: a state not renewed for 30 s is removed and every peer
 * hears the removal, a renewed one stays, loading docs adds no timer per doc, and unloading them
 * stops the sweep.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { outdatedTimeout } from 'y-protocols/awareness'
import { SharedDoc, type DocOptions } from '../../server/docs/shared-doc.js'
import { SWEEP_MS, watchedCount } from '../../server/docs/presence-timeouts.js'
import type { AwarenessBroadcast, DocPeer, UpdateBroadcast } from '../../server/docs/broadcast.js'
import { memoryStorage } from '../../server/storage/memory.js'
import { silentLogger } from '../../server/logger.js'
import { decodeAwarenessEntries, encodeAwarenessEntries } from '../../shared/awareness.js'

const options: DocOptions = { storage: memoryStorage(), logger: silentLogger, compactAfterRecords: 1e9, compactAfterBytes: 1e12, historyRecords: 100, historyBytes: 1 << 20 }

/** A peer that keeps the awareness entries it hears. */
function peer (): DocPeer & { heard: Array<{ clientID: number, isNull: boolean }> } {
  const heard: Array<{ clientID: number, isNull: boolean }> = []
  return {
    access: 'write',
    heard,
    deliverUpdate (_b: UpdateBroadcast) {},
    deliverAwareness (b: AwarenessBroadcast) { for (const e of decodeAwarenessEntries(b.update)) heard.push({ clientID: e.clientID, isNull: e.isNull }) },
    close () {}
  }
}

function setState (doc: SharedDoc, from: DocPeer, clientID: number, clock: number): void {
  const update = encodeAwarenessEntries([{ clientID, clock, json: JSON.stringify({ user: { name: `u${clientID}` }, cursor: { anchor: clock } }) }])
  expect(doc.applyAwareness(decodeAwarenessEntries(update), from).kind).toBe('applied')
}

describe('outdated presence: one sweep for every loaded doc', () => {
  beforeEach(() => { vi.useFakeTimers() })
  afterEach(() => { vi.useRealTimers() })

  it('removes states not renewed for 30 s in every doc, keeps renewed ones, with one timer for all docs', async () => {
    const timersBefore = vi.getTimerCount()
    const docs = await Promise.all(Array.from({ length: 40 }, (_, i) => SharedDoc.load(`doc-${i}`, options)))
    // y-protocols started a 3 s interval per Awareness; what is left is the one shared sweep.
    expect(vi.getTimerCount() - timersBefore).toBe(1)
    expect(watchedCount()).toBe(40)
    const writers = docs.map(() => peer())
    const watchers = docs.map(() => peer())
    docs.forEach((doc, i) => { doc.addPeer(writers[i]!); doc.addPeer(watchers[i]!); setState(doc, writers[i]!, 1000 + i, 1) })
    expect(docs.every(d => d.awareness.getStates().size === 1)).toBe(true)

    // Doc 0's client renews its state at 20 s (the stock provider does every 15 s).
    vi.advanceTimersByTime(20_000)
    setState(docs[0]!, writers[0]!, 1000, 2)
    vi.advanceTimersByTime(outdatedTimeout - 20_000 - 1)
    expect(docs.every(d => d.awareness.getStates().size === 1)).toBe(true) // not yet 30 s
    vi.advanceTimersByTime(SWEEP_MS + 100) // the next sweep past 30 s (presence windows: 20 ms)
    expect(docs[0]!.awareness.getStates().size).toBe(1)
    for (let i = 1; i < docs.length; i++) {
      expect(docs[i]!.awareness.getStates().size).toBe(0)
      // Its other peer heard the removal at once (removals do not wait for a presence window).
      expect(watchers[i]!.heard.at(-1)).toEqual({ clientID: 1000 + i, isNull: true })
    }
    // The renewed state goes 30 s after its renewal, not before.
    vi.advanceTimersByTime(20_000 - SWEEP_MS - 100 - 1 - SWEEP_MS)
    expect(docs[0]!.awareness.getStates().size).toBe(1)
    vi.advanceTimersByTime(2 * SWEEP_MS + 100)
    expect(docs[0]!.awareness.getStates().size).toBe(0)
    expect(watchers[0]!.heard.at(-1)).toEqual({ clientID: 1000, isNull: true })
    // Its id is free again: the client comes back with a newer clock and is seen.
    setState(docs[0]!, writers[0]!, 1000, 3)
    expect(docs[0]!.awareness.getStates().size).toBe(1)

    await Promise.all(docs.map(d => d.destroy()))
    expect(watchedCount()).toBe(0)
    expect(vi.getTimerCount()).toBe(timersBefore)
  })
})
