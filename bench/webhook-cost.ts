/**
 * `npx tsx bench/webhook-cost.ts`: what one webhook delivery costs in CPU — a window opened and
 * closed, the event stored (LevelDB), signed, POSTed to a receiver in this process and removed
 * after its 204 — and what the per-record bookkeeping costs (ChangeWindows.add). The fan-out
 * scenario (`npm run bench -- --only fanout --webhook`) measures the whole server; this isolates
 * the webhook part, which the shared machine's noise hides there.
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createWeft } from '../server/weft.js'
import { leveldbStorage } from '../server/storage/leveldb.js'
import { ChangeWindows } from '../server/change-windows.js'
import { startReceiver } from '../test/helpers/webhook-receiver.js'

const N = Number(process.env.N ?? 2000)
const receiver = await startReceiver()
const dir = mkdtempSync(join(tmpdir(), 'weft-webhook-cost-'))
const weft = await createWeft({ storage: leveldbStorage(dir), webhooks: { urls: [receiver.url], secret: 'a-webhook-secret-for-the-bench', quietMs: 0, maxDelayMs: 0 } })
// The hooks as the doc layer drives them: a batch committed by this node, then its record applied.
const hooks = (weft as unknown as { hooks: { committed: (d: string, f: number, n: number) => void, changed: (d: string, s: number, u?: string) => void } }).hooks
const record = (doc: string, seq: number): void => { hooks.committed(doc, seq, 1); hooks.changed(doc, seq, 'alice') }
const until = async (n: number): Promise<void> => { for (let i = 0; i < 60_000 && receiver.requests.length < n; i++) await new Promise(resolve => setTimeout(resolve, 5)) }

for (let i = 0; i < 200; i++) record(`warm-${i}`, i + 1)
await until(200)
const cpu = process.cpuUsage()
const t0 = performance.now()
for (let i = 0; i < N; i++) {
  record(`doc-${i % 50}`, 1000 + i)
  if (i % 50 === 49) await new Promise(resolve => setTimeout(resolve, 1))
}
await until(200 + N)
const used = process.cpuUsage(cpu)
console.log(`${N} deliveries: ${((used.user + used.system) / N).toFixed(0)} µs CPU each (receiver included), ${((performance.now() - t0) / N * 1000).toFixed(0)} µs wall each`)

const windows = new ChangeWindows({ quietMs: 60_000, maxDelayMs: 60_000 }, { closed () {} })
const docs = Array.from({ length: 64 }, (_, i) => `doc-${i}`)
const M = 2_000_000
const b0 = process.cpuUsage()
for (let i = 0; i < M; i++) windows.add(docs[i & 63]!, i, 'alice')
const b = process.cpuUsage(b0)
console.log(`per stored record: ${((b.user + b.system) * 1000 / M).toFixed(0)} ns (ChangeWindows.add)`)
windows.flushAll()
await weft.close()
await receiver.close()
rmSync(dir, { recursive: true, force: true })
