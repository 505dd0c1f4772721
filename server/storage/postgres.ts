/**
 * PostgreSQL storage (`--postgres URL`). One table of update records keyed by (doc, seq), one
 * of quarantined records, and one head row per doc. Appends and compactions are single
 * transactions, so a crash leaves either all of a batch or none of it.
 *
 * The head row is the doc's sequencer: an append takes its numbers with one
 * `INSERT … ON CONFLICT DO UPDATE SET head = head + k RETURNING head`, whose row lock holds
 * every other writer of the doc (another node's) until the records are committed. So writers of
 * one doc on several nodes are numbered one after the other, never the same. The usual append
 * (the head is where this node last saw it) is one statement, one round trip: a compare-and-set
 * of the head with the records' insert in the same implicit transaction (`casAppend`).
 *
 * The schema is versioned (`<prefix>_schema`) and migrated on open under an advisory lock, so
 * nodes starting together migrate once. Version 2 added the head rows, seeded from the records;
 * version 3 the meta table (types.ts MetaStore), keyed in "C" collation so a namespace lists in
 * the same order on every backend.
 */
import pg from 'pg'
import { checkMetaName, type MetaStore, type Storage, type StoredDocInfo } from './types.js'
import { decodeRecord, encodeRecord, HEADER_BYTES } from './record-codec.js'

/** 1: updates and quarantine tables; 2: per-doc head rows (the sequencer); 3: meta values. */
const SCHEMA_VERSION = 3

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
  const heads = `${prefix}_heads`
  const schema = `${prefix}_schema`
  const metaTable = `${prefix}_meta`
  const pool = new pg.Pool({ connectionString, max: options.poolSize ?? 10 })
  let healthy = false
  // A dropped connection must not crash the process: the pool reconnects on the next query.
  pool.on('error', () => { healthy = false })
  let closing: Promise<void> | null = null

  /**
   * A pooled client for a transaction. A connection that dies while checked out emits 'error'
   * on the client (not the pool): caught here, or it would crash the process; the query in
   * flight rejects, and the broken client is discarded on release.
   */
  async function checkout (): Promise<{ client: pg.PoolClient, release: (err?: Error) => void }> {
    const client = await pool.connect().catch((err: Error) => { healthy = false; throw err })
    let broken: Error | undefined
    const onError = (err: Error): void => { broken = err; healthy = false }
    client.on('error', onError)
    return { client, release: err => { client.off('error', onError); client.release(err ?? broken) } }
  }

  async function tx<T> (fn: (client: pg.PoolClient) => Promise<T>): Promise<T> {
    const { client, release } = await checkout()
    let failed: Error | undefined
    try {
      await client.query('BEGIN')
      const result = await fn(client)
      await client.query('COMMIT')
      healthy = true
      return result
    } catch (err) {
      if ((err as { code?: string }).code === undefined) { healthy = false; failed = err as Error } // a connection error, not an SQL one
      await client.query('ROLLBACK').catch(() => {})
      throw err
    } finally {
      release(failed)
    }
  }

  async function query<R extends pg.QueryResultRow> (text: string | pg.QueryConfig, values: unknown[] = []): Promise<pg.QueryResult<R>> {
    try {
      const result = typeof text === 'string' ? await pool.query<R>(text, values) : await pool.query<R>(text)
      healthy = true
      return result
    } catch (err) {
      if ((err as { code?: string }).code === undefined) healthy = false // a connection error, not an SQL one
      throw err
    }
  }

  const toBytes = (b: Buffer): Uint8Array => new Uint8Array(b.buffer, b.byteOffset, b.byteLength)

  // The doc's numbers, taken (and its head row locked until COMMIT) by one statement. A doc with
  // records but no head row yet (stored before heads existed, by a node not yet migrated) starts
  // from them.
  const takeHead = `INSERT INTO ${heads} (doc, head) VALUES ($1, GREATEST($2::bigint, (SELECT max(seq) FROM ${updates} WHERE doc = $1)) + $3)
    ON CONFLICT (doc) DO UPDATE SET head = GREATEST(${heads}.head, $2::bigint) + $3 RETURNING head`
  const appendRecords = `INSERT INTO ${updates} (doc, seq, update) SELECT $1, s, u FROM unnest($2::bigint[], $3::bytea[]) AS r(s, u)`
  // The usual append in one statement, so one round trip and one (implicit) transaction instead
  // of four (BEGIN, head, records, COMMIT): the head moves only if it still is `$4` (what the
  // caller expects it to be), and the records, numbered after it, go in only if it moved. The
  // row's lock is held to the statement's commit, as in the transaction. `seen` is the head as the
  // statement found it (its snapshot): when it moved elsewhere, the next try expects that one.
  const casAppend = `WITH h AS (UPDATE ${heads} SET head = GREATEST(head, $2::bigint) + $3::bigint WHERE doc = $1 AND head = $4::bigint RETURNING head),
    r AS (INSERT INTO ${updates} (doc, seq, update) SELECT $1, s, u FROM h, unnest($5::bigint[], $6::bytea[]) AS r(s, u))
    SELECT (SELECT head FROM h) AS taken, (SELECT head FROM ${heads} WHERE doc = $1) AS seen`
  /** Tries of the one-statement append before the transaction (which cannot miss) takes over. */
  const CAS_TRIES = 3

  const meta: MetaStore = {
    async put (ns, key, value) {
      checkMetaName('namespace', ns); checkMetaName('key', key)
      await query(`INSERT INTO ${metaTable} (ns, key, value) VALUES ($1, $2, $3) ON CONFLICT (ns, key) DO UPDATE SET value = EXCLUDED.value`, [ns, key, Buffer.from(value)])
    },
    async get (ns, key) {
      const { rows: [row] } = await query<{ value: Buffer }>(`SELECT value FROM ${metaTable} WHERE ns = $1 AND key = $2`, [ns, key])
      return row === undefined ? undefined : toBytes(row.value)
    },
    async list (ns) {
      const { rows } = await query<{ key: string, value: Buffer }>(`SELECT key, value FROM ${metaTable} WHERE ns = $1 ORDER BY key`, [ns])
      return rows.map(r => ({ key: r.key, value: toBytes(r.value) }))
    },
    async remove (ns, key) {
      if (key === undefined) await query(`DELETE FROM ${metaTable} WHERE ns = $1`, [ns])
      else await query(`DELETE FROM ${metaTable} WHERE ns = $1 AND key = $2`, [ns, key])
    }
  }

  return {
    kind: 'postgres',
    meta,
    async open () {
      await tx(async client => {
        await client.query('SELECT pg_advisory_xact_lock(hashtext($1))', [schema])
        await client.query(`CREATE TABLE IF NOT EXISTS ${schema} (version int NOT NULL)`)
        const { rows } = await client.query<{ version: number }>(`SELECT version FROM ${schema}`)
        const version = rows[0]?.version ?? 0
        if (version < 1) {
          await client.query(`CREATE TABLE IF NOT EXISTS ${updates} (doc text NOT NULL, seq bigint NOT NULL, update bytea NOT NULL, PRIMARY KEY (doc, seq))`)
          await client.query(`CREATE TABLE IF NOT EXISTS ${quarantined} (doc text NOT NULL, seq bigint NOT NULL, update bytea NOT NULL, at timestamptz NOT NULL DEFAULT now(), PRIMARY KEY (doc, seq))`)
        }
        if (version < 2) {
          await client.query(`CREATE TABLE IF NOT EXISTS ${heads} (doc text PRIMARY KEY, head bigint NOT NULL)`)
          await client.query(`INSERT INTO ${heads} (doc, head) SELECT doc, max(seq) FROM ${updates} GROUP BY doc ON CONFLICT (doc) DO NOTHING`)
        }
        if (version < 3) {
          await client.query(`CREATE TABLE IF NOT EXISTS ${metaTable} (ns text COLLATE "C" NOT NULL, key text COLLATE "C" NOT NULL, value bytea NOT NULL, PRIMARY KEY (ns, key))`)
        }
        if (version === 0) await client.query(`INSERT INTO ${schema} (version) VALUES ($1)`, [SCHEMA_VERSION])
        else if (version < SCHEMA_VERSION) await client.query(`UPDATE ${schema} SET version = $1`, [SCHEMA_VERSION])
      })
    },
    async load (doc, after) {
      const { rows } = after === undefined
        ? await query<{ seq: string, update: Buffer }>(`SELECT seq, update FROM ${updates} WHERE doc = $1 ORDER BY seq`, [doc])
        : await query<{ seq: string, update: Buffer }>(`SELECT seq, update FROM ${updates} WHERE doc = $1 AND seq > $2 ORDER BY seq`, [doc, after])
      return rows.map(r => {
        const seq = Number(r.seq)
        return { seq, ...decodeRecord(seq, toBytes(r.update)) }
      })
    },
    async append (doc, batch, after) {
      const k = batch.length
      // The head row exists once a doc has a record (and on every later append): then one
      // statement does. Another node's append since our last look, or a doc without a head row,
      // makes it insert nothing; after a few such tries the transaction below numbers the batch.
      let expect = after
      for (let attempt = 0; k > 0 && attempt < CAS_TRIES; attempt++) {
        const first = Math.max(expect, after) + 1
        const seqs = batch.map((_, i) => first + i)
        const records = batch.map((update, i) => Buffer.from(encodeRecord(first + i, update)))
        const { rows: [row] } = await query<{ taken: string | null, seen: string | null }>({ name: `${prefix}-cas-append`, text: casAppend, values: [doc, after, k, expect, seqs, records] })
        if (row?.taken != null) return first
        if (row?.seen == null) break
        expect = Number(row.seen)
      }
      return await tx(async client => {
        // The head row: taken (and locked until COMMIT) by this statement. A doc with records but
        // no head row yet (stored before heads existed, by a node not yet migrated) starts from them.
        const { rows: [row] } = await client.query<{ head: string }>({ name: `${prefix}-take-head`, text: takeHead, values: [doc, after, k] })
        const first = Number(row!.head) - k + 1
        if (k === 0) return first
        // One INSERT of any batch size, prepared once per connection like the head's: the
        // statements of every commit are parsed and planned once, not per group.
        const seqs = batch.map((_, i) => first + i)
        const records = batch.map((update, i) => Buffer.from(encodeRecord(first + i, update)))
        await client.query({ name: `${prefix}-append`, text: appendRecords, values: [doc, seqs, records] })
        return first
      })
    },
    async replace (doc, upToSeq, update) {
      await tx(async client => {
        // One node compacts a doc at a time; another that tries meanwhile skips this round (its
        // log is compacted by the one that holds the lock, and it tries again after more writes).
        const { rows: [claim] } = await client.query<{ ok: boolean }>('SELECT pg_try_advisory_xact_lock(hashtext($1)) AS ok', [`${updates}:${doc}`])
        if (claim?.ok !== true) return
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
      await tx(async client => {
        await client.query(`DELETE FROM ${updates} WHERE doc = $1`, [doc])
        await client.query(`DELETE FROM ${quarantined} WHERE doc = $1`, [doc])
        await client.query(`DELETE FROM ${heads} WHERE doc = $1`, [doc])
      })
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
    async heads (docs) {
      const { rows } = await query<{ doc: string, head: string }>(`SELECT doc, head FROM ${heads} WHERE doc = ANY($1::text[])`, [docs])
      return new Map(rows.map(r => [r.doc, Number(r.head)]))
    },
    ready: () => healthy,
    // A failed INSERT or transaction leaves nothing behind (PostgreSQL rolls it back), so there
    // is nothing to repair: recovered once the database takes a write again. The probe row is
    // rolled back (and '' is no doc's name).
    async verify () {
      const { client, release } = await checkout()
      try {
        await client.query('BEGIN')
        await client.query(`INSERT INTO ${updates} (doc, seq, update) VALUES ('', -1, '\\x00'::bytea)`)
        healthy = true
      } finally {
        await client.query('ROLLBACK').catch(() => {})
        release()
      }
    }
  }
}
