/**
 * Cluster mode (server/cluster/): several nodes, one PostgreSQL (the log and each doc's
 * sequencer) and a Redis of the test's own (the bus), real sockets, stock providers. Nodes run
 * in this process here (each a whole Weft on its own port, as a process would be); the SIGKILL
 * cases run them as processes (cluster-kill.test.ts); a doc's life across nodes (concurrent
 * writers, read-back, deletes) is cluster-docs.test.ts.
 */
import { describe, expect, it } from 'vitest'
import * as Y from 'yjs'
import { parseCursor } from '../../shared/cursor.js'
import { haveService, postgresUrl } from '../helpers/services.js'
import { stockClient, synced, type StockClient } from '../helpers/providers.js'
import { textOf, useCluster } from '../helpers/cluster-fixture.js'
import { openSse } from '../helpers/sse.js'
import { sleep, waitFor } from '../helpers/wait.js'
import { rng } from '../helpers/random.js'
import { startTcpProxy } from '../helpers/tcp-proxy.js'
import { nginxBinary, startNginx } from '../helpers/nginx.js'

const available = await haveService('postgres')

if (!available) {
  describe('cluster', () => { it.skip('PostgreSQL is not reachable (see the warning above)', () => {}) })
} else {
  describe('cluster: nodes behind any balancer, Postgres as the log, Redis as the bus', () => {
    const cluster = useCluster('cl')
    const { nodes, clients, streams, docName, startNode, threeNodes, storedSeqs, metric, editors, commandCalls } = cluster

    it('stock providers on three nodes converge; an SSE observer on B sees an edit made on A at once; one XADD per committed group', async () => {
      const [a, b, c] = await threeNodes()
      const doc = docName()
      const xaddsBefore = await commandCalls('xadd')
      const editors = [a!, b!, c!].map(n => stockClient(n.wsUrl, doc))
      clients.push(...editors)
      await synced(...editors)
      for (let i = 0; i < 20; i++) editors[i % 3]!.text.insert(0, String.fromCharCode(97 + i))
      await waitFor(() => editors.every(e => textOf(e).length === 20 && textOf(e) === textOf(editors[0]!)), 'three nodes to converge', 10_000)

      const sse = await openSse(`${b!.url}/docs/${encodeURIComponent(doc)}/events`)
      streams.push(sse)
      await sse.next(e => e.event === 'snapshot', 'snapshot')
      const latencies: number[] = []
      for (let i = 0; i < 10; i++) {
        const from = sse.events.length
        const t0 = performance.now()
        editors[0]!.text.insert(0, '!')
        await sse.next(e => e.event === 'update', 'an update from node A', 5000, from)
        latencies.push(performance.now() - t0)
        await sleep(20)
      }
      latencies.sort((x, y) => x - y)
      console.log(`cluster: edit on A → SSE event on B, median ${latencies[5]!.toFixed(1)} ms, max ${latencies[9]!.toFixed(1)} ms`)
      // 100 ms on a quiet machine; a loaded CI box gets more room, the median stays the measure.
      expect(latencies[5]).toBeLessThan(250)

      // One XADD per committed group, whatever the number of nodes: Redis' own count.
      await sleep(300)
      let groups = 0
      for (const n of [a!, b!, c!]) groups += await metric(n, 'storage_batch_updates_count')
      expect(await commandCalls('xadd') - xaddsBefore).toBe(groups)
      expect(groups).toBeGreaterThan(0)
    })

    it('presence crosses nodes, and goes when its client leaves and when its node leaves', async () => {
      const [a, b, c] = await threeNodes()
      const doc = docName()
      const ann = stockClient(a!.wsUrl, doc)
      const bob = stockClient(b!.wsUrl, doc)
      const cid = stockClient(c!.wsUrl, doc)
      clients.push(ann, bob, cid)
      await synced(ann, bob, cid)
      ann.provider.awareness.setLocalStateField('user', { name: 'ann' })
      cid.provider.awareness.setLocalStateField('user', { name: 'cid' })
      const seen = (by: StockClient, who: StockClient): unknown => (by.provider.awareness.getStates().get(who.doc.clientID) as { user?: { name?: string } } | undefined)?.user?.name
      await waitFor(() => seen(bob, ann) === 'ann' && seen(bob, cid) === 'cid' && seen(ann, cid) === 'cid', 'presence across nodes', 5000)
      // A client that joins later sees everyone already present on the other nodes.
      const dan = stockClient(b!.wsUrl, doc)
      clients.push(dan)
      await waitFor(() => seen(dan, ann) === 'ann' && seen(dan, cid) === 'cid', 'a joiner to see every node\'s people', 5000)

      ann.provider.disconnect()
      await waitFor(() => !bob.provider.awareness.getStates().has(ann.doc.clientID), 'ann\'s presence to go on node B', 5000)
      // Node C leaves: its clients' presence goes everywhere (its goodbye, or three missed heartbeats).
      cid.provider.disconnect()
      await nodes.splice(nodes.indexOf(c!), 1)[0]!.close()
      await waitFor(() => !bob.provider.awareness.getStates().has(cid.doc.clientID), 'node C\'s presence to go', 8000)
    })

    it('observers that reconnect to random nodes with their cursor get exactly what they missed: SSE every record once and in order, audited against PostgreSQL; a long-poller never reset', async () => {
      const all = await threeNodes()
      const doc = docName()
      const [writer, second] = await editors(doc, all[0]!, all[2]!)
      const r = rng(7)
      let typing = true
      const typed = (async () => {
        for (let i = 0; typing && i < 2000; i++) {
          (i % 3 === 0 ? second! : writer!).text.insert(0, 'x')
          await sleep(5 + r.int(15))
        }
      })()
      // A long-poller hopping between nodes on every poll, alongside.
      const polled = new Y.Doc()
      let pollCursor: string | null = null
      let polls = 0
      let pollResets = 0
      const polling = (async () => {
        while (typing) {
          const node = all[r.int(all.length)]!
          const q = new URLSearchParams({ timeout: '0' })
          if (pollCursor !== null) q.set('cursor', pollCursor)
          const res = await fetch(`${node.url}/docs/${encodeURIComponent(doc)}/poll?${q}`).catch(() => null)
          if (res === null) break // the test ended (a failure closed the nodes)
          polls++
          if (res.status === 200) {
            const body = await res.json() as { cursor: string, update?: string, reset?: boolean }
            if (body.reset === true && pollCursor !== null) pollResets++
            if (body.update !== undefined) Y.applyUpdate(polled, Buffer.from(body.update, 'base64'))
            pollCursor = body.cursor
          } else await res.body?.cancel()
          await sleep(r.int(20))
        }
      })()
      const seqs: number[] = []
      let cursor: string | undefined
      let snapshotSeq: number | null = null
      // 6 s, or longer on a busy machine until there were enough reconnects (at most 20 s).
      const started = Date.now()
      let reconnects = 0
      try {
        while (Date.now() - started < (reconnects <= 60 ? 20_000 : 6000)) {
          const node = all[r.int(all.length)]!
          const sse = await openSse(`${node.url}/docs/${encodeURIComponent(doc)}/events`, cursor === undefined ? {} : { lastEventId: cursor })
          await sleep(10 + r.int(60))
          sse.close()
          reconnects++
          for (const e of sse.events) {
            // A node a few ms behind the cursor's catches up from storage first (SharedDoc.reach).
            if (e.event === 'reset') throw new Error(`a cursor from another node was not served: reset at ${node.url}`)
            if (e.event === 'snapshot') snapshotSeq = parseCursor(doc, e.id)
            if (e.event === 'update') seqs.push(parseCursor(doc, e.id)!)
            if (e.id !== '') cursor = e.id
          }
        }
      } finally {
        typing = false
        await typed
        await polling
      }
      // Drain: one last stream on another node, until it has everything stored.
      await waitFor(async () => (await storedSeqs(doc)).length > 0, 'records stored')
      const finalSse = await openSse(`${all[1]!.url}/docs/${encodeURIComponent(doc)}/events`, { lastEventId: cursor })
      streams.push(finalSse)
      const stored = await storedSeqs(doc)
      await waitFor(() => finalSse.lastEventId !== '' && parseCursor(doc, finalSse.lastEventId) === stored[stored.length - 1], 'the last stream to reach the head', 10_000)
      for (const e of finalSse.events) if (e.event === 'update') seqs.push(parseCursor(doc, e.id)!)
      // A snapshot's id is a stored record's number, or the blank cursor of a doc nothing was
      // stored for yet on that node (docs/blank.ts): then it held nothing, every record is expected.
      const expected = stored.includes(snapshotSeq!) ? stored.filter(s => s > snapshotSeq!) : stored
      console.log(`cluster: ${reconnects} SSE reconnects and ${polls} polls on random nodes, ${seqs.length} records received, ${stored.length} stored`)
      expect(reconnects).toBeGreaterThan(50)
      expect(seqs).toEqual(expected)
      // The poller: never reset once it had a cursor, and it ends with everything (one last poll).
      const res = await fetch(`${all[0]!.url}/docs/${encodeURIComponent(doc)}/poll?timeout=0&cursor=${encodeURIComponent(pollCursor!)}`)
      if (res.status === 200) {
        const body = await res.json() as { update?: string, reset?: boolean }
        if (body.reset === true) pollResets++
        if (body.update !== undefined) Y.applyUpdate(polled, Buffer.from(body.update, 'base64'))
      }
      expect(polls).toBeGreaterThan(100)
      expect(pollResets).toBe(0)
      expect(polled.getText('text').toString()).toBe(textOf(writer!))
    })

    it('Redis killed mid-edit and restarted empty: no write error, nothing lost, convergence within seconds of its return', async () => {
      const [a, b] = await Promise.all([startNode('a'), startNode('b')])
      const doc = docName()
      const [writer, reader] = await editors(doc, a, b)
      const closes: number[] = []
      writer.provider.on('connection-close', (e: CloseEvent | null) => { closes.push(e?.code ?? 0) })
      const type = async (n: number): Promise<void> => { for (let i = 0; i < n; i++) { writer.text.insert(writer.text.length, 'w'); await sleep(10) } }
      await type(20)
      await waitFor(() => textOf(reader) === textOf(writer), 'reader to follow before the kill')
      await cluster.redis.kill()
      await type(50)
      // While Redis is away the head check (about once a second) is the whole fan-out.
      await waitFor(() => textOf(reader) === textOf(writer), 'reader to follow by head check while Redis is down', 5000)
      await cluster.redis.start()
      await type(50)
      const back = performance.now()
      await waitFor(() => textOf(reader) === textOf(writer), 'reader to follow after Redis came back', 5000)
      console.log(`cluster: converged ${(performance.now() - back).toFixed(0)} ms after Redis came back empty`)
      expect(closes).toEqual([])
      expect(textOf(reader)).toBe('w'.repeat(120))
      // Nothing lost: a fresh client on a third node loads it all from PostgreSQL.
      const c = await startNode('c')
      const late = stockClient(c.wsUrl, doc)
      clients.push(late)
      await synced(late)
      expect(textOf(late)).toBe('w'.repeat(120))
    })

    it('PostgreSQL cut off: writers get 4500, nothing unstored is broadcast, reads and presence go on, /readyz fails; all converges after', async () => {
      const pgUrl = new URL(postgresUrl)
      const proxy = await startTcpProxy(pgUrl.hostname, Number(pgUrl.port || 5432))
      const viaProxy = new URL(postgresUrl)
      viaProxy.port = String(proxy.port)
      const [a, b] = await Promise.all([startNode('a', viaProxy.toString()), startNode('b', viaProxy.toString())])
      const doc = docName()
      const writer = stockClient(a.wsUrl, doc)
      const reader = stockClient(b.wsUrl, doc)
      // On A too, but it never writes: its presence must keep crossing while the database is away.
      const present = stockClient(a.wsUrl, doc)
      clients.push(writer, reader, present)
      await synced(writer, reader, present)
      const closes: number[] = []
      writer.provider.on('connection-close', (e: CloseEvent | null) => { closes.push(e?.code ?? 0) })
      for (let i = 0; i < 10; i++) writer.text.insert(writer.text.length, 'a')
      await waitFor(() => textOf(reader) === 'a'.repeat(10), 'reader before the cut')

      proxy.cut()
      for (let i = 0; i < 20; i++) { writer.text.insert(writer.text.length, 'b'); await sleep(20) }
      await waitFor(() => closes.includes(4500), 'the writer to be told storage failed (4500)', 5000)
      // Nothing that is not stored reaches anyone: the reader on B stays where it was.
      await sleep(500)
      expect(textOf(reader)).toBe('a'.repeat(10))
      expect((await fetch(`${a.url}/readyz`)).status).toBe(503)
      // Presence goes on without the database.
      present.provider.awareness.setLocalStateField('user', { name: 'p' })
      await waitFor(() => (reader.provider.awareness.getStates().get(present.doc.clientID) as { user?: { name?: string } } | undefined)?.user?.name === 'p', 'presence while Postgres is away', 5000)

      proxy.restore()
      await waitFor(() => textOf(reader) === 'a'.repeat(10) + 'b'.repeat(20) && textOf(writer) === textOf(reader), 'everything to converge after the database returns', 15_000, 50)
      await waitFor(async () => (await fetch(`${a.url}/readyz`)).status === 200, '/readyz to recover', 10_000, 100)
      await Promise.all(nodes.splice(0).map(n => n.close()))
      await proxy.close()
    })

    it('two nodes compacting the same doc again and again while both write never lose an update (randomised, repeated)', async () => {
      const r = rng(Date.now() % 100_000)
      for (let round = 0; round < 3; round++) {
        const [a, b] = await Promise.all([startNode('a', postgresUrl, 2 + r.int(4)), startNode('b', postgresUrl, 2 + r.int(4))])
        const doc = docName()
        const [left, right] = await editors(doc, a, b)
        for (let i = 0; i < 60; i++) {
          (i % 2 === 0 ? left : right).text.insert(0, String.fromCharCode(97 + (i % 26)))
          await sleep(r.int(8))
        }
        await waitFor(() => textOf(left).length === 60 && textOf(left) === textOf(right), 'both to converge', 10_000)
        // Everything is in PostgreSQL, however the compactions interleaved: a third node loads it.
        const c = await startNode('c')
        const late = stockClient(c.wsUrl, doc)
        clients.push(late)
        await synced(late)
        expect(textOf(late)).toBe(textOf(left))
        const records = (await storedSeqs(doc)).length
        expect(records).toBeLessThan(60) // they did compact
        for (const cl of clients.splice(0)) cl.destroy()
        await Promise.all(nodes.splice(0).map(n => n.close()))
      }
    })

    it.skipIf(nginxBinary === null && process.env.WEFT_REQUIRE_SERVICES !== '1')('the shipped nginx config routes by doc: a doc\'s WebSocket, SSE and poll clients meet on one node, docs spread over the nodes', async () => {
      const all = await threeNodes()
      const lb = await startNginx(all.map(n => n.port), 'doc')
      try {
        const names = Array.from({ length: 12 }, () => docName())
        for (const doc of names) {
          const c = [stockClient(lb.wsUrl, doc), stockClient(lb.wsUrl, doc), stockClient(lb.wsUrl, doc)]
          clients.push(...c)
          await synced(...c)
          const sse = await openSse(`${lb.url}/docs/${encodeURIComponent(doc)}/events`)
          streams.push(sse)
          await sse.next(e => e.event === 'snapshot', 'snapshot')
          await fetch(`${lb.url}/docs/${encodeURIComponent(doc)}/poll?timeout=0`).then(async r => await r.text())
          const holding = all.filter(n => n.weft.context.registry.has(doc))
          expect(holding.length, `nodes holding ${doc}`).toBe(1)
          expect(holding[0]!.weft.context.registry.get(doc)!.peers.size).toBe(5) // 3 sockets, the stream, the poll hub
        }
        const perNode = all.map(n => names.filter(d => n.weft.context.registry.has(d)).length)
        expect(perNode.filter(x => x > 0).length).toBeGreaterThan(1)
      } finally {
        await lb.stop()
      }
    })
  })
}
