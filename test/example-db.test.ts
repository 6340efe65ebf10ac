// The example's database adapters, without a database: PGlite's single session handed out in
// turn, and the switch to a pg pool with DATABASE_URL.
import { test } from 'tap'
import type { PGlite } from '@electric-sql/pglite'
import type pg from 'pg'
import { openDatabase, pgliteDatabase, postgresDatabase } from '../example/db'

test('the PGlite session is handed out one request at a time, in order, with a 503 when it stays taken', async (t) => {
  const fake = { query: async () => ({ rows: [] }), close: async () => {} } as unknown as PGlite
  const single = pgliteDatabase(fake, { acquireTimeoutMs: 50 })
  const first = await single.connect()
  const order: string[] = []
  const second = single.connect().then((c) => { order.push('second'); return c })
  const third = single.connect().then((c) => { order.push('third'); return c })
  t.equal(single.inUse, 1)
  first.release()
  first.release() // twice is harmless
  await t.rejects(first.query('SELECT 1'), { message: 'This database connection was already released' })
  ;(await second).release()
  ;(await third).release()
  t.same(order, ['second', 'third'])
  t.equal(single.inUse, 0)

  const held = await single.connect()
  await t.rejects(single.connect(), { statusCode: 503, message: 'The database is busy, try again' })
  held.release()
  ;(await single.connect()).release()
  await single.close()
})

test('DATABASE_URL switches to a pg pool', async (t) => {
  const saved = process.env.DATABASE_URL
  t.teardown(() => {
    if (saved === undefined) delete process.env.DATABASE_URL
    else process.env.DATABASE_URL = saved
  })
  process.env.DATABASE_URL = 'postgres://user:password@127.0.0.1:1/none' // a pool connects lazily: no server needed
  const pool = await openDatabase()
  t.equal(pool.kind, 'postgres')
  await pool.close()

  const client = { query: async () => ({ rows: [{ one: 1 }] }), release: () => {} }
  const fakePool = { connect: async () => client, end: async () => {} } as unknown as pg.Pool
  const postgres = postgresDatabase(fakePool)
  const connection = await postgres.connect()
  t.equal(postgres.inUse, 1)
  t.same((await connection.query('SELECT 1 AS one')).rows, [{ one: 1 }])
  connection.release()
  t.equal(postgres.inUse, 0)
  await postgres.close()
})
