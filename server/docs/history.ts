/**
 * The retained window of recent updates, by sequence number, for SSE and long-poll resume.
 * Bounded by count and bytes; the oldest records fall out first. `baseSeq` is the newest
 * sequence number a client may hold and still be served from here: every record after it is kept.
 */
import { BLANK_SEQ } from '../../shared/cursor.js'
import type { UpdateRecord } from '../storage/types.js'

/**
 * A record as the doc applied it, with its origin: the session that wrote it (or another peer,
 * or null for records loaded from storage or written by the server). Every pipe skips the
 * records whose origin is its own session: the one echo rule.
 */
export interface HistoryRecord extends UpdateRecord {
  readonly origin: unknown
}

export class History {
  private records: HistoryRecord[] = []
  private head = 0
  private bytes = 0
  /**
   * Every record of the doc is still here (none fell out of the window): applied in order to an
   * empty doc they make the doc. Then the blank cursor (a reader that had nothing) is served
   * from here too.
   */
  private complete = true

  constructor (public baseSeq: number, private readonly maxRecords: number, private readonly maxBytes: number) {}

  push (record: HistoryRecord): void {
    this.records.push(record)
    this.bytes += record.update.byteLength
    while (this.records.length - this.head > this.maxRecords || (this.bytes > this.maxBytes && this.records.length - this.head > 1)) {
      const old = this.records[this.head++]!
      this.bytes -= old.update.byteLength
      this.baseSeq = old.seq
      this.complete = false
    }
    // Compact the backing array now and then instead of shifting on every push.
    if (this.head > 1024 && this.head * 2 > this.records.length) {
      this.records = this.records.slice(this.head)
      this.head = 0
    }
  }

  /**
   * The records after `seq`, or `null` when `seq` is outside the window (too old, or newer
   * than anything stored: a cursor from a past life of the doc).
   */
  since (seq: number, currentSeq: number): HistoryRecord[] | null {
    if (seq === currentSeq) return []
    if (seq === BLANK_SEQ && this.complete) return this.records.slice(this.head)
    if (seq < this.baseSeq || seq > currentSeq) return null
    // Records are pushed in increasing seq order: binary search for the first one after `seq`.
    // Long polls call this on every request, so a scan of a 10,000-record window would cost
    // more than the answer itself.
    let lo = this.head
    let hi = this.records.length
    while (lo < hi) {
      const mid = (lo + hi) >>> 1
      if (this.records[mid]!.seq > seq) hi = mid
      else lo = mid + 1
    }
    return this.records.slice(lo)
  }
}
