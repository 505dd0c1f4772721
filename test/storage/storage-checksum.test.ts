/**
 * Bit rot in a LevelDB data file: one byte of a stored record changes after it was written
 * (flipped here through the level API, in the middle of the update's content, so the update
 * still decodes — into text nobody wrote). On restart the record's checksum fails: it is
 * quarantined (kept under its q-key for inspection), logged and counted, and the rest of the
 * doc loads. Before checksums it was served silently.
 */
import { describe, expect, it } from 'vitest'
import * as Y from 'yjs'
import { Level } from 'level'
import { cleanupAfterEach, startServer, tempDir } from '../helpers/server.js'
import { stockClient, synced } from '../helpers/providers.js'
import { leveldbStorage } from '../../server/storage/leveldb.js'
import type { Logger } from '../../server/logger.js'
import { appendAt } from '../helpers/append-at.js'

const key = (prefix: 'u' | 'q', seq: number): string => `${prefix}\u0000rot\u0000${seq.toString(16).padStart(14, '0')}`

describe('checksums on stored records (LevelDB, end to end)', () => {
  const cleanups = cleanupAfterEach()

  it('quarantines a record whose bytes changed on disk, logs and counts it, and loads the rest', async () => {
    const dir = tempDir()
    cleanups.push(dir.remove)
    // Three records from three editors (independent: a record after a lost one of the same
    // client would wait for it, as Yjs requires each client's clocks without gaps).
    const updates = ['a', 'b', 'c'].map(k => {
      const editor = new Y.Doc()
      editor.getMap('m').set(k, `value-${k}`)
      return Y.encodeStateAsUpdate(editor)
    })
    const seeded = leveldbStorage(dir.path)
    await seeded.open()
    await appendAt(seeded, 'rot', updates.map((update, i) => ({ seq: i + 1, update })))
    await seeded.close()

    const db = new Level<string, Uint8Array>(dir.path, { keyEncoding: 'utf8', valueEncoding: 'view' })
    const stored = Uint8Array.from((await db.get(key('u', 2)))!)
    const at = Buffer.from(stored).indexOf('value-b')
    expect(at).toBeGreaterThan(0)
    stored[at + 6] = 'x'.charCodeAt(0) // "value-b" → "value-x": still a valid update
    await db.put(key('u', 2), stored)
    await db.close()

    const errors: string[] = []
    const logger: Logger = { debug () {}, info () {}, warn () {}, error: (_o: unknown, msg?: string) => { errors.push(String(msg)) } } as unknown as Logger
    const s = await startServer({ storage: leveldbStorage(dir.path), logger })
    cleanups.push(() => s.close())
    const reader = stockClient(s.wsUrl, 'rot')
    cleanups.push(() => reader.destroy())
    await synced(reader)
    // Records 1 and 3 load; record 2 (which set "b") is not served, neither as written nor rotted.
    expect(reader.doc.getMap('m').toJSON()).toEqual({ a: 'value-a', c: 'value-c' })
    expect(errors.some(m => /checksum/.test(m)), `logged: ${errors.join(' | ')}`).toBe(true)
    expect(s.weft.context.metrics.get('quarantined_records_total')).toBe(1)
    expect((await fetch(`${s.url}/metrics`).then(r => r.text()))).toMatch(/weft_quarantined_records_total 1/)
    await s.close()

    const check = new Level<string, Uint8Array>(dir.path, { keyEncoding: 'utf8', valueEncoding: 'view' })
    expect([...(await check.get(key('q', 2)))!]).toEqual([...stored])
    expect(await check.get(key('u', 2))).toBeUndefined()
    await check.close()
  })
})
