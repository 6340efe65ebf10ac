import cookiePlugin, { type FastifyCookieOptions } from '@fastify/cookie'
import { TypeBoxValidatorCompiler, type TypeBoxTypeProvider } from '@fastify/type-provider-typebox-legacy'
import { Type } from '@sinclair/typebox'
import type { FastifyInstance } from 'fastify'
import { test } from 'tap'
import { build, EventLog } from './helpers'
import { depends, Query, Header, Cookie, Path, Body, type Dependency } from '../lib/index'

/** `app.ready()` as a real Promise (it returns a thenable instance), for t.rejects. */
async function ready (app: FastifyInstance): Promise<void> {
  await app.ready()
}

/** A dependency that records its name and provides its inputs' values. */
function logged (events: EventLog, name: string, inputs: Record<string, Dependency<any>> = {}): Dependency<Record<string, unknown>> {
  return depends(inputs, (values) => {
    events.record(name)
    return { ...values }
  }, { name })
}

/** The value of each dependency, with `undefined` spelled out (JSON drops it). */
function shown (deps: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(deps).map(([k, v]) => [k, v === undefined ? 'undefined' : v]))
}

function badRequest (message: string) {
  return { statusCode: 400, code: 'FST_ERR_VALIDATION', error: 'Bad Request', message }
}

test('each kind of parameter provides its validated value, coerced to its schema type', async (t) => {
  const app = await build(t)
  const item = depends({
    id: Path('id', Type.Integer()),
    skip: Query('skip', Type.Integer()),
    token: Header('X-Token', Type.String()),
    count: Header('x-count', Type.Integer()),
    visits: Cookie('visits', Type.Integer()),
    name: Body('name', Type.String()),
    qty: Body('qty', Type.Integer())
  }, (values) => values, { name: 'item' })
  const tags = depends({ tags: Body('tags', Type.Array(Type.String())) }, ({ tags }) => tags, { name: 'tags' })
  app.put('/items/:id', { dependencies: { item, tags } }, async (request) => request.deps)
  const res = await app.inject({
    method: 'PUT',
    url: '/items/42?skip=5',
    headers: { 'X-TOKEN': 'abc', 'x-count': '7', cookie: 'visits=3' },
    payload: { name: 'pen', qty: '2', tags: ['a'] }
  })
  t.equal(res.statusCode, 200)
  t.strictSame(res.json(), {
    item: { id: 42, skip: 5, token: 'abc', count: 7, visits: 3, name: 'pen', qty: 2 },
    tags: ['a']
  })
})

test('Body(schema) provides the whole validated body', async (t) => {
  const app = await build(t)
  const order = Body(Type.Object({ name: Type.String(), qty: Type.Integer() }))
  app.post('/orders', { dependencies: { order } }, async (request) => request.deps)
  const ok = await app.inject({ method: 'POST', url: '/orders', payload: { name: 'pen', qty: 2 } })
  t.equal(ok.statusCode, 200)
  t.strictSame(ok.json(), { order: { name: 'pen', qty: 2 } })
  const bad = await app.inject({ method: 'POST', url: '/orders', payload: { name: 'pen' } })
  t.equal(bad.statusCode, 400)
  t.strictSame(bad.json(), badRequest("body must have required property 'qty'"))
})

test('defaults apply to absent parameters of every kind', async (t) => {
  const app = await build(t)
  app.post('/', {
    dependencies: {
      skip: Query('skip', Type.Integer({ minimum: 0, default: 0 })),
      lang: Header('Accept-Language', Type.String({ default: 'en' })),
      theme: Cookie('theme', Type.String({ default: 'light' })),
      qty: Body('qty', Type.Integer({ default: 1 }))
    }
  }, async (request) => request.deps)
  const res = await app.inject({ method: 'POST', url: '/', payload: {} })
  t.equal(res.statusCode, 200)
  t.strictSame(res.json(), { skip: 0, lang: 'en', theme: 'light', qty: 1 })
  const given = await app.inject({ method: 'POST', url: '/?skip=4', headers: { 'accept-language': 'fr', cookie: 'theme=dark' }, payload: { qty: 9 } })
  t.strictSame(given.json(), { skip: 4, lang: 'fr', theme: 'dark', qty: 9 })
})

test('an optional parameter without a default is undefined when absent', async (t) => {
  const app = await build(t)
  app.post('/', {
    dependencies: {
      q: Query('q', Type.Optional(Type.String())),
      trace: Header('X-Trace', Type.Optional(Type.String())),
      session: Cookie('session', Type.Optional(Type.String())),
      note: Body('note', Type.Optional(Type.String()))
    }
  }, async (request) => shown(request.deps))
  const res = await app.inject({ method: 'POST', url: '/', payload: {} })
  t.equal(res.statusCode, 200)
  t.strictSame(res.json(), { q: 'undefined', trace: 'undefined', session: 'undefined', note: 'undefined' })
})

test('a missing or invalid parameter answers 400 with Fastify\'s body and runs no dependency at any level', async (t) => {
  const events = new EventLog()
  const app = await build(t, { dependencies: [logged(events, 'plugin')] })
  app.addDependencies([logged(events, 'context')])
  const params = logged(events, 'params', {
    id: Path('id', Type.Integer()),
    limit: Query('limit', Type.Integer({ maximum: 100, default: 20 })),
    token: Header('x-token', Type.String()),
    session: Cookie('session', Type.String({ minLength: 3 })),
    name: Body('name', Type.String())
  })
  app.post('/items/:id', { dependencies: { params } }, async () => {
    events.record('handler')
    return 'ok'
  })
  const valid = { url: '/items/1?limit=5', headers: { 'x-token': 't', cookie: 'session=abc' }, payload: { name: 'n' } }
  const cases: Array<[string, Record<string, unknown>, string]> = [
    ['query above maximum', { url: '/items/1?limit=200' }, 'querystring/limit must be <= 100'],
    ['query not an integer', { url: '/items/1?limit=x' }, 'querystring/limit must be integer'],
    ['path not an integer', { url: '/items/one?limit=5' }, 'params/id must be integer'],
    ['header missing', { headers: { cookie: 'session=abc' } }, "headers must have required property 'x-token'"],
    ['cookie missing', { headers: { 'x-token': 't' } }, "cookies must have required property 'session'"],
    ['cookie too short', { headers: { 'x-token': 't', cookie: 'session=ab' } }, 'cookies/session must NOT have fewer than 3 characters'],
    ['body property missing', { payload: { other: 1 } }, "body must have required property 'name'"]
  ]
  for (const [label, change, message] of cases) {
    const res = await app.inject({ method: 'POST', ...valid, ...change })
    t.equal(res.statusCode, 400, label)
    t.strictSame(res.json(), badRequest(message), label)
    t.same(events.list(), [], `${label}: no dependency ran`)
  }
  const res = await app.inject({ method: 'POST', ...valid })
  t.equal(res.statusCode, 200)
  t.same(events.list(), ['plugin', 'context', 'params', 'handler'])
})

test('parameters declared deep in plugin-option, addDependencies and route trees are all validated', async (t) => {
  const events = new EventLog()
  const apiKey = logged(events, 'apiKey', { key: Header('X-Api-Key', Type.String({ minLength: 4 })) })
  const app = await build(t, { dependencies: [logged(events, 'plugin', { apiKey })] })
  await app.register(async (outer) => {
    await outer.register(async (inner) => {
      const tenant = logged(events, 'tenant', { tenant: Query('tenant', Type.Integer({ minimum: 1 })) })
      inner.addDependencies([logged(events, 'context', { tenant })])
      const id = logged(events, 'id', { id: Path('id', Type.Integer()) })
      inner.get('/things/:id', { dependencies: { thing: logged(events, 'route', { id }) } }, async (request) => request.deps)
    })
  })
  const headers = { 'x-api-key': 'abcd' }
  const cases: Array<[string, Record<string, string>, string]> = [
    ['/things/1?tenant=2', {}, "headers must have required property 'x-api-key'"],
    ['/things/1?tenant=2', { 'x-api-key': 'abc' }, 'headers/x-api-key must NOT have fewer than 4 characters'],
    ['/things/1', headers, "querystring must have required property 'tenant'"],
    ['/things/1?tenant=0', headers, 'querystring/tenant must be >= 1'],
    ['/things/x?tenant=2', headers, 'params/id must be integer']
  ]
  for (const [url, h, message] of cases) {
    const res = await app.inject({ url, headers: h })
    t.strictSame(res.json(), badRequest(message), url)
  }
  t.same(events.list(), [])
  const res = await app.inject({ url: '/things/7?tenant=2', headers })
  t.equal(res.statusCode, 200)
  t.strictSame(res.json(), { thing: { id: { id: 7 } } })
  t.same(events.list(), ['apiKey', 'plugin', 'tenant', 'context', 'id', 'route'])
})

test('two dependencies declaring one parameter with equal schemas share it', async (t) => {
  const app = await build(t)
  const a = depends({ q: Query('q', Type.Integer({ minimum: 1 })) }, ({ q }) => q, { name: 'a' })
  const b = depends({ q: Query('q', Type.Integer({ minimum: 1 })) }, ({ q }) => q, { name: 'b' })
  const c = depends({ t: Header('X-Token', Type.String()) }, ({ t }) => t, { name: 'c' })
  const d = depends({ t: Header('x-token', Type.String()) }, ({ t }) => t, { name: 'd' })
  app.get('/x', { dependencies: { a, b, c, d } }, async (request) => request.deps)
  await ready(app)
  const res = await app.inject({ url: '/x?q=3', headers: { 'x-token': 'tk' } })
  t.equal(res.statusCode, 200)
  t.strictSame(res.json(), { a: 3, b: 3, c: 'tk', d: 'tk' })
  const bad = await app.inject({ url: '/x?q=0', headers: { 'x-token': 'tk' } })
  t.strictSame(bad.json(), badRequest('querystring/q must be >= 1'))
})

test('conflicting declarations of one parameter reject ready() naming both dependencies and the route', async (t) => {
  const conflicts: Array<[string, (app: FastifyInstance) => void, string[]]> = [
    ['different query schemas', (app) => {
      const a = depends({ q: Query('q', Type.Integer()) }, ({ q }) => q, { name: 'a' })
      const b = depends({ q: Query('q', Type.String()) }, ({ q }) => q, { name: 'b' })
      app.get('/x', { dependencies: { a, b } }, async () => 'ok')
    }, ['"a"', '"b"', 'GET /x', '"q"']],
    ['a required and an optional declaration', (app) => {
      const a = depends({ q: Query('q', Type.Integer()) }, ({ q }) => q, { name: 'a' })
      const b = depends({ q: Query('q', Type.Optional(Type.Integer())) }, ({ q }) => q, { name: 'b' })
      app.get('/x', { dependencies: [a, b] }, async () => 'ok')
    }, ['"a"', '"b"', 'GET /x']],
    ['headers differing only in the case of their name', (app) => {
      app.addDependencies([depends({ t: Header('X-Token', Type.String()) }, () => 1, { name: 'ctxToken' })])
      const b = depends({ t: Header('x-token', Type.Integer()) }, () => 1, { name: 'routeToken' })
      app.get('/x', { dependencies: [b] }, async () => 'ok')
    }, ['"ctxToken"', '"routeToken"', 'GET /x']],
    ['a whole body and a body property', (app) => {
      const a = depends({ all: Body(Type.Object({ name: Type.String() })) }, () => 1, { name: 'whole' })
      const b = depends({ name: Body('name', Type.String()) }, () => 1, { name: 'part' })
      app.post('/x', { dependencies: [a, b] }, async () => 'ok')
    }, ['"whole"', '"part"', 'POST /x']]
  ]
  for (const [label, setup, parts] of conflicts) {
    const app = await build(t)
    setup(app)
    const err = await ready(app).then(() => null, (e: Error & { code?: string }) => e)
    t.equal(err?.code, 'FST_DEPENDS_PARAM_CONFLICT', label)
    for (const part of parts) t.ok(err?.message.includes(part), `${label}: message names ${part}: ${err?.message}`)
  }
})

test('a parameter that differs from the route\'s own schema rejects ready() naming the dependency and the route', async (t) => {
  const cases: Array<[string, (app: FastifyInstance) => void]> = [
    ['GET /x', (app) => {
      const a = depends({ q: Query('q', Type.Integer()) }, ({ q }) => q, { name: 'a' })
      app.get('/x', { schema: { querystring: Type.Object({ q: Type.String() }) }, dependencies: { a } }, async () => 'ok')
    }],
    ['POST /x', (app) => {
      const a = depends({ all: Body(Type.Object({ name: Type.String() })) }, () => 1, { name: 'a' })
      app.post('/x', { schema: { body: Type.Object({ name: Type.Integer() }) }, dependencies: { a } }, async () => 'ok')
    }]
  ]
  for (const [route, setup] of cases) {
    const app = await build(t)
    setup(app)
    const err = await ready(app).then(() => null, (e: Error & { code?: string }) => e)
    t.equal(err?.code, 'FST_DEPENDS_PARAM_CONFLICT', route)
    for (const part of [route, '"a"', 'own schema']) t.ok(err?.message.includes(part), `${route}: message names ${part}: ${err?.message}`)
  }
})

test('the route\'s own schema is merged with its parameters, not replaced, and not mutated', async (t) => {
  const app = await build(t)
  const own = { type: 'object', properties: { sort: { type: 'string', enum: ['asc', 'desc'] } }, required: ['sort'] } as const
  const copy = structuredClone(own)
  const skip = Query('skip', Type.Integer({ default: 0 }))
  app.get('/x', { schema: { querystring: own }, dependencies: { skip } }, async (request) => ({ deps: request.deps, query: request.query }))
  const noSort = await app.inject('/x?skip=2')
  t.strictSame(noSort.json(), badRequest("querystring must have required property 'sort'"))
  const badSort = await app.inject('/x?skip=2&sort=up')
  t.strictSame(badSort.json(), badRequest('querystring/sort must be equal to one of the allowed values'))
  const ok = await app.inject('/x?sort=asc')
  t.strictSame(ok.json(), { deps: { skip: 0 }, query: { sort: 'asc', skip: 0 } })
  t.strictSame(own, copy, 'the hand-written schema object is unchanged')
})

test('registration errors of parameters reject ready() with FST_DEPENDS_INVALID naming the route', async (t) => {
  const cases: Array<[string, (app: FastifyInstance) => void, RegExp]> = [
    ['Path() without :name in the URL', (app) => {
      const a = depends({ id: Path('id', Type.Integer()) }, () => 1, { name: 'a' })
      app.get('/items/:idx', { dependencies: [a] }, async () => 'ok')
    }, /GET \/items\/:idx.*"a".*:id/],
    ['Body() on a GET route', (app) => {
      const a = depends({ name: Body('name', Type.String()) }, () => 1, { name: 'a' })
      app.get('/x', { dependencies: [a] }, async () => 'ok')
    }, /GET \/x.*"a"/]
  ]
  for (const [label, setup, message] of cases) {
    const app = await build(t)
    setup(app)
    await t.rejects(ready(app), { code: 'FST_DEPENDS_INVALID', message }, label)
  }
})

test('cookies are parsed from the Cookie header when @fastify/cookie is not registered', async (t) => {
  const app = await build(t)
  app.get('/', { dependencies: { session: Cookie('session', Type.String({ minLength: 3 })), n: Cookie('n', Type.Integer({ default: 1 })) } }, async (request) => request.deps)
  const ok = await app.inject({ url: '/', headers: { cookie: 'other=x; session=a%20b; n=5' } })
  t.equal(ok.statusCode, 200)
  t.strictSame(ok.json(), { session: 'a b', n: 5 })
  const bad = await app.inject({ url: '/', headers: { cookie: 'session=abc; n=x' } })
  t.strictSame(bad.json(), badRequest('cookies/n must be integer'))
})

test('cookies are read from request.cookies when @fastify/cookie is registered', async (t) => {
  const app = await build(t)
  // a decoder only @fastify/cookie applies: the dependency sees request.cookies, not the raw header
  // (passed to cookie's parse(); @fastify/cookie's types list only the serialize options)
  const cookieOptions = { parseOptions: { decode: (value: string) => value.toUpperCase() } } as unknown as FastifyCookieOptions
  await app.register(cookiePlugin, cookieOptions)
  app.get('/', { dependencies: { session: Cookie('session', Type.String({ pattern: '^[A-Z]+$' })) } }, async (request) => ({ ...request.deps, cookies: request.cookies }))
  const ok = await app.inject({ url: '/', headers: { cookie: 'session=abc' } })
  t.equal(ok.statusCode, 200)
  t.strictSame(ok.json(), { session: 'ABC', cookies: { session: 'ABC' } })
  const missing = await app.inject({ url: '/', headers: { cookie: 'other=abc' } })
  t.strictSame(missing.json(), badRequest("cookies must have required property 'session'"))
  const bad = await app.inject({ url: '/', headers: { cookie: 'session=a1' } })
  t.strictSame(bad.json(), badRequest('cookies/session must match pattern "^[A-Z]+$"'))
})

test('an app with TypeBoxValidatorCompiler validates and coerces parameters, cookies included', async (t) => {
  const app = await build(t)
  app.setValidatorCompiler(TypeBoxValidatorCompiler)
  app.get('/', {
    dependencies: {
      q: Query('q', Type.String({ maxLength: 3 })),
      token: Header('X-Token', Type.String()),
      session: Cookie('session', Type.String({ minLength: 3 }))
    }
  }, async (request) => request.deps)
  app.get('/query', { dependencies: { skip: Query('skip', Type.Integer()) } }, async (request) => request.deps)
  app.get('/cookie', { dependencies: { n: Cookie('n', Type.Integer()) } }, async (request) => request.deps)
  const headers = { 'x-token': 't', cookie: 'session=abcd' }
  const ok = await app.inject({ url: '/?q=ab', headers })
  t.equal(ok.statusCode, 200)
  t.strictSame(ok.json(), { q: 'ab', token: 't', session: 'abcd' })
  const badQuery = await app.inject({ url: '/?q=abcd', headers })
  t.equal(badQuery.statusCode, 400)
  t.match(badQuery.json(), { code: 'FST_ERR_VALIDATION', message: /^querystring/ })
  const badCookie = await app.inject({ url: '/?q=ab', headers: { 'x-token': 't', cookie: 'session=a' } })
  t.equal(badCookie.statusCode, 400)
  // TypeBox's wording, not Ajv's: cookies use the app's compiler too
  t.strictSame(badCookie.json(), badRequest('cookies/session Expected string length greater or equal to 3'))
  const query = await app.inject('/query?skip=2')
  t.strictSame(query.json(), { skip: 2 }, 'a query integer is coerced')
  const cookie = await app.inject({ url: '/cookie', headers: { cookie: 'n=5' } })
  t.strictSame(cookie.json(), { n: 5 }, 'a cookie integer is coerced')
})

test('an app with TypeBoxTypeProvider validates and coerces parameters, cookies included', async (t) => {
  const app = (await build(t)).withTypeProvider<TypeBoxTypeProvider>()
  app.get('/:id', {
    dependencies: { id: Path('id', Type.Integer()), skip: Query('skip', Type.Integer({ default: 0 })), n: Cookie('n', Type.Integer()) }
  }, async (request) => request.deps)
  const ok = await app.inject({ url: '/3?skip=2', headers: { cookie: 'n=5' } })
  t.equal(ok.statusCode, 200)
  t.strictSame(ok.json(), { id: 3, skip: 2, n: 5 })
  const bad = await app.inject({ url: '/3', headers: { cookie: 'n=x' } })
  t.strictSame(bad.json(), badRequest('cookies/n must be integer'))
})

test('bad parameter definitions throw FST_DEPENDS_INVALID synchronously', async (t) => {
  const bad: Array<[string, () => unknown]> = [
    ['Query non-string name', () => Query(42 as unknown as string, Type.String())],
    ['Query empty name', () => Query('', Type.String())],
    ['Header non-string name', () => Header(undefined as unknown as string, Type.String())],
    ['Cookie non-string name', () => Cookie({} as unknown as string, Type.String())],
    ['Path non-string name', () => Path(null as unknown as string, Type.String())],
    ['Body non-string name', () => Body(7 as unknown as string, Type.String())],
    ['Query string schema', () => Query('q', 'integer' as never)],
    ['Header missing schema', () => Header('x', undefined as never)],
    ['Cookie null schema', () => Cookie('c', null as never)],
    ['Path array schema', () => Path('id', [] as never)],
    ['Body(name) missing schema', () => (Body as (name: string) => unknown)('name')],
    ['Body non-object schema', () => Body(true as never)]
  ]
  for (const [label, define] of bad) {
    t.throws(define, { code: 'FST_DEPENDS_INVALID' }, label)
  }
})
