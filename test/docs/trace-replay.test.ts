import { describe, expect, it } from 'vitest'
import { cleanupAfterEach, startServer, tempDir, type TestServer } from '../helpers/server.js'
import { stockClient, synced, type StockClient } from '../helpers/providers.js'
import { waitFor } from '../helpers/wait.js'
import { loadTrace } from '../helpers/traces.js'
import { leveldbStorage } from '../../server/storage/leveldb.js'

describe('replaying a real editing trace through the server', () => {
  const cleanups = cleanupAfterEach()

  it('friendsforever (linearised): three editors taking turns end at the trace\'s endContent, as do a watcher and a restart', async () => {
    const trace = loadTrace('friendsforever_flat')
    const dir = tempDir()
    cleanups.push(dir.remove)
    // The replay types hundreds of keystroke transactions per turn as fast as it can, far above the
    // per-connection message rate a person produces; lift the rate limit for it.
    const fast = { maxMessagesPerSecond: 1_000_000, messageBurst: 1_000_000 }
    let server: TestServer = await startServer({ storage: leveldbStorage(dir.path), compactAfterRecords: 200, ...fast })
    cleanups.push(() => server.close())
    const editors: StockClient[] = [0, 1, 2].map(() => stockClient(server.wsUrl, 'trace'))
    const watcher = stockClient(server.wsUrl, 'trace')
    cleanups.push(() => { for (const c of [...editors, watcher]) c.destroy() })
    await synced(...editors, watcher)

    // Each editor types a run of transactions, then hands over once everyone has its text:
    // the trace's positions refer to the linear history, so turns must not overlap.
    const turn = 500
    for (let start = 0; start < trace.txns.length; start += turn) {
      const editor = editors[(start / turn) % editors.length]!
      for (const txn of trace.txns.slice(start, start + turn)) {
        // One Yjs transaction (so one update on the wire) per recorded keystroke transaction.
        editor.doc.transact(() => {
          for (const [pos, del, ins] of txn.patches) {
            if (del > 0) editor.text.delete(pos, del)
            if (ins.length > 0) editor.text.insert(pos, ins)
          }
        })
      }
      const expected = editor.text.toString()
      await waitFor(() => editors.every(e => e.text.toString() === expected), `turn at txn ${start} to reach every editor`, 20_000)
    }
    expect(editors[0]!.text.toString()).toBe(trace.endContent)
    await waitFor(() => watcher.text.toString() === trace.endContent, 'watcher to converge', 20_000)

    await server.close()
    server = await startServer({ storage: leveldbStorage(dir.path), ...fast })
    const late = stockClient(server.wsUrl, 'trace')
    cleanups.push(() => late.destroy())
    await synced(late)
    expect(late.text.toString()).toBe(trace.endContent)
  })
})
