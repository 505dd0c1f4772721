/**
 * A doc's life across cluster nodes (server/cluster/): writers of one doc on two nodes get
 * distinct sequence numbers and apply every record once and in order; a doc only one node has is
 * not read back from its stream until another node loads it; a delete on one node ends the doc's
 * peers on the others, by its message or by the head check. The cluster's transport and failure
 * cases are cluster.test.ts.
 */
import { describe, expect, it } from 'vitest'
import * as Y from 'yjs'
import { postgresStorage } from '../../server/storage/postgres.js'
import { haveService, postgresUrl } from '../helpers/services.js'
import { startServer } from '../helpers/server.js'
import type { StockClient } from '../helpers/providers.js'
import { openSse } from '../helpers/sse.js'
import { sleep, waitFor } from '../helpers/wait.js'
import { textOf, useCluster } from '../helpers/cluster-fixture.js'

describe.skipIf(!(await haveService('postgres')))('cluster: a doc\'s life across nodes', () => {
  const cluster = useCluster('cld')
  const { nodes, streams, docName, startNode, storedSeqs, metric, editors, commandCalls } = cluster

  it('writers on two nodes of one doc at once: distinct sequence numbers, every record applied once and in order on both', async () => {
    const [a, b] = await Promise.all([startNode('a'), startNode('b')])
    const doc = docName()
    const [left, right] = await editors(doc, a, b)
    for (let i = 0; i < 100; i++) {
      left.text.insert(0, 'l')
      right.text.insert(right.text.length, 'r')
      if (i % 10 === 0) await sleep(5)
    }
    await waitFor(() => textOf(left).length === 200 && textOf(left) === textOf(right), 'both writers to converge', 10_000)
    const stored = await storedSeqs(doc)
    expect(new Set(stored).size).toBe(stored.length)
    for (const n of [a, b]) {
      const shared = n.weft.context.registry.get(doc)!
      expect(shared.seq).toBe(stored[stored.length - 1])
      const history = shared.history.since(stored[0]! - 1, shared.seq)!.map(rec => rec.seq)
      expect(history).toEqual(stored)
      const y = new Y.Doc()
      Y.applyUpdate(y, Y.encodeStateAsUpdate(shared.ydoc))
      expect(y.getText('text').toString()).toBe(textOf(left))
    }
  })

  it('a doc on one node only is not read back from its stream; a second node that loads it later and the first hear each other at once over the bus', async () => {
    // No head check within the test: whatever crosses nodes here came over the stream.
    const [a, b] = await Promise.all([startNode('a', postgresUrl, 1_000_000, 600_000), startNode('b', postgresUrl, 1_000_000, 600_000)])
    const doc = docName()
    const [first] = await editors(doc, a)
    await sleep(100) // the node asked Redis whether another has the doc
    const readsBefore = await commandCalls('xread')
    for (let i = 0; i < 20; i++) { first.text.insert(0, 'a'); await sleep(5) }
    await waitFor(async () => (await storedSeqs(doc)).length >= 20, 'the edits stored')
    // Alone, a's own adds are not read back (at most the read blocked before it knew it was alone).
    expect(await commandCalls('xread') - readsBefore).toBeLessThanOrEqual(2)
    expect(await metric(a, 'cluster_bus_adds_total')).toBeGreaterThan(0)

    const [second] = await editors(doc, b)
    expect(textOf(second)).toBe(textOf(first))
    for (let round = 0; round < 5; round++) {
      second.text.insert(0, 'b')
      await waitFor(() => textOf(first) === textOf(second), 'b\'s edit to reach a (over the bus: it was alone until b came)', 5000)
      first.text.insert(0, 'a')
      await waitFor(() => textOf(first) === textOf(second), 'a\'s edit to reach b', 5000)
    }
    expect(await metric(a, 'cluster_head_check_catches_total') + await metric(b, 'cluster_head_check_catches_total')).toBe(0)
    expect(await metric(a, 'cluster_bus_groups_received_total')).toBeGreaterThanOrEqual(5)
  })

  it('a delete on one node ends the doc\'s peers on the others at once (its message), or by the head check when no message comes', async () => {
    const [a, b] = await Promise.all([startNode('a'), startNode('b', postgresUrl, 1_000_000, 300)])
    const closeCodes = (c: StockClient): number[] => {
      const codes: number[] = []
      c.provider.on('connection-close', (e: CloseEvent | null) => { if (e != null) codes.push(e.code) })
      return codes
    }
    // 1. Deleted through node a: node b hears it over Redis.
    const doc = docName()
    const [onA, onB] = await editors(doc, a!, b!)
    const codesB = closeCodes(onB!)
    onA!.text.insert(0, 'gone soon')
    await waitFor(() => textOf(onB!) === 'gone soon', 'the edit to reach b')
    const sse = await openSse(`${b!.url}/docs/${encodeURIComponent(doc)}/events`)
    streams.push(sse)
    await sse.next(e => e.event === 'snapshot', 'snapshot')
    const t0 = performance.now()
    expect(await a!.weft.deleteDoc(doc)).toBe(true)
    await sse.next(e => e.event === 'deleted', 'the deleted event on node b', 5000)
    await waitFor(() => codesB.includes(4410), 'the editor on node b to be closed with 4410', 5000)
    console.log(`cluster: delete on A → peers on B ended in ${(performance.now() - t0).toFixed(0)} ms`)
    expect(b!.weft.context.registry.has(doc)).toBe(false)
    // The name starts over on both nodes; the old content is refused on b too (tombstone).
    const [fresh] = await editors(doc, b!)
    expect(textOf(fresh!)).toBe('')
    const stale = await fetch(`${b!.url}/docs/${encodeURIComponent(doc)}/updates`, { method: 'POST', body: Buffer.from(Y.encodeStateAsUpdate(onA!.doc)), headers: { 'content-type': 'application/octet-stream' } })
    expect(stale.status).toBe(410)

    // 2. Deleted by a server that is not in the cluster (no message): b's head check finds no
    // head for a doc it holds stored records of, and retires it.
    const other = docName()
    const [onB2] = await editors(other, b!)
    const codesB2 = closeCodes(onB2!)
    onB2!.text.insert(0, 'x')
    await waitFor(async () => (await storedSeqs(other)).length > 0, 'the edit to be stored')
    const outsider = await startServer({ storage: postgresStorage(postgresUrl, { tablePrefix: cluster.prefix, poolSize: 2 }) })
    nodes.push(outsider)
    expect(await outsider.weft.deleteDoc(other)).toBe(true)
    await waitFor(() => codesB2.includes(4410), 'the head check to retire the doc on node b', 5000)
    expect(b!.weft.context.registry.has(other)).toBe(false)
  })
})
