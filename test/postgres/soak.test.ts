// The example against a real PostgreSQL server (DATABASE_URL; `.ci/run` starts one): 2,000 requests
// over real sockets mixing reads, writes, conflicts, aborted NDJSON exports and handler errors, then
// app.close() under load. Afterwards no connection is idle in a transaction, the pool gave every
// connection back, and the committed rows are exactly the 201 answers.
import http from 'node:http'
import type { AddressInfo } from 'node:net'
import { setTimeout as sleep } from 'node:timers/promises'
import pg from 'pg'
import { t as root, test } from 'tap'
import type { FastifyInstance } from 'fastify'
import { buildApp } from '../../example/app'
import { database as exampleDatabase, getDb, openDatabase, type Connection, type Database } from '../../example/db'
import { migrate } from '../../example/schema'
import { depends } from '../../lib/index'

const url = process.env.DATABASE_URL
const NO_SERVER = url === undefined || url === ''
if (NO_SERVER && process.env.CI !== undefined) {
  // CI must run these: `.ci/run` starts a server and sets DATABASE_URL for them.
  throw new Error('test/postgres: CI is set but DATABASE_URL is not: no PostgreSQL server to test against')
}
const skip = NO_SERVER ? 'no PostgreSQL server: set DATABASE_URL (bash .ci/run starts one)' : false
root.setTimeout(180_000)

const SECRET = 'postgres-soak-secret'
const RUN = `soak-${Date.now().toString(36)}`

/** The app's database as an app-scoped override that records when it ends and what was still in use then. */
function watchedDatabase (record: (event: string) => void) {
  return depends(async function * watchedDatabase () {
    const db = await openDatabase(url)
    await migrate(db)
    const watched: Database = {
      kind: db.kind,
      get inUse () { return db.inUse },
      close: () => db.close(),
      async connect (): Promise<Connection> {
        const connection = await db.connect()
        return { query: (text, params) => connection.query(text, params), release () { connection.release(); record('release') } }
      }
    }
    try {
      yield watched
    } finally {
      record(`end with ${db.inUse} in use`)
      await db.close()
    }
  }, { scope: 'app' })
}

async function started (record: (event: string) => void): Promise<{ app: FastifyInstance, port: number }> {
  const app = await buildApp({ tokens: { secret: SECRET } })
  app.dependencyOverrides.set(exampleDatabase, watchedDatabase(record))
  // A handler error after a query: its transaction must roll back.
  app.get('/soak/fail', { dependencies: { db: getDb } }, async (request) => {
    await request.deps.db.query('SELECT 1')
    throw new Error('handler failed on purpose')
  })
  await app.listen({ port: 0, host: '127.0.0.1' })
  return { app, port: (app.server.address() as AddressInfo).port }
}

interface Answer { status: number, body: string }

function send (agent: http.Agent, port: number, method: string, path: string, headers: Record<string, string>, body?: string, abortAfterFirstChunk = false): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, method, path, headers: body === undefined ? headers : { ...headers, 'content-type': 'application/json' }, agent }, (res) => {
      let text = ''
      res.setEncoding('utf8')
      res.on('data', (chunk: string) => {
        text += chunk
        if (abortAfterFirstChunk) {
          req.destroy()
          resolve({ status: res.statusCode as number, body: 'aborted' })
        }
      })
      res.on('end', () => resolve({ status: res.statusCode as number, body: text }))
      res.on('error', () => resolve({ status: res.statusCode as number, body: 'aborted' }))
    })
    req.on('error', (err) => abortAfterFirstChunk ? resolve({ status: 0, body: 'aborted' }) : reject(err))
    req.end(body)
  })
}

async function login (port: number): Promise<string> {
  const res = await fetch(`http://127.0.0.1:${port}/token`, { method: 'POST', body: new URLSearchParams({ username: 'alice', password: 'secret' }) })
  return (await res.json() as { access_token: string }).access_token
}

/** What the server itself says: connections of this database idle in a transaction, and the rows of this run. */
async function serverState (prefix: string): Promise<{ idleInTransaction: number, titles: string[] }> {
  const client = new pg.Client({ connectionString: url })
  await client.connect()
  try {
    const { rows: [{ n }] } = await client.query<{ n: number }>(
      "SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = current_database() AND state LIKE 'idle in transaction%'")
    const { rows } = await client.query<{ title: string }>('SELECT title FROM items WHERE starts_with(title, $1) ORDER BY title', [prefix])
    return { idleInTransaction: n, titles: rows.map((row) => row.title) }
  } finally {
    await client.end()
  }
}

test('2,000 requests against PostgreSQL: reads, writes, conflicts, aborted exports, handler errors; nothing left in a transaction, committed rows = the 201 answers', { skip }, async (t) => {
  const events: string[] = []
  const { app, port } = await started((event) => events.push(event))
  const token = await login(port)
  const auth = { authorization: `Bearer ${token}` }
  const agent = new http.Agent({ keepAlive: true, maxSockets: 16 })
  t.teardown(() => agent.destroy())
  const prefix = `${RUN} write `
  const tally = new Map<string, number>()
  const created: string[] = []
  const count = (key: string): void => { tally.set(key, (tally.get(key) ?? 0) + 1) }
  const kinds = ['read', 'write', 'conflict', 'export', 'error'] as const
  let next = 0
  async function worker (): Promise<void> {
    while (next < 2000) {
      const i = next++
      const kind = kinds[i % kinds.length]
      if (kind === 'read') {
        const res = await send(agent, port, 'GET', '/items?limit=5', auth)
        count(`read ${res.status}`)
      } else if (kind === 'write') {
        const title = `${prefix}${String(i).padStart(4, '0')}`
        const res = await send(agent, port, 'POST', '/items', auth, JSON.stringify({ title }))
        count(`write ${res.status}`)
        if (res.status === 201) created.push(title)
      } else if (kind === 'conflict') {
        // The seeded 'Teapot' belongs to alice: a 409, rolled back.
        const res = await send(agent, port, 'POST', '/items', auth, JSON.stringify({ title: 'Teapot' }))
        count(`conflict ${res.status}`)
      } else if (kind === 'export') {
        const res = await send(new http.Agent(), port, 'GET', '/items/export', auth, undefined, true)
        count(`export ${res.body === 'aborted' ? 'aborted' : res.status}`)
      } else {
        const res = await send(agent, port, 'GET', '/soak/fail', auth)
        count(`error ${res.status}`)
      }
    }
  }
  await Promise.all(Array.from({ length: 16 }, () => worker()))
  // Request-scoped cleanups (COMMIT, ROLLBACK, release) run after the responses.
  const deadline = Date.now() + 10_000
  while ((await app.resolveDependency(exampleDatabase)).inUse > 0 && Date.now() < deadline) await sleep(10)
  t.equal((await app.resolveDependency(exampleDatabase)).inUse, 0, 'the pool has every connection back')
  t.same(Object.fromEntries(tally), { 'read 200': 400, 'write 201': 400, 'conflict 409': 400, 'export aborted': 400, 'error 500': 400 })
  const state = await serverState(prefix)
  t.equal(state.idleInTransaction, 0, 'no connection idle in a transaction (pg_stat_activity)')
  t.same(state.titles, [...created].sort(), `committed rows = the 201 answers (${created.length})`)
  await app.close()
  t.equal(events.at(-1), 'end with 0 in use', 'the pool ended after the last release')
  t.comment(JSON.stringify(Object.fromEntries(tally)))
})

test('app.close() during a load of writes: every answered write is committed, the pool ends after the last release', { skip }, async (t) => {
  const events: string[] = []
  const { app, port } = await started((event) => events.push(event))
  const token = await login(port)
  const auth = { authorization: `Bearer ${token}` }
  const prefix = `${RUN} close `
  const answered: string[] = []
  const failed: number[] = []
  let closing: Promise<void> | undefined
  let sent = 0
  async function writer (): Promise<void> {
    const agent = new http.Agent({ keepAlive: true })
    try {
      while (closing === undefined || sent < 400) {
        const title = `${prefix}${String(sent++).padStart(4, '0')}`
        let res: Answer
        try {
          res = await send(agent, port, 'POST', '/items', auth, JSON.stringify({ title }))
        } catch {
          break // the server stopped accepting connections
        }
        if (res.status === 201) answered.push(title)
        else failed.push(res.status)
        if (answered.length === 100 && closing === undefined) closing = app.close()
        if (closing !== undefined && res.status !== 201) break
      }
    } finally {
      agent.destroy()
    }
  }
  await Promise.all(Array.from({ length: 8 }, () => writer()))
  await closing
  t.ok(answered.length >= 100, `${answered.length} writes answered 201, ${failed.length} refused while closing (${[...new Set(failed)].join(', ') || 'none'})`)
  t.ok(failed.every((status) => status === 503), 'the others were refused with 503')
  t.equal(events.at(-1), 'end with 0 in use', 'the pool ended after the last release')
  t.equal(events.filter((event) => event === 'release').length, events.length - 1, 'nothing released after the end')
  const state = await serverState(prefix)
  t.same(state.titles, [...answered].sort(), 'every answered write is committed, nothing else')
  t.equal(state.idleInTransaction, 0)
})
