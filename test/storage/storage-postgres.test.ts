import pg from 'pg'
import { describe, expect, it } from 'vitest'
import { storageSuite } from '../helpers/storage-suite.js'
import { dropWeftTables, haveService, postgresUrl } from '../helpers/services.js'
import { postgresStorage } from '../../server/storage/postgres.js'
import { encodeRecord } from '../../server/storage/record-codec.js'

const available = await haveService('postgres')

let n = 0
if (available) {
  storageSuite('postgres', {
    persistent: true,
    async make () {
      const prefix = `weft_t${process.pid}_${n++}`
      const storage = postgresStorage(postgresUrl, { tablePrefix: prefix, poolSize: 4 })
      const others: Array<ReturnType<typeof postgresStorage>> = []
      return {
        storage,
        second: async () => { const s = postgresStorage(postgresUrl, { tablePrefix: prefix, poolSize: 4 }); others.push(s); return s },
        reopen: async () => postgresStorage(postgresUrl, { tablePrefix: prefix, poolSize: 4 }),
        async rewrite (doc, seq, edit) {
          const client = new pg.Client({ connectionString: postgresUrl })
          await client.connect()
          const { rows } = await client.query<{ update: Buffer }>(`SELECT update FROM ${prefix}_updates WHERE doc = $1 AND seq = $2`, [doc, seq])
          const stored = rows[0]?.update
          await client.query(`INSERT INTO ${prefix}_updates (doc, seq, update) VALUES ($1, $2, $3) ON CONFLICT (doc, seq) DO UPDATE SET update = EXCLUDED.update`,
            [doc, seq, Buffer.from(edit(stored === undefined ? undefined : new Uint8Array(stored)))])
          await client.end()
          return storage
        },
        cleanup: async () => { for (const s of [storage, ...others]) await s.close(); await dropWeftTables(prefix) }
      }
    }
  })
  describe('postgres schema migration', () => {
    it('a database of the single-node schema (no heads, no version) migrates on open: heads seeded, numbering continues after the stored records', async () => {
      const prefix = `weft_mig${process.pid}`
      const client = new pg.Client({ connectionString: postgresUrl })
      await client.connect()
      try {
        await dropWeftTables(prefix)
        // The tables as the previous release created them, with a doc of three records.
        await client.query(`CREATE TABLE ${prefix}_updates (doc text NOT NULL, seq bigint NOT NULL, update bytea NOT NULL, PRIMARY KEY (doc, seq))`)
        await client.query(`CREATE TABLE ${prefix}_quarantine (doc text NOT NULL, seq bigint NOT NULL, update bytea NOT NULL, at timestamptz NOT NULL DEFAULT now(), PRIMARY KEY (doc, seq))`)
        for (const seq of [5, 6, 7]) await client.query(`INSERT INTO ${prefix}_updates (doc, seq, update) VALUES ('old', $1, $2)`, [seq, Buffer.from(encodeRecord(seq, new Uint8Array([seq])))])
        // Two nodes start at once: one migrates, the other waits for it (advisory lock).
        const one = postgresStorage(postgresUrl, { tablePrefix: prefix, poolSize: 2 })
        const two = postgresStorage(postgresUrl, { tablePrefix: prefix, poolSize: 2 })
        await Promise.all([one.open(), two.open()])
        expect((await client.query(`SELECT version FROM ${prefix}_schema`)).rows).toEqual([{ version: 3 }])
        expect(await one.heads!(['old', 'none'])).toEqual(new Map([['old', 7]]))
        expect(await two.append('old', [new Uint8Array([8])], 0)).toBe(8)
        expect((await one.load('old')).map(r => r.seq)).toEqual([5, 6, 7, 8])
        // A record a not-yet-migrated node wrote after the seeding still counts.
        await client.query(`INSERT INTO ${prefix}_updates (doc, seq, update) VALUES ('late', 40, $1)`, [Buffer.from(encodeRecord(40, new Uint8Array([1])))])
        expect(await one.append('late', [new Uint8Array([2])], 0)).toBe(41)
        await one.close()
        await two.close()
      } finally {
        await client.end()
        await dropWeftTables(prefix)
      }
    })
  })
  describe('postgres append: one statement while the head is where the writer saw it', () => {
    it('three writers racing on one doc, each from the head it last saw: every number once, no gap, every record intact, the head row at the last', async () => {
      const prefix = `weft_cas${process.pid}`
      await dropWeftTables(prefix)
      const stores = [0, 1, 2].map(() => postgresStorage(postgresUrl, { tablePrefix: prefix, poolSize: 3 }))
      try {
        for (const s of stores) await s.open()
        expect(await stores[0]!.append('d', [new Uint8Array([0])], 10)).toBe(11)
        // Each writer knows only what its own appends returned (as a node that has not heard the
        // others yet), so most of its appends expect a head that moved: the statement must insert
        // nothing then, and the retry or the transaction number the batch after the others.
        const seen = [11, 11, 11]
        const firsts: Array<{ first: number, k: number, w: number, i: number }> = []
        await Promise.all(stores.map(async (s, w) => {
          for (let i = 0; i < 15; i++) {
            const k = 1 + (i % 3)
            const first = await s.append('d', Array.from({ length: k }, (_, j) => new Uint8Array([w, i, j])), seen[w]!)
            expect(first).toBeGreaterThan(seen[w]!)
            seen[w] = first + k - 1
            firsts.push({ first, k, w, i })
          }
        }))
        const loaded = await stores[1]!.load('d')
        const total = 1 + firsts.reduce((n, f) => n + f.k, 0)
        expect(loaded.map(r => r.seq)).toEqual(Array.from({ length: total }, (_, j) => 11 + j))
        expect(loaded.every(r => r.intact)).toBe(true)
        for (const f of firsts) for (let j = 0; j < f.k; j++) expect([...loaded.find(r => r.seq === f.first + j)!.update]).toEqual([f.w, f.i, j])
        expect(await stores[2]!.heads!(['d'])).toEqual(new Map([['d', 10 + total]]))
        // A writer that knows a head past the store's (a node's chosen base) is numbered after it.
        expect(await stores[0]!.append('d', [new Uint8Array([9])], 500)).toBe(501)
        expect(await stores[1]!.append('d', [new Uint8Array([9])], 501)).toBe(502)
      } finally {
        for (const s of stores) await s.close()
        await dropWeftTables(prefix)
      }
    })
  })
} else {
  describe('storage conformance: postgres', () => { it.skip('PostgreSQL is not reachable (see the warning above)', () => {}) })
}
