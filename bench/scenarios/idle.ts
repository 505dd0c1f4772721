/**
 * idle: memory per idle connection. One client per room first (so the docs are loaded and the
 * doc cost is not charged to connections), then N more idle clients; KB per connection is the
 * RSS growth over N after a settle. SSE: the same with idle observers on one doc.
 *
 * Loaded docs: D docs, each the first 20,000 edits of automerge-paper (a few pages typed live),
 * are written, the server restarts (nothing loaded), one extra doc is loaded to warm the load
 * path, then one idle client opens each doc. KB per doc is that RSS growth over D, less the
 * target's own KB per idle WebSocket from the same repeat, and is shown against the doc's
 * encoded size (`Y.encodeStateAsUpdate`).
 *
 * Idle docs: D docs open, each with one idle WebSocket (nothing typed, no presence), then the
 * server's CPU over a quiet stretch (time on a CPU from schedstat: /proc/stat's 10 ms ticks are as
 * large as what is measured): what a server with many open docs pays per second for nothing
 * (timers per doc or per connection). Plain flags, no inspector.
 */
import { join } from 'node:path'
import * as Y from 'yjs'
import { record, rotation, rssMb, sleep, withTarget, type BenchContext } from '../lib/context.js'
import { rssKb, runTimeMs } from '../lib/proc.js'
import type { RunningTarget, TargetName } from '../lib/targets.js'
import { applyPatches, loadTrace } from '../load/traces.js'
import { tracesDir } from './coldload.js'

const wsTargets: TargetName[] = ['weft', 'reference', 'hocuspocus', 'relay']
const sseTargets: TargetName[] = ['weft', 'sse-broadcast']
/** Targets that load docs (the relay and the SSE limit hold none). */
const docTargets: TargetName[] = ['weft', 'reference', 'hocuspocus']
const docEdits = 20_000
/**
 * Every target runs with a 1 MB young generation and the inspector here: RSS is read after a
 * full GC (through the inspector), so up to 16 MB of not yet collected garbage does not swamp
 * the per-connection figure (16 KB over 1,000 connections).
 */
const youngGen = ['--max-semi-space-size=1', '--inspect=127.0.0.1:0']
async function settledRssKb (t: RunningTarget, ms: number): Promise<number> {
  await sleep(ms)
  await t.collectGarbage()
  await sleep(500)
  return rssKb(t.pid)
}

/** Bytes of the test doc encoded as one update, as the loadgen's writer builds it (coldload.ts). */
let encodedBytes = 0
function docEncodedBytes (trace: string): number {
  if (encodedBytes > 0) return encodedBytes
  const t = loadTrace(trace)
  const doc = new Y.Doc()
  doc.clientID = 42
  const text = doc.getText('t')
  for (let i = 0; i < docEdits; i += 1000) doc.transact(() => { for (let k = i; k < Math.min(docEdits, i + 1000); k++) applyPatches(text, t.txns[k]!.patches) })
  encodedBytes = Y.encodeStateAsUpdate(doc).byteLength
  doc.destroy()
  return encodedBytes
}

export async function idle (ctx: BenchContext): Promise<void> {
  const rooms = 50
  const n = ctx.quick ? 1000 : 3000
  const docs = ctx.quick ? 10 : 30
  const settleMs = ctx.quick ? 1500 : 3000
  const idleDocs = ctx.quick ? 1000 : 2000
  /** A quiet stretch several times y-protocols' 3 s presence check, so per-doc timers show. */
  const quietMs = ctx.quick ? 9000 : 15_000
  const trace = join(tracesDir, 'automerge-paper.json.gz')
  const encodedKb = docEncodedBytes(trace) / 1024
  for (let repeat = 0; repeat < ctx.repeats; repeat++) {
    /** KB per idle WebSocket of each target in this repeat: a loaded doc's client is not the doc's cost. */
    const wsKb = new Map<TargetName, number>()
    for (const target of rotation(ctx.only(wsTargets), repeat)) {
      await withTarget(target, async t => {
        await ctx.loadgen.call('connect', { group: 'base', url: t.wsUrl, dialect: t.info.dialect, syncOnOpen: !t.info.syncs, rooms, clientsPerRoom: 1, roomPrefix: 'idle-' })
        const before = await settledRssKb(t, settleMs)
        const c = await ctx.loadgen.call('connect', { group: 'idle', url: t.wsUrl, dialect: t.info.dialect, syncOnOpen: !t.info.syncs, rooms, clientsPerRoom: n / rooms, roomPrefix: 'idle-', firstIndex: rooms })
        const after = await settledRssKb(t, settleMs)
        const kb = (after - before) / (n - c.failures)
        wsKb.set(target, kb)
        record(ctx, { scenario: 'idle', metric: `idle: KB per idle WebSocket (${n} over ${rooms} docs)`, unit: 'KB', target, repeat, value: kb, lowerIsBetter: true })
        record(ctx, { scenario: 'idle', metric: `idle: RSS with ${n + rooms} idle WebSockets`, unit: 'MB', target, repeat, value: rssMb(t), lowerIsBetter: true })
        ctx.log(`  idle ws ${target} #${repeat}: ${n} connected in ${c.connectMs.toFixed(0)} ms (${c.failures} failed), RSS ${before} → ${after} KB, ${kb.toFixed(1)} KB/conn`)
        await ctx.loadgen.call('close-all')
      }, youngGen)
    }
    for (const target of rotation(ctx.only(sseTargets), repeat)) {
      await withTarget(target, async t => {
        const doc = 'idle-sse'
        await ctx.loadgen.call('connect', { group: 'writer', url: t.wsUrl, dialect: t.info.dialect, syncOnOpen: !t.info.syncs, rooms: 1, clientsPerRoom: 1, roomPrefix: doc })
        const probe = await ctx.loadgen.call('sse-connect', { group: 'probe', url: t.httpUrl, doc: `${doc}0`, count: 1 })
        if (probe.failures > 0) { ctx.log(`  idle sse ${target}: no SSE endpoint (skipped)`); await ctx.loadgen.call('close-all'); return }
        const before = await settledRssKb(t, settleMs)
        const c = await ctx.loadgen.call('sse-connect', { group: 'observers', url: t.httpUrl, doc: `${doc}0`, count: n })
        const after = await settledRssKb(t, settleMs)
        const kb = (after - before) / (n - c.failures)
        record(ctx, { scenario: 'idle', metric: `idle: KB per idle SSE observer (${n} on one doc)`, unit: 'KB', target, repeat, value: kb, lowerIsBetter: true })
        ctx.log(`  idle sse ${target} #${repeat}: ${n} observers in ${c.connectMs.toFixed(0)} ms (${c.failures} failed), RSS ${before} → ${after} KB, ${kb.toFixed(1)} KB/observer`)
        await ctx.loadgen.call('close-all')
      }, youngGen)
    }
    for (const target of rotation(ctx.only(wsTargets), repeat)) {
      await withTarget(target, async t => {
        const c = await ctx.loadgen.call('connect', { group: 'idle-docs', url: t.wsUrl, dialect: t.info.dialect, syncOnOpen: !t.info.syncs, rooms: idleDocs, clientsPerRoom: 1, roomPrefix: 'quiet-' })
        await sleep(settleMs)
        const run0 = runTimeMs(t.pid)
        await sleep(quietMs)
        const perSecond = (runTimeMs(t.pid) - run0) / (quietMs / 1000)
        record(ctx, { scenario: 'idle', metric: `idle: server CPU with ${idleDocs} docs open, one idle WebSocket each`, unit: 'ms/s', target, repeat, value: perSecond, lowerIsBetter: true })
        ctx.log(`  idle docs CPU ${target} #${repeat}: ${idleDocs - c.failures} docs open (${c.failures} failed), ${perSecond.toFixed(2)} ms CPU per s over ${quietMs / 1000} s`)
        await ctx.loadgen.call('close-all')
      })
    }
    for (const target of rotation(ctx.only(docTargets), repeat)) {
      await withTarget(target, async t => {
        const store = async (doc: string): Promise<void> => {
          const r = await ctx.loadgen.call('cold-store', { url: t.wsUrl, dialect: t.info.dialect, doc, trace, edits: docEdits, chunk: 1000 })
          if (r.stored !== true) throw new Error(`${doc} was not stored`)
        }
        await store('idle-warm-0')
        for (let i = 0; i < docs; i++) await store(`idle-doc-${i}`)
        await ctx.loadgen.call('close-all')
        // Hocuspocus debounces stores by 2 s; let every target settle before the restart.
        await sleep(3000)
        await t.restart()
        const openDocs = async (group: string, prefix: string, count: number): Promise<{ failures: number }> =>
          await ctx.loadgen.call('connect', { group, url: t.wsUrl, dialect: t.info.dialect, syncOnOpen: !t.info.syncs, rooms: count, clientsPerRoom: 1, roomPrefix: prefix, firstIndex: group === 'warm' ? 0 : 1 })
        await openDocs('warm', 'idle-warm-', 1)
        const before = await settledRssKb(t, settleMs)
        const c = await openDocs('docs', 'idle-doc-', docs)
        const after = await settledRssKb(t, settleMs)
        const loaded = docs - c.failures
        const conn = wsKb.get(target) ?? 0
        const kb = (after - before) / loaded - conn
        record(ctx, { scenario: 'idle', metric: `idle: KB per loaded idle doc (automerge-paper, ${docEdits / 1000}k edits: ${encodedKb.toFixed(1)} KB encoded)`, unit: 'KB', target, repeat, value: kb, lowerIsBetter: true })
        record(ctx, { scenario: 'idle', metric: 'idle: loaded idle doc / its encoded size', unit: '×', target, repeat, value: kb / encodedKb, lowerIsBetter: true })
        ctx.log(`  idle docs ${target} #${repeat}: ${loaded} docs (${c.failures} failed), RSS ${before} → ${after} KB, ${((after - before) / loaded).toFixed(1)} KB per doc and client, less ${conn.toFixed(1)} KB per client: ${kb.toFixed(1)} KB per doc (${(kb / encodedKb).toFixed(1)}× its ${encodedKb.toFixed(1)} KB encoded)`)
        await ctx.loadgen.call('close-all')
      }, youngGen)
    }
  }
}
