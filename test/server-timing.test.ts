import { Type } from '@sinclair/typebox'
import { test } from 'tap'
import { build, EventLog } from './helpers'
import { depends, httpError, Query, HTTPBearer } from '../lib/index'

/** `name;dur=N.NN` entries: the names, and whether every duration has that form. */
function parse (header: unknown): { names: string[], wellFormed: boolean } {
  if (typeof header !== 'string') return { names: [], wellFormed: false }
  const entries = header.split(', ')
  return {
    names: entries.map((entry) => entry.split(';')[0]),
    wellFormed: entries.every((entry) => /^[!#$%&'*+\-.^`|~\w]+;dur=\d+\.\d{2}$/.test(entry))
  }
}

/** config → db (async generator) → user (async) → page, with a parameter and a name to sanitize. */
function tree () {
  const config = depends(() => ({ dsn: 'memory' }), { name: 'config' })
  const db = depends({ config }, async function * db () { yield 'conn' }, { name: 'db' })
  const user = depends({ db, limit: Query('limit', Type.Integer({ default: 5 })) }, async ({ db }) => db, { name: 'current user/é' })
  const page = depends({ user, config }, ({ user }) => user, { name: 'page' })
  return { config, db, user, page }
}

test('serverTiming: a successful response has one name;dur=N.NN entry per dependency, in resolution order', async (t) => {
  const app = await build(t, { serverTiming: true })
  const { page } = tree()
  const events = new EventLog()
  app.get('/page', { dependencies: { page } }, async () => {
    events.record('handler')
    return 'ok'
  })
  const response = await app.inject('/page')
  t.equal(response.statusCode, 200)
  t.equal(response.body, 'ok')
  const { names, wellFormed } = parse(response.headers['server-timing'])
  // a shared node (config) appears once; names become header tokens
  t.same(names, ['config', 'db', 'Query_limit_', 'current_user__', 'page'])
  t.ok(wellFormed, `well-formed: ${response.headers['server-timing']}`)
  t.same(events.list(), ['handler'])
})

test('serverTiming times security schemes, which run in onRequest, too', async (t) => {
  const app = await build(t, { serverTiming: true })
  const user = depends({ credentials: HTTPBearer() }, ({ credentials }) => credentials, { name: 'user' })
  app.get('/me', { dependencies: { user } }, async () => 'ok')
  const response = await app.inject({ url: '/me', headers: { authorization: 'Bearer abc' } })
  t.equal(response.statusCode, 200)
  t.same(parse(response.headers['server-timing']).names, ['HTTPBearer', 'user'])
})

test('serverTiming: each request gets its own header', async (t) => {
  const app = await build(t, { serverTiming: true })
  const { page } = tree()
  const a = depends(() => 'a', { name: 'a' })
  app.get('/page', { dependencies: { page } }, async () => 'ok')
  app.get('/a', { dependencies: [a] }, async () => 'ok')
  for (const [url, expected] of [['/a', ['a']], ['/page', ['config', 'db', 'Query_limit_', 'current_user__', 'page']], ['/a', ['a']]] as const) {
    const response = await app.inject(url)
    t.same(parse(response.headers['server-timing']).names, expected, url)
  }
})

test('serverTiming in parallel mode: one entry per dependency', async (t) => {
  const app = await build(t, { serverTiming: true, concurrency: 'parallel' })
  let open!: () => void
  const gate = new Promise<void>((resolve) => { open = resolve })
  // `slow` starts first and finishes last
  const slow = depends(async () => { await gate; return 1 }, { name: 'slow' })
  const fast = depends(async () => { open(); return 2 }, { name: 'fast' })
  app.get('/both', { dependencies: { slow, fast } }, async () => 'ok')
  const response = await app.inject('/both')
  t.equal(response.statusCode, 200)
  const { names, wellFormed } = parse(response.headers['server-timing'])
  t.same(names.sort(), ['fast', 'slow'])
  t.ok(wellFormed)
})

test('serverTiming: error responses carry no server-timing header', async (t) => {
  const app = await build(t, { serverTiming: true })
  const { page } = tree()
  const forbid = depends({ page }, () => { throw httpError(403, 'Not enough permissions') }, { name: 'forbid' })
  const crash = depends({ page }, async () => { throw new Error('database down') }, { name: 'crash' })
  app.get('/forbidden', { dependencies: { forbid } }, async () => 'unreachable')
  app.get('/crash', { dependencies: { crash } }, async () => 'unreachable')
  app.get('/handler-throws', { dependencies: { page } }, async () => { throw httpError(409, 'Conflict') })
  app.get('/not-found', { dependencies: { page } }, async (_request, reply) => reply.code(404).send({ missing: true }))
  app.get('/invalid', { dependencies: { page } }, async () => 'unreachable')
  app.get('/unauthenticated', { dependencies: { credentials: HTTPBearer() } }, async () => 'unreachable')
  const cases: Array<[string, number]> = [
    ['/forbidden', 403], ['/crash', 500], ['/handler-throws', 409], ['/not-found', 404],
    ['/invalid?limit=many', 400], ['/unauthenticated', 401]
  ]
  for (const [url, status] of cases) {
    const response = await app.inject(url)
    t.equal(response.statusCode, status, url)
    t.notOk('server-timing' in response.headers, `${url}: no server-timing`)
  }
})

test('serverTiming: a function-scoped cleanup that fails turns the response into an error without server-timing', async (t) => {
  const app = await build(t, { serverTiming: true })
  const tx = depends(function * tx () {
    yield 'tx'
    throw httpError(409, 'Commit failed')
  }, { name: 'tx', scope: 'function' })
  app.get('/commit', { dependencies: { tx } }, async () => 'ok')
  const response = await app.inject('/commit')
  t.equal(response.statusCode, 409)
  t.same(response.json(), { statusCode: 409, error: 'Conflict', message: 'Commit failed' })
  t.notOk('server-timing' in response.headers, 'no server-timing on the error response')
})

test('serverTiming: redirects (3xx) are not errors and carry the header', async (t) => {
  const app = await build(t, { serverTiming: true })
  const a = depends(() => 'a', { name: 'a' })
  app.get('/old', { dependencies: [a] }, async (_request, reply) => reply.redirect('/new'))
  const response = await app.inject('/old')
  t.equal(response.statusCode, 302)
  t.same(parse(response.headers['server-timing']).names, ['a'])
})

test('without serverTiming (the default) no response has the header', async (t) => {
  for (const options of [{}, { serverTiming: false }]) {
    const app = await build(t, options)
    const { page } = tree()
    app.get('/page', { dependencies: { page } }, async () => 'ok')
    const response = await app.inject('/page')
    t.equal(response.statusCode, 200)
    t.notOk('server-timing' in response.headers, JSON.stringify(options))
  }
})

test('serverTiming leaves routes without dependencies alone', async (t) => {
  const app = await build(t, { serverTiming: true })
  app.get('/bare', async () => 'ok')
  const response = await app.inject('/bare')
  t.equal(response.statusCode, 200)
  t.notOk('server-timing' in response.headers)
})
