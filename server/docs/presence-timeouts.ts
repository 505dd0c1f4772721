/**
 * Presence that stops being renewed goes away: a client's awareness state not renewed for
 * `outdatedTimeout` (y-protocols, 30 s; the stock provider renews its state every 15 s) is
 * removed with origin 'timeout', which is what y-protocols' own check does — a tab that froze or
 * lost its network without closing its socket leaves no cursor behind.
 *
 * Why not y-protocols' check: every `Awareness` starts its own `setInterval` (every 3 s) at
 * construction, so a server with n loaded docs woke up to n times every 3 s to find, nearly
 * always, nothing to remove. Here one sweep, on one timer that runs while any doc is loaded,
 * checks every loaded doc every `SWEEP_MS`: the same rule, the same bound (a state goes 30 to
 * 33 s after its last renewal), one wake-up for all of them. With 2,000 idle docs (one idle
 * WebSocket each) the server spent 9.6 ms of CPU a second, 1.7 with the sweep (bench/README.md,
 * "Idle docs").
 */
import { outdatedTimeout, removeAwarenessStates, type Awareness } from 'y-protocols/awareness'

/** How often the sweep runs: y-protocols' own check interval. */
export const SWEEP_MS = Math.floor(outdatedTimeout / 10)

const watched = new Set<Awareness>()
let timer: NodeJS.Timeout | null = null

/**
 * Takes over `awareness`' timeouts: its own interval stops, and the shared sweep removes its
 * outdated states until `unwatchTimeouts`. The server holds no local state, so nothing needs renewing.
 */
export function watchTimeouts (awareness: Awareness): void {
  clearInterval(awareness._checkInterval)
  watched.add(awareness)
  // Unref'd: a sweep for presence is never a reason for an embedder's process to stay up.
  timer ??= setInterval(sweepOutdated, SWEEP_MS).unref()
}

/** Stops sweeping `awareness` (its doc unloads); the timer stops with the last one. */
export function unwatchTimeouts (awareness: Awareness): void {
  watched.delete(awareness)
  if (watched.size === 0 && timer !== null) {
    clearInterval(timer)
    timer = null
  }
}

/** Docs the sweep watches (tests). */
export function watchedCount (): number { return watched.size }

/** Removes, in every watched doc, the states not renewed for `outdatedTimeout` (as y-protocols does). */
export function sweepOutdated (now = Date.now()): void {
  for (const awareness of watched) {
    if (awareness.states.size === 0) continue
    let outdated: number[] | null = null
    for (const id of awareness.states.keys()) {
      const meta = awareness.meta.get(id)
      if (id !== awareness.clientID && meta !== undefined && outdatedTimeout <= now - meta.lastUpdated) (outdated ??= []).push(id)
    }
    if (outdated === null) continue
    // A listener that throws must not keep the other docs' ghosts.
    try { removeAwarenessStates(awareness, outdated, 'timeout') } catch (err) { queueMicrotask(() => { throw err }) }
  }
}
