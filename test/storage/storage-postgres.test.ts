import pg from 'pg'
import { describe, it } from 'vitest'
import { storageSuite } from '../helpers/storage-suite.js'
import { haveService, postgresUrl } from '../helpers/services.js'
import { postgresStorage } from '../../server/storage/postgres.js'

const available = await haveService('postgres')

async function dropTables (prefix: string): Promise<void> {
  const client = new pg.Client({ connectionString: postgresUrl })
  await client.connect()
  await client.query(`DROP TABLE IF EXISTS ${prefix}_updates, ${prefix}_quarantine, ${prefix}_heads, ${prefix}_schema`)
  await client.end()
}

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
        cleanup: async () => { for (const s of [storage, ...others]) await s.close(); await dropTables(prefix) }
      }
    }
  })
} else {
  describe('storage conformance: postgres', () => { it.skip('PostgreSQL is not reachable (see the warning above)', () => {}) })
}
