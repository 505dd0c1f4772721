/**
 * Crash safety: the real CLI as a child process, several clients writing continuously, killed
 * with SIGKILL at a random moment, several rounds on the same data directory. After each
 * restart every update any peer observed (from another peer: so it went through the server)
 * must be there, and the store must open cleanly (no quarantined records).
 */
import { afterEach, describe, expect, it } from 'vitest'
import { startChildServer, type ChildServer } from '../helpers/child-server.js'
import { stockClient, synced, type StockClient } from '../helpers/providers.js'
import { tempDir } from '../helpers/server.js'
import { rng } from '../helpers/random.js'
import { waitFor, sleep } from '../helpers/wait.js'

const ROUNDS = Number(process.env.CRASH_ROUNDS ?? 8)
const WRITERS = 4

describe('SIGKILL under continuous writes', () => {
  const cleanups: Array<() => void> = []
  afterEach(() => { for (const c of cleanups.splice(0).reverse()) c() })

  it(`loses nothing any peer observed, over ${ROUNDS} kill rounds`, async () => {
    const seed = Number(process.env.SEED ?? Math.floor(Math.random() * 2 ** 31))
    const r = rng(seed)
    const tag = `seed ${seed}`
    const dir = tempDir('weft-crash-')
    cleanups.push(dir.remove)
    /** Every entry some peer saw arrive from another peer, over all rounds. */
    const observed = new Set<string>()
    let checked = 0
    let survived = 0

    for (let round = 0; round < ROUNDS; round++) {
      const child: ChildServer = await startChildServer(['--port', '0', '--data', dir.path, '--log-level', 'warn'])
      cleanups.push(() => child.proc.kill('SIGKILL'))

      // Recovery check for the previous rounds: everything observed is there.
      const checker = stockClient(child.wsUrl, 'crash')
      await synced(checker)
      const stored = new Set(checker.doc.getArray<string>('log').toArray())
      const missing = [...observed].filter(e => !stored.has(e))
      expect(missing, `${tag}, round ${round}: observed before the kill, missing after restart`).toEqual([])
      checked += observed.size
      expect(child.stderr(), `${tag}: store opens cleanly`).not.toMatch(/quarantined|failed to apply/)
      checker.destroy()

      const clients: StockClient[] = Array.from({ length: WRITERS }, () => stockClient(child.wsUrl, 'crash'))
      await synced(...clients)
      const watched = clients.map(() => new Set<string>())
      clients.forEach((c, i) => {
        c.doc.getArray<string>('log').observe(e => {
          // Only entries from other peers count: they went through the server's store first.
          if (e.transaction.local) return
          for (const item of e.changes.added) for (const v of item.content.getContent() as string[]) watched[i]!.add(v)
        })
      })

      // Write continuously until the kill at a random moment.
      let writing = true
      const loops = clients.map(async (c, w) => {
        let i = 0
        while (writing) {
          c.doc.getArray<string>('log').push([`r${round}-w${w}-${i++}`])
          await sleep(2 + (i % 5))
        }
      })
      await waitFor(() => watched.every(s => s.size > 0), 'every client to observe others')
      await sleep(100 + r.int(1500))
      child.proc.kill('SIGKILL')
      writing = false
      await child.exited
      await Promise.all(loops)
      survived++
      for (const s of watched) for (const v of s) observed.add(v)
      for (const c of clients) c.destroy()
    }

    // A final restart checks the last round too.
    const last = await startChildServer(['--port', '0', '--data', dir.path])
    cleanups.push(() => last.proc.kill('SIGKILL'))
    const final = stockClient(last.wsUrl, 'crash')
    cleanups.push(() => final.destroy())
    await synced(final)
    const stored = new Set(final.doc.getArray<string>('log').toArray())
    expect([...observed].filter(e => !stored.has(e)), `${tag}: after the last kill`).toEqual([])
    checked += observed.size
    expect(last.stderr()).not.toMatch(/quarantined|failed to apply/)
    // eslint-disable-next-line no-console
    console.log(`crash ${tag}: ${survived} SIGKILL rounds survived; ${observed.size} distinct observed updates, ${checked} checks after restarts; ${stored.size} entries stored`)
    expect(survived).toBe(ROUNDS)
    expect(observed.size).toBeGreaterThan(ROUNDS * 10)
  }, 180_000)
})
