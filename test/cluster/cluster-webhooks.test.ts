/**
 * Webhooks in a cluster (server/webhooks/, hooks.ts): two nodes, one PostgreSQL, a Redis of the
 * file's own, editors of one doc on both. Each change is told once, by the node that stored it,
 * not by every node holding the doc; `created` once.
 */
import type { IncomingMessage } from 'node:http'
import { describe, expect, it } from 'vitest'
import { haveService } from '../helpers/services.js'
import { stockClient, synced } from '../helpers/providers.js'
import { eventsOf, startReceiver, type Received } from '../helpers/webhook-receiver.js'
import { sleep, waitFor } from '../helpers/wait.js'
import { useCluster } from '../helpers/cluster-fixture.js'

const byQuery = (req: IncomingMessage): { access: 'write', user?: string } => ({ access: 'write', user: new URL(req.url ?? '/', 'http://x').searchParams.get('user') ?? undefined })

describe.skipIf(!(await haveService('postgres')))('webhooks in a cluster (two nodes, one PostgreSQL, a Redis of the test\'s own)', () => {
  const cluster = useCluster('clwh')

  it('each change is told once, by the node that stored it, not by every node holding the doc; created once', async () => {
    const r = await startReceiver()
    const node = async (id: string) => await cluster.startNode(id, undefined, undefined, undefined, {
      authenticate: byQuery,
      webhooks: { urls: [`${r.url}?node=${id}`], quietMs: 200, maxDelayMs: 400 }
    })
    try {
      const [a, b] = [await node('a'), await node('b')]
      const doc = cluster.docName()
      const alice = stockClient(a.wsUrl, doc, { params: { user: 'alice' } })
      const bob = stockClient(b.wsUrl, doc, { params: { user: 'bob' } })
      cluster.clients.push(alice, bob)
      await synced(alice, bob)
      for (let i = 0; i < 30; i++) {
        (i % 3 === 0 ? bob : alice).text.insert(0, String.fromCharCode(97 + (i % 26)))
        await sleep(20)
      }
      await waitFor(() => alice.text.length === 30 && bob.text.length === 30, 'both editors to hold every edit')
      const stored = await cluster.storedSeqs(doc)
      expect(stored).toHaveLength(30)
      const told = (): Received[] => eventsOf(r.requests, 'changed', doc)
      await waitFor(() => told().reduce((n, q) => n + (q.json.updates as number), 0) >= 30, 'every record to be told', 10_000)
      await sleep(600)
      // Every record told exactly once, by the node that stored it (alice's on a, bob's on b).
      const from = (id: string): Received[] => told().filter(q => q.path.endsWith(`?node=${id}`))
      const updates = (rs: Received[]): number => rs.reduce((n, q) => n + (q.json.updates as number), 0)
      expect(updates(from('a'))).toBe(20)
      expect(updates(from('b'))).toBe(10)
      expect(from('a').every(q => q.json.users.join() === 'alice')).toBe(true)
      expect(from('b').every(q => q.json.users.join() === 'bob')).toBe(true)
      for (const q of told()) expect(stored.filter(x => x >= q.json.fromSeq && x <= q.json.toSeq).length).toBeGreaterThanOrEqual(q.json.updates)
      expect(eventsOf(r.requests, 'created', doc)).toHaveLength(1)
    } finally {
      // The nodes first (their close drains to the receiver), then the receiver.
      await Promise.all(cluster.nodes.splice(0).map(n => n.close()))
      await r.close()
    }
  }, 30_000)
})
