// The example service's HTTP flow, against PGlite (or DATABASE_URL): token → list (token or API
// key) → create → forbidden scope → rollback on failure → export stream → client abort during the export.
import { after, before, t as root, test, type Test } from 'tap'
import http from 'node:http'
import type { AddressInfo } from 'node:net'
import type { FastifyInstance } from 'fastify'
import { EventLog } from './helpers'
import { buildApp } from '../example/app'
import { currentUser } from '../example/auth'
import { openDatabase, type Connection, type Database } from '../example/db'
import { hashApiKey } from '../example/passwords'
import { SEEDED_MACHINE_USERS } from '../example/schema'
import { tokenIssuer } from '../example/tokens'

const SECRET = 'example-test-secret'
root.setTimeout(60_000) // PGlite starts in seconds, more on a busy machine
const RUN = Date.now().toString(36) // titles unique per run, should DATABASE_URL point at a kept database

/** Rejects when `promise` has not settled within `ms`: a lost cleanup fails instead of hanging. */
function within<T> (promise: Promise<T>, label: string, ms = 5000): Promise<T> {
  let timer: NodeJS.Timeout | undefined
  const timeout = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out waiting for ${label}`)), ms)
  })
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer))
}

/**
 * The database, watched: 'connect', each statement's first word, 'release'. `holdFetch(n)` holds
 * the n-th FETCH from now on until `open()`, so that a test can act in the middle of a stream;
 * `failNext(verb)` makes the next such statement fail.
 */
function watch (database: Database) {
  const events = new EventLog()
  let fetches = 0
  let hold: { at: number, reached: () => void, opened: Promise<void>, open: () => void } | null = null
  let failing: string | null = null
  const watched: Database = {
    kind: database.kind,
    get inUse () { return database.inUse },
    close: () => database.close(),
    async connect (): Promise<Connection> {
      const connection = await database.connect()
      events.record('connect')
      return {
        async query<Row> (text: string, params?: unknown[]) {
          const verb = text.trim().split(/\s/)[0].toUpperCase()
          events.record(verb)
          if (verb === failing) {
            failing = null
            throw Object.assign(new Error('could not serialize access due to concurrent update'), { code: '40001' })
          }
          if (verb === 'FETCH' && hold !== null && ++fetches === hold.at) {
            hold.reached()
            await hold.opened
          }
          return connection.query<Row>(text, params)
        },
        release () {
          events.record('release')
          connection.release()
        }
      }
    }
  }
  function holdFetch (at: number): { reached: Promise<void>, open: () => void } {
    fetches = 0
    let reached!: () => void
    let open!: () => void
    const reachedPromise = new Promise<void>((resolve) => { reached = resolve })
    const opened = new Promise<void>((resolve) => { open = resolve })
    hold = { at, reached, opened, open }
    return { reached: reachedPromise, open: releaseHolds }
  }
  /** Lets a held FETCH go (also after a failed test, so that the app can close). */
  function releaseHolds (): void {
    hold?.open()
    hold = null
  }
  /** Resolves once every connection was given back (request-scoped cleanup runs after the response). */
  async function idle (): Promise<void> {
    const deadline = Date.now() + 5000
    while (database.inUse > 0) {
      if (Date.now() > deadline) throw new Error(`${database.inUse} connection(s) still in use`)
      await new Promise((resolve) => setTimeout(resolve, 5))
    }
  }
  /** The next statement starting with `verb` fails, as a serialization failure would. */
  function failNext (verb: string): void {
    failing = verb
  }
  return { database: watched, events, holdFetch, releaseHolds, idle, failNext, reset: () => events.splice(0) }
}

let database: Database
let db: ReturnType<typeof watch>
let app: FastifyInstance

before(async () => {
  database = await openDatabase()
  db = watch(database)
  app = await buildApp({ database: db.database, tokens: { secret: SECRET } })
})
after(async () => {
  await within((async () => {
    await app?.close()
    await database?.close()
  })(), 'closing the app and the database', 5000)
})

async function login (username: string, scope?: string): Promise<string> {
  const payload: Record<string, string> = { username, password: 'secret' }
  if (scope !== undefined) payload.scope = scope
  const res = await app.inject({ method: 'POST', url: '/token', payload: new URLSearchParams(payload).toString(), headers: { 'content-type': 'application/x-www-form-urlencoded' } })
  return res.json().access_token
}

const bearer = (token: string) => ({ authorization: `Bearer ${token}` })
const apiKey = (key: string) => ({ 'x-api-key': key })
const DEMO_KEY = SEEDED_MACHINE_USERS[0].apiKey

/** The next request's database events, once its connection was released (request scope ends after the response). */
async function eventsOf (send: () => Promise<unknown>): Promise<string[]> {
  await db.idle()
  db.reset()
  await send()
  await within(db.events.until('release'), 'release')
  return db.events.list()
}

test('POST /token trades a password for a JWT with the scopes asked for that the user has', async (t) => {
  const form = { 'content-type': 'application/x-www-form-urlencoded' }
  const alice = await app.inject({ method: 'POST', url: '/token', headers: form, payload: 'username=alice&password=secret' })
  t.equal(alice.statusCode, 200)
  const body = alice.json()
  t.match(body, { token_type: 'bearer', expires_in: 1800, scope: 'me items:read items:write' })
  t.match(body.access_token, /^[\w-]+\.[\w-]+\.[\w-]+$/)
  t.same(await tokenIssuer({ secret: SECRET }).verify(body.access_token), { sub: 'alice', scopes: ['me', 'items:read', 'items:write'] })

  const bob = await app.inject({ method: 'POST', url: '/token', headers: form, payload: 'username=bob&password=secret&scope=me+items:read+items:write' })
  t.equal(bob.json().scope, 'me items:read', 'never more than the user has')

  for (const payload of ['username=alice&password=wrong', 'username=nobody&password=secret']) {
    const res = await app.inject({ method: 'POST', url: '/token', headers: form, payload })
    t.equal(res.statusCode, 400, payload)
    t.same(res.json(), { statusCode: 400, error: 'Bad Request', message: 'Incorrect username or password' })
  }
  const missing = await app.inject({ method: 'POST', url: '/token', headers: form, payload: 'username=alice' })
  t.equal(missing.statusCode, 400)
  t.equal(missing.json().code, 'FST_ERR_VALIDATION')
})

test('GET /users/me answers with the token\'s user; a missing, forged, expired or orphan token is a 401 with the challenge', async (t) => {
  const me = await app.inject({ url: '/users/me', headers: bearer(await login('alice')) })
  t.equal(me.statusCode, 200)
  t.same(me.json(), { username: 'alice', fullName: 'Alice Wonderson', email: 'alice@example.com', scopes: ['me', 'items:read', 'items:write'] })

  const none = await app.inject('/users/me')
  t.equal(none.statusCode, 401)
  t.equal(none.headers['www-authenticate'], 'Bearer')
  t.equal(none.json().message, 'Not authenticated')

  const forged = (await tokenIssuer({ secret: 'another secret' }).issue('alice', ['me'])).token
  const expired = (await tokenIssuer({ secret: SECRET, expiresIn: -60 }).issue('alice', ['me'])).token
  const orphan = (await tokenIssuer({ secret: SECRET }).issue('mallory', ['me'])).token
  for (const [label, token] of [['garbage', 'not-a-jwt'], ['forged', forged], ['expired', expired], ['orphan', orphan]]) {
    const res = await app.inject({ url: '/users/me', headers: bearer(token) })
    t.equal(res.statusCode, 401, label)
    t.equal(res.headers['www-authenticate'], 'Bearer scope="me"', label)
    t.equal(res.json().message, 'Could not validate credentials', label)
  }
})

test('GET /items pages through the items with Query parameters Fastify validates', async (t) => {
  const token = await login('bob') // read only is enough
  const all = await app.inject({ url: '/items', headers: bearer(token) })
  t.equal(all.statusCode, 200)
  const { items, total, skip, limit } = all.json()
  t.same({ skip, limit }, { skip: 0, limit: 20 }, 'defaults apply')
  t.ok(total >= 3)
  t.match(items[0], { id: Number, title: String, owner: String, createdAt: String })

  const page = await app.inject({ url: '/items?skip=1&limit=2', headers: bearer(token) })
  t.same(page.json().items.map((i: { id: number }) => i.id), items.slice(1, 3).map((i: { id: number }) => i.id))
  t.same((await app.inject({ url: '/items?q=TEAPOT', headers: bearer(token) })).json().items.map((i: { title: string }) => i.title), ['Teapot'])

  const invalid = await app.inject({ url: '/items?limit=500', headers: bearer(token) })
  t.equal(invalid.statusCode, 400)
  t.same(invalid.json(), { statusCode: 400, code: 'FST_ERR_VALIDATION', error: 'Bad Request', message: 'querystring/limit must be <= 100' })
  t.equal((await app.inject({ url: '/items/abc', headers: bearer(token) })).statusCode, 400)
  t.equal((await app.inject({ url: '/items/999999', headers: bearer(token) })).statusCode, 404)
})

test('GET /items takes the bearer token or a machine user\'s API key; neither is a 401 with both challenges', async (t) => {
  const withToken = await app.inject({ url: '/items?limit=100', headers: bearer(await login('bob')) })
  t.equal(withToken.statusCode, 200)
  let withKey: Awaited<ReturnType<typeof app.inject>> | undefined
  const events = await eventsOf(async () => {
    withKey = await app.inject({ url: '/items?limit=100', headers: apiKey(DEMO_KEY) })
  })
  t.equal(withKey?.statusCode, 200)
  t.same(withKey?.json(), withToken.json(), 'the same page, whoever asks')
  t.same(events, ['connect', 'BEGIN', 'SELECT', 'SELECT', 'SELECT', 'COMMIT', 'release'], 'the key lookup and the handler share getDb')

  const wrong = await app.inject({ url: '/items', headers: apiKey('not-a-key') })
  t.equal(wrong.statusCode, 401)
  t.equal(wrong.headers['www-authenticate'], 'APIKey')
  t.equal(wrong.json().message, 'Could not validate credentials')

  const neither = await app.inject('/items')
  t.equal(neither.statusCode, 401)
  t.same(neither.headers['www-authenticate'], ['Bearer', 'APIKey'], 'one challenge per alternative')
  t.equal(neither.json().message, 'Not authenticated')

  const badTokenGoodKey = await app.inject({ url: '/items', headers: { ...bearer('not-a-jwt'), ...apiKey(DEMO_KEY) } })
  t.equal(badTokenGoodKey.statusCode, 401, 'the token comes first, and once sent it decides')
  t.equal(badTokenGoodKey.headers['www-authenticate'], 'Bearer scope="items:read"')

  // A key without items:read: the scopes of Security() reach the API-key branch too.
  const connection = await database.connect()
  await connection.query('INSERT INTO api_keys (owner_id, key_hash, scopes) SELECT id, $2, $3 FROM users WHERE username = $1',
    ['bob', hashApiKey(`me-only-${RUN}`), ['me']])
  connection.release()
  const meOnly = await app.inject({ url: '/items', headers: apiKey(`me-only-${RUN}`) })
  t.equal(meOnly.statusCode, 401)
  t.equal(meOnly.headers['www-authenticate'], 'APIKey')
  t.equal(meOnly.json().message, 'Not enough permissions')

  const other = await app.inject({ url: '/items/1', headers: apiKey(DEMO_KEY) })
  t.equal(other.statusCode, 401, 'the other routes still need the token')
  t.equal(other.headers['www-authenticate'], 'Bearer')
  const form = { 'content-type': 'application/x-www-form-urlencoded' }
  const bot = await app.inject({ method: 'POST', url: '/token', headers: form, payload: 'username=reporting-bot&password=secret' })
  t.equal(bot.statusCode, 400, 'the machine user has no password to log in with')
})

test('POST /items creates the item and COMMITs before the 201 is written; a failed COMMIT is a 500 and stores nothing', async (t) => {
  const token = await login('alice')
  let created: { id: number } | undefined
  const events = await eventsOf(async () => {
    const res = await app.inject({ method: 'POST', url: '/items', headers: bearer(token), payload: { title: `Hat ${RUN}`, description: 'For tea parties' } })
    t.equal(res.statusCode, 201)
    created = res.json()
    t.match(created, { title: `Hat ${RUN}`, description: 'For tea parties', owner: 'alice' })
  })
  t.same(events, ['connect', 'BEGIN', 'SELECT', 'INSERT', 'COMMIT', 'release'], 'one connection: currentUser and the handler share getDb')
  const read = await app.inject({ url: `/items/${created?.id}`, headers: bearer(token) })
  t.same(read.json(), created)

  const again = await app.inject({ method: 'POST', url: '/items', headers: bearer(token), payload: { title: `Hat ${RUN}` } })
  t.equal(again.statusCode, 409)
  t.equal((await app.inject({ method: 'POST', url: '/items', headers: bearer(token), payload: { title: '' } })).statusCode, 400)

  db.failNext('COMMIT')
  let failed: Awaited<ReturnType<typeof app.inject>> | undefined
  const failedEvents = await eventsOf(async () => {
    failed = await app.inject({ method: 'POST', url: '/items', headers: bearer(token), payload: { title: `Umbrella ${RUN}` } })
  })
  t.equal(failed?.statusCode, 500, 'never a 201 for data that was not stored: the COMMIT ran before the response (function scope)')
  t.same(failedEvents, ['connect', 'BEGIN', 'SELECT', 'INSERT', 'COMMIT', 'ROLLBACK', 'release'])
  t.equal((await app.inject({ url: `/items?q=${encodeURIComponent(`Umbrella ${RUN}`)}`, headers: bearer(token) })).json().total, 0)
})

test('a token without the route\'s scope is a 401 naming the scopes, and the transaction is rolled back', async (t) => {
  const bob = await login('bob')
  let res: Awaited<ReturnType<typeof app.inject>> | undefined
  const events = await eventsOf(async () => {
    res = await app.inject({ method: 'POST', url: '/items', headers: bearer(bob), payload: { title: `Bob's ${RUN}` } })
  })
  t.equal(res?.statusCode, 401)
  t.equal(res?.headers['www-authenticate'], 'Bearer scope="items:write"')
  t.equal(res?.json().message, 'Not enough permissions')
  t.same(events, ['connect', 'BEGIN', 'SELECT', 'ROLLBACK', 'release'])

  const meOnly = await login('alice', 'me')
  const mine = await app.inject({ url: '/users/me/items', headers: bearer(meOnly) })
  t.equal(mine.statusCode, 401)
  t.equal(mine.headers['www-authenticate'], 'Bearer scope="me items:read"', 'the scopes of Security() reach currentUser')
  t.equal((await app.inject({ url: '/users/me', headers: bearer(meOnly) })).statusCode, 200)
})

test('POST /items/bulk: an item that fails rolls back the ones inserted before it', async (t) => {
  const token = await login('alice')
  const titles = [`Cup ${RUN}`, `Saucer ${RUN}`, `Cup ${RUN}`]
  let res: Awaited<ReturnType<typeof app.inject>> | undefined
  const events = await eventsOf(async () => {
    res = await app.inject({ method: 'POST', url: '/items/bulk', headers: bearer(token), payload: { items: titles.map((title) => ({ title })) } })
  })
  t.equal(res?.statusCode, 409)
  t.equal(res?.json().message, `You already have an item titled "Cup ${RUN}"`)
  t.same(events, ['connect', 'BEGIN', 'SELECT', 'INSERT', 'INSERT', 'INSERT', 'ROLLBACK', 'release'], 'two rows were written, then rolled back')
  const left = await app.inject({ url: `/items?q=${encodeURIComponent(RUN)}&limit=100`, headers: bearer(token) })
  t.same(left.json().items.map((i: { title: string }) => i.title), [`Hat ${RUN}`], 'nothing of the failed request is left')

  const ok = await app.inject({ method: 'POST', url: '/items/bulk', headers: bearer(token), payload: { items: titles.slice(0, 2).map((title) => ({ title })) } })
  t.equal(ok.statusCode, 201)
  t.same(ok.json().items.map((i: { title: string }) => i.title), titles.slice(0, 2))
})

test('DELETE /items/:id removes one of your own items only', async (t) => {
  const alice = await login('alice')
  const connection = await database.connect()
  const { rows: [bobs] } = await connection.query<{ id: number }>(
    'INSERT INTO items (owner_id, title) SELECT id, $1 FROM users WHERE username = \'bob\' RETURNING id', [`Bob's hammer ${RUN}`])
  connection.release()
  t.equal((await app.inject({ method: 'DELETE', url: `/items/${bobs.id}`, headers: bearer(alice) })).statusCode, 403)
  t.equal((await app.inject({ method: 'DELETE', url: `/items/${bobs.id}`, headers: bearer(await login('bob')) })).statusCode, 401)

  const mine = (await app.inject({ method: 'POST', url: '/items', headers: bearer(alice), payload: { title: `Spoon ${RUN}` } })).json()
  const removed = await app.inject({ method: 'DELETE', url: `/items/${mine.id}`, headers: bearer(alice) })
  t.equal(removed.statusCode, 204)
  t.equal(removed.body, '')
  t.equal((await app.inject({ method: 'DELETE', url: `/items/${mine.id}`, headers: bearer(alice) })).statusCode, 404)
})

test('GET /users/me/items lists your items, paginated', async (t) => {
  const res = await app.inject({ url: '/users/me/items?limit=100', headers: bearer(await login('alice', 'me items:read')) })
  t.equal(res.statusCode, 200)
  const { items, total } = res.json()
  t.equal(items.length, total)
  t.ok(items.every((i: { owner: string }) => i.owner === 'alice'))
  t.ok(items.some((i: { title: string }) => i.title === 'Teapot'))
})

/** The app on a real socket (its own instance, closed with the test), for streaming and aborts. */
async function listening (t: Test): Promise<number> {
  const server = await buildApp({ database: db.database, tokens: { secret: SECRET } })
  t.teardown(async () => {
    db.releaseHolds()
    server.server.closeAllConnections()
    await within(server.close(), 'closing the server')
  })
  await server.listen({ port: 0, host: '127.0.0.1' })
  return (server.server.address() as AddressInfo).port
}

/** GET /items/export: resolves once the first chunk arrived. */
async function startExport (port: number, token: string): Promise<{ req: http.ClientRequest, res: http.IncomingMessage, first: string }> {
  const req = http.request({ host: '127.0.0.1', port, path: '/items/export', headers: bearer(token), agent: false })
  req.on('error', () => {}) // "socket hang up" once the test destroys it
  req.end()
  const res = await within(new Promise<http.IncomingMessage>((resolve) => req.once('response', resolve)), 'response')
  res.setEncoding('utf8')
  const first = await within(new Promise<string>((resolve) => res.once('data', resolve)), 'first chunk')
  return { req, res, first }
}

test('GET /items/export streams NDJSON from a cursor while the connection stays open; COMMIT and release after the last line', async (t) => {
  const token = await login('bob')
  const total = (await app.inject({ url: '/items?limit=1', headers: bearer(token) })).json().total
  const port = await listening(t)
  await db.idle()
  db.reset()
  const second = db.holdFetch(2)
  const { res, first } = await startExport(port, token)
  await within(second.reached, 'the second FETCH')
  t.equal(res.headers['content-type'], 'application/x-ndjson')
  t.same(db.events.list(), ['connect', 'BEGIN', 'SELECT', 'DECLARE', 'FETCH', 'FETCH'], 'mid-stream: no COMMIT yet')
  t.equal(database.inUse, 1)

  let rest = ''
  res.on('data', (chunk: string) => { rest += chunk })
  const ended = new Promise((resolve) => res.once('end', resolve))
  second.open()
  await within(ended, 'the end of the stream')
  await within(db.events.until('release'), 'release')
  t.same(db.events.list(), ['connect', 'BEGIN', 'SELECT', 'DECLARE', 'FETCH', 'FETCH', 'COMMIT', 'release'])
  t.equal(database.inUse, 0)
  const lines = (first + rest).trimEnd().split('\n').map((line) => JSON.parse(line))
  t.equal(lines.length, total)
  t.match(lines[0], { id: Number, title: String, owner: String, createdAt: String })
})

test('a client that goes away during the export: the transaction rolls back and the connection is released', async (t) => {
  const token = await login('bob')
  const port = await listening(t)
  await db.idle()
  db.reset()
  const second = db.holdFetch(2)
  const { req } = await startExport(port, token)
  await within(second.reached, 'the second FETCH')
  t.equal(database.inUse, 1)
  req.destroy()
  await within(db.events.until('release'), 'release after the abort')
  t.same(db.events.list(), ['connect', 'BEGIN', 'SELECT', 'DECLARE', 'FETCH', 'FETCH', 'ROLLBACK', 'release'])
  t.equal(database.inUse, 0)
  second.open() // the stream's held FETCH now meets a released connection: refused, nothing runs
  const next = await app.inject({ url: '/items?limit=1', headers: bearer(token) })
  t.equal(next.statusCode, 200, 'the connection is free for the next request')
  await db.idle()
  t.same((await app.inject('/health')).json(), { status: 'ok', database: database.kind, connectionsInUse: 0 })
})

test('dependencyOverrides replace currentUser in a test, FastAPI-style: no token needed, the scheme no longer runs', async (t) => {
  t.teardown(() => app.dependencyOverrides.clear())
  app.dependencyOverrides.set(currentUser, () => ({ id: 0, username: 'tester', fullName: 'Test User', email: 'test@example.com', scopes: ['me'] }))
  const res = await app.inject('/users/me')
  t.equal(res.statusCode, 200)
  t.same(res.json(), { username: 'tester', fullName: 'Test User', email: 'test@example.com', scopes: ['me'] })
  app.dependencyOverrides.clear()
  t.equal((await app.inject('/users/me')).statusCode, 401)
})

test('OpenAPI documents the password flow, its scopes, the API key of GET /items, each operation\'s scopes and parameters; Swagger UI is at /docs', async (t) => {
  const spec = app.swagger() as unknown as {
    components: { securitySchemes: Record<string, unknown> }
    paths: Record<string, Record<string, { security?: unknown, parameters?: Array<{ in: string, name: string }>, requestBody?: { content: Record<string, unknown> } }>>
  }
  t.same(spec.components.securitySchemes, {
    OAuth2PasswordBearer: {
      type: 'oauth2',
      flows: { password: { tokenUrl: '/token', scopes: { me: 'Read your own profile', 'items:read': 'List, read and export items', 'items:write': 'Create and delete items' } } }
    },
    APIKeyHeader: { type: 'apiKey', description: 'An API key issued to a machine user', in: 'header', name: 'x-api-key' }
  })
  t.same(spec.paths['/items'].get.security, [{ OAuth2PasswordBearer: ['items:read'] }, { APIKeyHeader: [] }], 'either one (anyOf)')
  t.same(spec.paths['/items/{id}'].get.security, [{ OAuth2PasswordBearer: ['items:read'] }])
  t.same(spec.paths['/users/me/items'].get.security, [{ OAuth2PasswordBearer: ['me', 'items:read'] }])
  t.same(spec.paths['/items'].post.security, [{ OAuth2PasswordBearer: ['items:write'] }])
  t.same(spec.paths['/items'].get.parameters?.map((p) => `${p.in}:${p.name}`), ['query:skip', 'query:limit', 'query:q'])
  t.same(spec.paths['/items/{id}'].delete.parameters?.map((p) => `${p.in}:${p.name}`), ['path:id'])
  t.same(Object.keys(spec.paths['/token'].post.requestBody?.content ?? {}), ['application/x-www-form-urlencoded'])
  t.equal(spec.paths['/token'].post.security, undefined)

  const docs = await app.inject('/docs')
  t.equal(docs.statusCode, 200)
  t.match(docs.body, /swagger-ui/)
  t.equal((await app.inject('/')).headers.location, '/docs')
})
