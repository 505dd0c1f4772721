/**
 * Which transport tier to use: the provider's memory of what works on this network.
 *
 * - A tier that fails to open while a lower one opens does not work here: it is abandoned.
 * - A tier that opens but is cut `maxCuts` times within `cutWindowMs` is abandoned too (a proxy
 *   that lets WebSockets open and kills them after a few seconds).
 * - When every tier fails to open in one round, the server or the network is down, not a
 *   tier: nothing is abandoned and the next round starts from the top.
 * - An abandoned tier may be probed again after `probeAfterMs`, doubling up to
 *   `maxProbeAfterMs` with each failed probe; a successful probe forgets the abandonment.
 * The lowest tier is never abandoned. Time comes from `now` so the rules are unit-testable.
 */
import type { TransportName } from './transports/types.js'

export interface TierPolicyOptions {
  cutWindowMs: number
  maxCuts: number
  probeAfterMs: number
  maxProbeAfterMs: number
  now?: () => number
}

export class TierPolicy {
  private readonly abandonedUntil = new Map<TransportName, number>()
  private readonly probeDelay = new Map<TransportName, number>()
  private readonly cuts = new Map<TransportName, number[]>()
  /** Tiers that failed to open during the current round of attempts. */
  private readonly failedThisRound = new Set<TransportName>()
  private readonly now: () => number

  constructor (readonly tiers: readonly TransportName[], private readonly o: TierPolicyOptions) {
    if (tiers.length === 0) throw new TypeError('at least one transport tier is needed')
    this.now = o.now ?? Date.now
  }

  private get last (): TransportName { return this.tiers[this.tiers.length - 1]! }

  isAbandoned (name: TransportName): boolean { return (this.abandonedUntil.get(name) ?? 0) > this.now() }

  /** The tier to try next, or null when every tier failed to open this round (a new round begins). */
  next (): TransportName | null {
    const usable = this.tiers.filter(t => !this.isAbandoned(t))
    const name = (usable.length > 0 ? usable : [this.last]).find(t => !this.failedThisRound.has(t))
    if (name === undefined) this.failedThisRound.clear()
    return name ?? null
  }

  failedToOpen (name: TransportName): void { this.failedThisRound.add(name) }

  /** `name` opened: the tiers above it that failed to open this round are abandoned. */
  opened (name: TransportName): void {
    const index = this.tiers.indexOf(name)
    for (const t of this.failedThisRound) if (this.tiers.indexOf(t) < index) this.abandon(t)
    this.failedThisRound.clear()
  }

  /** An open `name` was cut; true when that made it abandoned. */
  cut (name: TransportName): boolean {
    const now = this.now()
    const recent = (this.cuts.get(name) ?? []).filter(t => now - t < this.o.cutWindowMs)
    recent.push(now)
    this.cuts.set(name, recent)
    if (recent.length < this.o.maxCuts || name === this.last) return false
    this.cuts.delete(name)
    this.abandon(name)
    return true
  }

  abandon (name: TransportName): void {
    if (name === this.last) return
    const delay = this.probeDelay.get(name) ?? this.o.probeAfterMs
    this.abandonedUntil.set(name, this.now() + delay)
    this.probeDelay.set(name, Math.min(this.o.maxProbeAfterMs, delay * 2))
  }

  /** A probe of `name` opened: it works again. */
  restored (name: TransportName): void {
    this.abandonedUntil.delete(name)
    this.probeDelay.delete(name)
  }

  /** The first tier above `current` worth probing, and when (ms from now, ≥ 0); null if none. */
  nextProbe (current: TransportName): { tier: TransportName, inMs: number } | null {
    const above = this.tiers.slice(0, this.tiers.indexOf(current))
    if (above.length === 0) return null
    const now = this.now()
    let best: { tier: TransportName, inMs: number } | null = null
    for (const tier of above) {
      const inMs = Math.max(0, (this.abandonedUntil.get(tier) ?? 0) - now)
      if (best == null || inMs < best.inMs) best = { tier, inMs }
    }
    return best
  }
}
