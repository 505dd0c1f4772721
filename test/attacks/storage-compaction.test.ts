/**
 * Compaction is triggered by what was appended since the last compaction, not by the doc's
 * size. Before the fix, a compaction counted the new state as "appended", so once a doc was
 * 1 MiB or more (compactAfterBytes) every later write compacted again: the whole state
 * re-encoded and rewritten per keystroke (issue: 100 one-character edits on a 3 MiB doc wrote
 * 547 MiB and cost 3.9 s of CPU).
 */
import { existsSync, readFileSync } from 'node:fs'
import { describe, expect, it } from 'vitest'
import * as Y from 'yjs'
import { cleanupAfterEach, startServer, tempDir } from '../helpers/server.js'
import { stockClient, synced } from '../helpers/providers.js'
import { waitFor } from '../helpers/wait.js'
import { MAX_STALL_MS, watchLoop } from '../helpers/loop-delay.js'
import { leveldbStorage } from '../../server/storage/leveldb.js'
import type { Storage } from '../../server/storage/types.js'
import { appendAt } from '../helpers/append-at.js'

const MiB = 1024 * 1024
const EDITS = 100

/** Bytes this process handed to write(2) so far (LevelDB's log, tables and compactions), where Linux tells. */
const writtenBytes = (): number | null => existsSync('/proc/self/io') ? Number(/wchar: (\d+)/.exec(readFileSync('/proc/self/io', 'utf8'))?.[1]) : null

/** A real LevelDB storage that counts what is written to it. */
function counted (inner: Storage): Storage & { compactions: number, replacedBytes: number, appendedBytes: number } {
  const s = {
    ...inner,
    compactions: 0,
    replacedBytes: 0,
    appendedBytes: 0,
    async append (doc: string, updates: Parameters<Storage['append']>[1], after: number) {
      for (const u of updates) s.appendedBytes += u.byteLength
      return await inner.append(doc, updates, after)
    },
    async replace (doc: string, upToSeq: number, update: Uint8Array) {
      s.compactions++
      s.replacedBytes += update.byteLength
      await inner.replace(doc, upToSeq, update)
    }
  }
  return s
}

describe('compaction of a large doc', () => {
  const cleanups = cleanupAfterEach()

  it(`${EDITS} one-character edits on a 3 MiB doc compact at most once`, async () => {
    const dir = tempDir()
    cleanups.push(dir.remove)
    // A 3 MiB doc as a compaction leaves it (one base record), plus one later edit.
    const seed = new Y.Doc()
    seed.getText('text').insert(0, 'x'.repeat(3 * MiB))
    const base = Y.encodeStateAsUpdate(seed)
    const before = Y.encodeStateVector(seed)
    seed.getText('text').insert(0, 'y')
    const storage = counted(leveldbStorage(dir.path))
    await storage.open()
    await appendAt(storage, 'big', [{ seq: 1, update: base }, { seq: 2, update: Y.encodeStateAsUpdate(seed, before) }])

    const s = await startServer({ storage })
    cleanups.push(() => s.close())
    const editor = stockClient(s.wsUrl, 'big')
    cleanups.push(() => editor.destroy())
    await synced(editor)
    const shared = s.weft.context.registry.get('big')!
    // One compaction now, as the write pipeline does once enough was appended: the state
    // (3 MiB) becomes the log's base. What follows is measured.
    await shared.compact()
    expect(storage.compactions).toBe(1)
    storage.compactions = 0
    storage.replacedBytes = 0
    storage.appendedBytes = 0

    const wrote = writtenBytes()
    const loop = watchLoop()
    const cpu = process.cpuUsage()
    const started = performance.now()
    for (let i = 0; i < EDITS; i++) {
      const seq = shared.seq
      editor.text.insert(i, 'e')
      await waitFor(() => shared.seq > seq, `edit ${i} to be stored`)
    }
    await shared.flushed()
    const used = process.cpuUsage(cpu)
    const worstStall = loop.stop('100 edits on a 3 MiB doc')
    const cpuMs = (used.user + used.system) / 1000
    const disk = wrote === null ? 'n/a' : `${((writtenBytes()! - wrote) / MiB).toFixed(1)} MiB`
    console.log(`${EDITS} edits on a 3 MiB doc: ${storage.compactions} compaction(s), ` +
      `${(storage.replacedBytes / MiB).toFixed(1)} MiB rewritten by compaction, ${storage.appendedBytes} B appended, ${disk} written by the process, ` +
      `${cpuMs.toFixed(0)} ms CPU (test process: server and editor), ${(performance.now() - started).toFixed(0)} ms wall`)
    expect(storage.compactions, 'compactions during the edits').toBeLessThanOrEqual(1)
    expect(storage.replacedBytes).toBeLessThan(3.1 * MiB)
    // Measured ~0.4 s here with the fix (the editor's own Yjs work included), 4+ s without.
    expect(cpuMs).toBeLessThan(2000)
    expect(worstStall).toBeLessThan(MAX_STALL_MS)
    expect(editor.text.length).toBe(3 * MiB + 1 + EDITS)
  })
})
