/**
 * Measures how long the event loop stalls while an attack runs. Test servers run in the test's
 * own process, so a stall in the server is a stall here: `monitorEventLoopDelay` sees it.
 *
 *   const loop = watchLoop()
 *   …attack while a well-behaved editor types…
 *   const worstMs = loop.stop()   // the longest delay seen, in ms
 *
 * Every attack test reports its worst figure (`console.info`), so the hardening note can quote them.
 */
import { monitorEventLoopDelay } from 'node:perf_hooks'

/** The stall bound the hardening round promises under attack (issue "Hardening, round two"). */
export const MAX_STALL_MS = 100

export interface LoopWatch {
  /** Stops watching; returns the worst event-loop delay seen, in ms. */
  stop (label?: string): number
}

export function watchLoop (resolutionMs = 10): LoopWatch {
  const h = monitorEventLoopDelay({ resolution: resolutionMs })
  h.enable()
  return {
    stop (label) {
      h.disable()
      // The histogram counts the timer's own resolution in every sample: take it off.
      const worst = Math.max(0, h.max / 1e6 - resolutionMs)
      if (label != null) console.info(`[loop] ${label}: worst event-loop delay ${worst.toFixed(1)} ms`)
      return worst
    }
  }
}
