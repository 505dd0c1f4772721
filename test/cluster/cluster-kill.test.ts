/**
 * Three node processes behind Debian's nginx running the repo's config (deploy/nginx/weft.conf),
 * PostgreSQL as the log and a Redis of the test's own: a node is SIGKILLed at a random moment
 * while everyone types. Nothing any client or observer saw may be missing afterwards, and the
 * clients of the dead node reconnect (through nginx, to the others) and converge.
 */
import { afterEach, describe, expect, it } from 'vitest'
import { haveService, postgresUrl } from '../helpers/services.js'
import { startChildServer, type ChildServer } from '../helpers/child-server.js'
import { nginxBinary, startNginx, type Nginx } from '../helpers/nginx.js'
import { startOwnRedis, type OwnRedis } from '../helpers/redis-server.js'
import { stockClient, synced, type StockClient } from '../helpers/providers.js'
import { sseMirror, type SseMirror } from '../helpers/sse.js'
import { sleep, waitFor } from '../helpers/wait.js'
import { rng } from '../helpers/random.js'

const available = await haveService('postgres')
const required = process.env.WEFT_REQUIRE_SERVICES === '1'

const TOKEN = /<\d+:\d+>/g
const tokensOf = (text: string): string[] => text.match(TOKEN) ?? []

describe('cluster: node processes SIGKILLed', () => {
  const cleanups: Array<() => Promise<void> | void> = []
  afterEach(async () => { for (const c of cleanups.splice(0).reverse()) await c() })

  const skip = !available || (nginxBinary === null && !required)
  it.skipIf(skip)('a node SIGKILLed under continuous writes loses nothing anyone saw; its clients reconnect to the others and converge', async () => {
    const redis: OwnRedis = await startOwnRedis()
    cleanups.push(() => redis.stop())
    const kids: ChildServer[] = await Promise.all([1, 2, 3].map(i => startChildServer(['--postgres', postgresUrl, '--redis', redis.url, '--node-id', `kill-${i}`])))
    cleanups.push(() => { for (const k of kids) k.proc.kill('SIGKILL') })
    const lb: Nginx = await startNginx(kids.map(k => k.port))
    cleanups.push(() => lb.stop())
    const doc = `nginx-${Date.now().toString(36)}`
    const r = rng(Date.now() % 100_000)

    // Round robin spreads them over the three nodes.
    const typists: StockClient[] = Array.from({ length: 6 }, () => stockClient(lb.wsUrl, doc))
    const watcher = stockClient(lb.wsUrl, doc)
    const everyone = [...typists, watcher]
    cleanups.push(() => { for (const c of everyone) c.destroy() })
    await synced(...everyone)
    const url = `${lb.url}/docs/${encodeURIComponent(doc)}/events`
    let mirror: SseMirror = await sseMirror(url)
    cleanups.push(() => mirror.close())

    const observed = new Set<string>()
    const typed = new Set<string>()
    let typing = true
    const look = (): void => {
      for (const c of everyone) for (const t of tokensOf(c.text.toString())) observed.add(t)
      for (const t of tokensOf(mirror.text())) observed.add(t)
    }
    const watching = (async () => {
      while (typing) {
        look()
        // The observer's stream was on the dead node: it resumes by cursor through nginx.
        if (mirror.client.ended) mirror = await sseMirror(url, { lastEventId: mirror.client.lastEventId, doc: mirror.doc }).catch(() => mirror)
        await sleep(25)
      }
    })()
    const typingDone = Promise.all(typists.map(async (c, i) => {
      for (let n = 0; typing; n++) {
        const token = `<${i}:${n}>`
        c.text.insert(c.text.length, token)
        typed.add(token)
        await sleep(15 + r.int(20))
      }
    }))

    // Two rounds: a node killed at a random moment, replaced on its port, then another.
    const killed: string[] = []
    for (let round = 0; round < 2; round++) {
      await sleep(600 + r.int(1200))
      const at = r.int(kids.length)
      const victim = kids[at]!
      victim.proc.kill('SIGKILL')
      await victim.exited
      killed.push(`${victim.port} after ${typed.size} tokens`)
      await sleep(1500)
      if (round === 0) kids[at] = await startChildServer(['--postgres', postgresUrl, '--redis', redis.url, '--node-id', `kill-${at}-again`, '--port', String(victim.port)])
    }
    typing = false
    await typingDone
    await watching
    look()

    // Everyone converges (the dead node's clients through nginx, on the others).
    await waitFor(() => everyone.every(c => c.provider.wsconnected && c.text.toString() === typists[0]!.text.toString()), 'all clients to converge after the kill', 20_000, 50)
    const final = typists[0]!.text.toString()
    // Nothing lost: a fresh client loads it all from PostgreSQL through any surviving node.
    const fresh = stockClient(lb.wsUrl, doc)
    everyone.push(fresh)
    await synced(fresh)
    await waitFor(() => fresh.text.toString() === final, 'a fresh client to load everything', 10_000)
    const present = new Set(tokensOf(final))
    const missingObserved = [...observed].filter(t => !present.has(t))
    const missingTyped = [...typed].filter(t => !present.has(t))
    console.log(`cluster/nginx: killed ${killed.join(', then ')}; ${typed.size} typed, ${observed.size} observed, ${present.size} in the final text`)
    expect(missingObserved).toEqual([])
    expect(missingTyped).toEqual([])
    // The observer's stream followed too.
    await waitFor(() => mirror.text() === final || mirror.client.ended, 'the SSE observer to catch up', 10_000)
  }, 90_000)

  it.skipIf(!available)('the presence of a SIGKILLed node\'s clients is removed everywhere within the awareness timeout', async () => {
    const redis: OwnRedis = await startOwnRedis()
    cleanups.push(() => redis.stop())
    const [doomed, survivor] = await Promise.all([1, 2].map(i => startChildServer(['--postgres', postgresUrl, '--redis', redis.url, '--node-id', `presence-${i}`])))
    cleanups.push(() => { doomed!.proc.kill('SIGKILL'); survivor!.proc.kill('SIGKILL') })
    const doc = `presence-kill-${Date.now().toString(36)}`
    const there = stockClient(doomed!.wsUrl, doc)
    const here = stockClient(survivor!.wsUrl, doc)
    cleanups.push(() => { there.destroy(); here.destroy() })
    await synced(there, here)
    there.provider.awareness.setLocalStateField('user', { name: 'there' })
    await waitFor(() => here.provider.awareness.getStates().has(there.doc.clientID), 'presence to cross', 5000)
    // Its node dies without a word; the client cannot say goodbye either (it is cut off).
    there.provider.shouldConnect = false
    doomed!.proc.kill('SIGKILL')
    const t0 = performance.now()
    await waitFor(() => !here.provider.awareness.getStates().has(there.doc.clientID), 'the dead node\'s presence to go', 30_000, 50)
    const ms = performance.now() - t0
    console.log(`cluster: a SIGKILLed node's presence removed after ${ms.toFixed(0)} ms`)
    // Three missed 2 s heartbeats, well inside the 30 s awareness timeout.
    expect(ms).toBeLessThan(15_000)
  }, 60_000)
})
