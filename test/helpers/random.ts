/** A seeded PRNG (mulberry32) so failures can be replayed: print the seed, pass it back. */
export function rng (seed: number): { next: () => number, int: (n: number) => number, seed: number } {
  let a = seed >>> 0
  const next = (): number => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
  return { next, int: n => Math.floor(next() * n), seed }
}
