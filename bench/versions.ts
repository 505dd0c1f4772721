/**
 * The cost of a version and of a restore on a real document: the automerge-paper editing trace
 * (259,778 keystrokes, test/fixtures/editing-traces), through a real Weft on LevelDB.
 *
 *   npx tsx bench/versions.ts [--runs 5]
 *
 * The first half of the trace is typed (through `weft.openDoc`, so every edit is stored like a
 * client's), a version is taken, the second half is typed, then the doc is restored to the
 * half-way version and back to the end (through the `before` version the restore keeps).
 * Reported: the wall time of each call (`versions.take`, `versions.restore`: storage included),
 * the Yjs work alone (median of `--runs` repeats: encoding the state and its fingerprint; the
 * restore update), the bytes stored and the size of the restore update. Baseline beside them:
 * a compaction of the same doc (`SharedDoc.compact`: it also encodes and stores the whole state).
 */
import { mkdtempSync, rmSync } from 'node:fs'
import os from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import * as Y from 'yjs'
import { createWeft } from '../server/weft.js'
import { leveldbStorage } from '../server/storage/leveldb.js'
import { fingerprint } from '../server/docs/versions.js'
import { restoreUpdate } from '../server/docs/restore.js'
import { loadTrace, type SequentialTrace } from '../test/helpers/traces.js'

const { values } = parseArgs({ options: { runs: { type: 'string', default: '5' } } })
const runs = Math.max(1, Number(values.runs))

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!
const time = async <T> (fn: () => T | Promise<T>): Promise<[T, number]> => {
  const t0 = performance.now()
  const out = await fn()
  return [out, performance.now() - t0]
}
const ms = (x: number): string => `${x.toFixed(1)} ms`
const kb = (bytes: number): string => `${(bytes / 1024).toFixed(1)} KiB`

/** Types txns [from, to) into `doc`, 2,000 keystroke transactions per Yjs transaction. */
function type (doc: Y.Doc, trace: SequentialTrace, from: number, to: number): void {
  const text = doc.getText('text')
  for (let start = from; start < to; start += 2000) {
    doc.transact(() => {
      for (const txn of trace.txns.slice(start, Math.min(to, start + 2000))) {
        for (const [pos, del, ins] of txn.patches) {
          if (del > 0) text.delete(pos, del)
          if (ins.length > 0) text.insert(pos, ins)
        }
      }
    })
  }
}

async function main (): Promise<void> {
  const trace = loadTrace('automerge-paper')
  const half = Math.floor(trace.txns.length / 2)
  const dir = mkdtempSync(join(os.tmpdir(), 'weft-bench-versions-'))
  const weft = await createWeft({ storage: leveldbStorage(dir), versionQuietMs: 0, versionIntervalMs: 0 })
  try {
    const handle = await weft.openDoc('paper')
    const shared = weft.context.registry.get('paper')!
    const versions = weft.context.versions
    type(handle.doc, trace, 0, half)
    await handle.stored()
    const halfText = shared.ydoc.getText('text').toString()

    const [v, takeMs] = await time(() => versions.take(shared, { name: 'half-way' }))
    const encodeMs: number[] = []
    const fpMs: number[] = []
    for (let i = 0; i < runs; i++) {
      encodeMs.push((await time(() => Y.encodeStateAsUpdate(shared.ydoc)))[1])
      fpMs.push((await time(() => fingerprint(shared.ydoc)))[1])
    }

    type(handle.doc, trace, half, trace.txns.length)
    await handle.stored()
    if (shared.ydoc.getText('text').toString() !== trace.endContent) throw new Error('the replay did not reach the trace\'s end')
    await shared.flushed()
    const [, compactMs] = await time(() => shared.compact())
    const fullState = Y.encodeStateAsUpdate(shared.ydoc).byteLength

    const versionState = (await versions.state('paper', v.id))!
    const { ms: computeMs, bytes: updateBytes } = await timeRestoreUpdate(shared.ydoc, versionState, runs)
    const [r, restoreMs] = await time(() => versions.restore(shared, v.id))
    if (shared.ydoc.getText('text').toString() !== halfText) throw new Error('the restore did not give the version\'s text')
    await handle.stored()

    const endState = (await versions.state('paper', r.before.id))!
    const { ms: backComputeMs, bytes: backBytes } = await timeRestoreUpdate(shared.ydoc, endState, runs)
    const [, backMs] = await time(() => versions.restore(shared, r.before.id))
    if (shared.ydoc.getText('text').toString() !== trace.endContent) throw new Error('restoring the later version did not bring the end back')
    await handle.release()

    const rows: Array<[string, string, string]> = [
      ['version of the half-way doc (versions.take, LevelDB)', ms(takeMs), `${kb(v.size)} stored`],
      ['  Yjs: encode state (median)', ms(median(encodeMs)), ''],
      ['  Yjs: fingerprint, sv + delete set (median)', ms(median(fpMs)), ''],
      ['restore end → half-way (versions.restore, incl. the `before` version)', ms(restoreMs), `${kb(r.before.size)} stored + ${kb(updateBytes)} update`],
      ['  Yjs: restore update (median)', ms(median(computeMs)), kb(updateBytes)],
      ['restore half-way → end (through `before`)', ms(backMs), `${kb(backBytes)} update`],
      ['  Yjs: restore update (median)', ms(median(backComputeMs)), kb(backBytes)],
      ['baseline: compaction of the full doc (SharedDoc.compact)', ms(compactMs), `${kb(fullState)} state`]
    ]
    const width = Math.max(...rows.map(r => r[0].length))
    process.stdout.write(`versions bench — automerge-paper (${trace.txns.length} txns, ${trace.endContent.length} chars at the end), LevelDB\n`)
    process.stdout.write(`machine: ${os.cpus()[0]?.model ?? '?'} × ${os.cpus().length}, node ${process.version}, yjs ${(await import('yjs/package.json', { with: { type: 'json' } })).default.version}, runs ${runs}\n\n`)
    for (const [what, t, size] of rows) process.stdout.write(`${what.padEnd(width)}  ${t.padStart(10)}  ${size}\n`)
  } finally {
    await weft.close()
    rmSync(dir, { recursive: true, force: true })
  }
}

await main()

/** `runs` computations of the update that restores `state` onto `ydoc` (not applied): each one's ms, and the update's size. */
async function timeRestoreUpdate (ydoc: Y.Doc, state: Uint8Array, runs: number): Promise<{ ms: number[], bytes: number }> {
  const ms: number[] = []
  let bytes = 0
  for (let i = 0; i < runs; i++) {
    const [u, t] = await time(() => restoreUpdate(ydoc, state))
    ms.push(t)
    bytes = u!.byteLength
  }
  return { ms, bytes }
}
