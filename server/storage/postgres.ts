/**
 * PostgreSQL storage (`--postgres URL`). One table of update records keyed by (doc, seq), and
 * one of quarantined records. Appends and compactions are single transactions, so a crash leaves
 * either all of a batch or none of it.
 *
 * Sequence numbers are assigned by the node that has the doc loaded, as with LevelDB; one node
 * writes a given doc at a time. (Sharing docs across nodes needs storage-assigned sequences;
 * see README "Design notes".)
 */
import pg from 'pg'
import type { Storage, StoredDocInfo } from './types.js'
import { decodeRecord, encodeRecord, HEADER_BYTES } from './record-codec.js'

export interface PostgresStorageOptions {
  /** Table name prefix, for several Weft instances in one database. @default "weft" */
  tablePrefix?: string
  /** Connection pool size. @default 10 */
  poolSize?: number
}

export function postgresStorage (connectionString: string, options: PostgresStorageOptions = {}): Storage {
  const prefix = options.tablePrefix ?? 'weft'
  if (!/^[a-z_][a-z0-9_]{0,40}$/.test(prefix)) throw new Error(`tablePrefix must be a lowercase SQL identifier, got "${prefix}"`)
  const updates = `${prefix}_updates`
  const quarantined = `${prefix}_quarantine`
  const pool = new pg.Pool({ connectionString, max: options.poolSize ?? 10 })
  let healthy = false
  // A dropped connection must not crash the process: the pool reconnects on the next query.
  pool.on('error', () => { healthy = false })
  let closing: Promise<void> | null = null

  async function tx<T> (fn: (client: pg.PoolClient) => Promise<T>): Promise<T> {
    const client = await pool.connect()
    try {
      await client.query('BEGIN')
      const result = await fn(client)
      await client.query('COMMIT')
      healthy = true
      return result
    } catch (err) {
      await client.query('ROLLBACK').catch(() => {})
      throw err
    } finally {
      client.release()
    }
  }

  async function query<R extends pg.QueryResultRow> (text: string, values: unknown[] = []): Promise<pg.QueryResult<R>> {
    try {
      const result = await pool.query<R>(text, values)
      healthy = true
      return result
    } catch (err) {
      if ((err as { code?: string }).code === undefined) healthy = false // a connection error, not an SQL one
      throw err
    }
  }

  const toBytes = (b: Buffer): Uint8Array => new Uint8Array(b.buffer, b.byteOffset, b.byteLength)

  return {
    kind: 'postgres',
    async open () {
      await query(`CREATE TABLE IF NOT EXISTS ${updates} (doc text NOT NULL, seq bigint NOT NULL, update bytea NOT NULL, PRIMARY KEY (doc, seq))`)
      await query(`CREATE TABLE IF NOT EXISTS ${quarantined} (doc text NOT NULL, seq bigint NOT NULL, update bytea NOT NULL, at timestamptz NOT NULL DEFAULT now(), PRIMARY KEY (doc, seq))`)
    },
    async load (doc) {
      const { rows } = await query<{ seq: string, update: Buffer }>(`SELECT seq, update FROM ${updates} WHERE doc = $1 ORDER BY seq`, [doc])
      return rows.map(r => {
        const seq = Number(r.seq)
        return { seq, ...decodeRecord(seq, toBytes(r.update)) }
      })
    },
    async append (doc, records) {
      if (records.length === 0) return
      // One multi-row INSERT: atomic on its own, one round trip per batch.
      const values: unknown[] = [doc]
      const rows = records.map((r, i) => {
        values.push(r.seq, Buffer.from(encodeRecord(r.seq, r.update)))
        return `($1, $${i * 2 + 2}, $${i * 2 + 3})`
      })
      await query(`INSERT INTO ${updates} (doc, seq, update) VALUES ${rows.join(', ')}`, values)
    },
    async replace (doc, upToSeq, update) {
      await tx(async client => {
        await client.query(`DELETE FROM ${updates} WHERE doc = $1 AND seq <= $2`, [doc, upToSeq])
        await client.query(`INSERT INTO ${updates} (doc, seq, update) VALUES ($1, $2, $3)`, [doc, upToSeq, Buffer.from(encodeRecord(upToSeq, update))])
      })
    },
    async quarantine (doc, seqs) {
      if (seqs.length === 0) return
      await tx(async client => {
        await client.query(`INSERT INTO ${quarantined} (doc, seq, update) SELECT doc, seq, update FROM ${updates} WHERE doc = $1 AND seq = ANY($2::bigint[]) ON CONFLICT DO NOTHING`, [doc, seqs])
        await client.query(`DELETE FROM ${updates} WHERE doc = $1 AND seq = ANY($2::bigint[])`, [doc, seqs])
      })
    },
    async delete (doc) {
      await query(`DELETE FROM ${updates} WHERE doc = $1`, [doc])
    },
    async list () {
      const { rows } = await query<{ doc: string, records: string, bytes: string }>(
        // Bytes of the updates, without the record header (record-codec.ts) of those that have one.
        `SELECT doc, count(*) AS records, sum(octet_length(update) - CASE WHEN octet_length(update) >= $1 AND substring(update from 1 for 8) = '\\xffffffffffffffff'::bytea THEN $1 ELSE 0 END) AS bytes FROM ${updates} GROUP BY doc`, [HEADER_BYTES])
      return rows.map((r): StoredDocInfo => ({ name: r.doc, records: Number(r.records), bytes: Number(r.bytes) }))
    },
    close () {
      closing ??= pool.end()
      return closing
    },
    ready: () => healthy,
    // A failed INSERT or transaction leaves nothing behind (PostgreSQL rolls it back), so there
    // is nothing to repair: recovered once the database takes a write again. The probe row is
    // rolled back (and '' is no doc's name).
    async verify () {
      const client = await pool.connect().catch((err: Error) => { healthy = false; throw err })
      try {
        await client.query('BEGIN')
        await client.query(`INSERT INTO ${updates} (doc, seq, update) VALUES ('', -1, '\\x00'::bytea)`)
        healthy = true
      } finally {
        await client.query('ROLLBACK').catch(() => {})
        client.release()
      }
    }
  }
}
