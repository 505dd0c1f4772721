/**
 * Stores records at the sequence numbers a test names. Stores number records themselves
 * (`Storage.append` returns the first number it assigned, past its head and past `after`), so a
 * run of consecutive numbers is one append after `seq - 1`; this checks the store kept them.
 */
import type { Storage, UpdateRecord } from '../../server/storage/types.js'

export async function appendAt (storage: Storage, doc: string, records: readonly UpdateRecord[]): Promise<void> {
  let i = 0
  while (i < records.length) {
    let j = i + 1
    while (j < records.length && records[j]!.seq === records[j - 1]!.seq + 1) j++
    const first = await storage.append(doc, records.slice(i, j).map(r => r.update), records[i]!.seq - 1)
    if (first !== records[i]!.seq) throw new Error(`store numbered the record ${first}, expected ${records[i]!.seq}`)
    i = j
  }
}
