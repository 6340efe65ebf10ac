import swagger from '@fastify/swagger'
import { Type } from '@sinclair/typebox'
import type { FastifyInstance } from 'fastify'
import { test, type Test } from 'tap'
import { build } from '../helpers'
import { depends, httpError, Query, Cookie, Header, type DependencyList } from '../../lib/index'

// Ported from FastAPI's tests/test_tutorial/test_dependencies/ (tutorials 001 to 006, 011 and 012:
// parameters in dependencies, classes as dependencies, sub-dependencies, route and app
// dependencies). FastAPI runs each test against several equivalent tutorial variants; here
// there is one app per tutorial. Its 422 is Fastify's 400 (one message: the first error);
// `{"detail": ...}` is `message`; documented parameters are compared, not FastAPI's whole document.

async function documented (t: Test, options: { dependencies?: DependencyList } = {}): Promise<FastifyInstance> {
  const app = await build(t, options)
  await app.register(swagger, { openapi: { info: { title: 't', version: '1' } } })
  return app
}

function parameters (app: FastifyInstance, url: string): unknown {
  return (app.swagger() as unknown as { paths: Record<string, { get: { parameters?: unknown } }> }).paths[url].get.parameters
}

const commonQuery = {
  q: Query('q', Type.Optional(Type.String())),
  skip: Query('skip', Type.Integer({ default: 0 })),
  limit: Query('limit', Type.Integer({ default: 100 }))
}
const commonQueryDocumented = [
  { in: 'query', name: 'q', required: false, schema: { type: 'string' } },
  { in: 'query', name: 'skip', required: false, schema: { type: 'integer', default: 0 } },
  { in: 'query', name: 'limit', required: false, schema: { type: 'integer', default: 100 } }
]

async function tutorial001 (t: Test) {
  const app = await documented(t)
  const commonParameters = depends(commonQuery, ({ q, skip, limit }) => ({ q: q ?? null, skip, limit }), { name: 'commonParameters' })
  app.get('/items/', { dependencies: { commons: commonParameters } }, async (request) => request.deps.commons)
  app.get('/users/', { dependencies: { commons: commonParameters } }, async (request) => request.deps.commons)
  await app.ready()
  return app
}

// ported from tests/test_tutorial/test_dependencies/test_tutorial001_tutorial001_02.py test_get (5 parametrized cases)
test('tutorial001 test_get: a dependency with query parameters serves two routes', async (t) => {
  const app = await tutorial001(t)
  const cases: Array<[string, unknown]> = [
    ['/items/', { q: null, skip: 0, limit: 100 }],
    ['/items/?q=foo', { q: 'foo', skip: 0, limit: 100 }],
    ['/items/?q=foo&skip=5', { q: 'foo', skip: 5, limit: 100 }],
    ['/items/?q=foo&skip=5&limit=30', { q: 'foo', skip: 5, limit: 30 }],
    ['/users/', { q: null, skip: 0, limit: 100 }]
  ]
  for (const [url, expected] of cases) {
    const res = await app.inject(url)
    t.equal(res.statusCode, 200, url)
    t.same(res.json(), expected, url)
  }
})

// ported from tests/test_tutorial/test_dependencies/test_tutorial001_tutorial001_02.py test_openapi_schema
test('tutorial001 test_openapi_schema: both routes document the dependency\'s query parameters', async (t) => {
  const app = await tutorial001(t)
  t.strictSame(parameters(app, '/items/'), commonQueryDocumented)
  t.strictSame(parameters(app, '/users/'), commonQueryDocumented)
})

const fakeItemsDb = [{ item_name: 'Foo' }, { item_name: 'Bar' }, { item_name: 'Baz' }]

class CommonQueryParams {
  q: string | undefined
  skip: number
  limit: number
  constructor ({ q, skip, limit }: { q: string | undefined, skip: number, limit: number }) {
    this.q = q
    this.skip = skip
    this.limit = limit
  }
}

async function tutorial002 (t: Test) {
  const app = await documented(t)
  const commons = depends(commonQuery, (params) => new CommonQueryParams(params), { name: 'CommonQueryParams' })
  app.get('/items/', { dependencies: { commons } }, async (request) => {
    const { q, skip, limit } = request.deps.commons as CommonQueryParams
    return { ...(q ? { q } : {}), items: fakeItemsDb.slice(skip, skip + limit) }
  })
  await app.ready()
  return app
}

// ported from tests/test_tutorial/test_dependencies/test_tutorial002_tutorial003_tutorial004.py test_get (6 parametrized cases)
test('tutorial002-004 test_get: a class instance built from query parameters is the value', async (t) => {
  const app = await tutorial002(t)
  const [foo, bar, baz] = fakeItemsDb
  const cases: Array<[string, unknown]> = [
    ['/items/', { items: [foo, bar, baz] }],
    ['/items/?q=foo', { q: 'foo', items: [foo, bar, baz] }],
    ['/items/?q=foo&skip=1', { q: 'foo', items: [bar, baz] }],
    ['/items/?q=bar&limit=2', { q: 'bar', items: [foo, bar] }],
    ['/items/?q=bar&skip=1&limit=1', { q: 'bar', items: [bar] }],
    ['/items/?limit=1&q=bar&skip=1', { q: 'bar', items: [bar] }]
  ]
  for (const [url, expected] of cases) t.same((await app.inject(url)).json(), expected, url)
})

// ported from tests/test_tutorial/test_dependencies/test_tutorial002_tutorial003_tutorial004.py test_openapi_schema
test('tutorial002-004 test_openapi_schema: the class\'s parameters are documented', async (t) => {
  t.strictSame(parameters(await tutorial002(t), '/items/'), commonQueryDocumented)
})

async function tutorial005 (t: Test) {
  const app = await documented(t)
  const queryExtractor = depends({ q: Query('q', Type.Optional(Type.String())) }, ({ q }) => q, { name: 'queryExtractor' })
  const queryOrCookieExtractor = depends({ q: queryExtractor, lastQuery: Cookie('last_query', Type.Optional(Type.String())) },
    ({ q, lastQuery }) => q || lastQuery, { name: 'queryOrCookieExtractor' })
  app.get('/items/', { dependencies: { queryOrDefault: queryOrCookieExtractor } }, async (request) => ({ q_or_cookie: request.deps.queryOrDefault ?? null }))
  await app.ready()
  return app
}

// ported from tests/test_tutorial/test_dependencies/test_tutorial005.py test_get (3 parametrized cases)
test('tutorial005 test_get: a sub-dependency\'s query value, else a cookie', async (t) => {
  const app = await tutorial005(t)
  const get = async (url: string, cookie?: string) => (await app.inject({ url, headers: cookie === undefined ? {} : { cookie: `last_query=${cookie}` } })).json()
  t.same(await get('/items/', 'from_cookie'), { q_or_cookie: 'from_cookie' })
  t.same(await get('/items/?q=foo', 'from_cookie'), { q_or_cookie: 'foo' })
  t.same(await get('/items/'), { q_or_cookie: null })
})

// ported from tests/test_tutorial/test_dependencies/test_tutorial005.py test_openapi_schema
test('tutorial005 test_openapi_schema: the query parameter and the cookie are documented', async (t) => {
  t.strictSame(parameters(await tutorial005(t), '/items/'), [
    { in: 'query', name: 'q', required: false, schema: { type: 'string' } },
    { in: 'cookie', name: 'last_query', required: false, schema: { type: 'string' } }
  ])
})

const verifyToken = depends({ xToken: Header('x-token', Type.String()) }, ({ xToken }) => {
  if (xToken !== 'fake-super-secret-token') throw httpError(400, 'X-Token header invalid')
}, { name: 'verifyToken' })
const verifyKey = depends({ xKey: Header('x-key', Type.String()) }, ({ xKey }) => {
  if (xKey !== 'fake-super-secret-key') throw httpError(400, 'X-Key header invalid')
  return xKey
}, { name: 'verifyKey' })
const headersDocumented = [
  { in: 'header', name: 'x-token', required: true, schema: { type: 'string' } },
  { in: 'header', name: 'x-key', required: true, schema: { type: 'string' } }
]
const validHeaders = { 'x-token': 'fake-super-secret-token', 'x-key': 'fake-super-secret-key' }
const missingToken = { statusCode: 400, code: 'FST_ERR_VALIDATION', error: 'Bad Request', message: "headers must have required property 'x-token'" }
const missingKey = { ...missingToken, message: "headers must have required property 'x-key'" }
const badRequest = (message: string) => ({ statusCode: 400, error: 'Bad Request', message })

async function tutorial006 (t: Test) {
  const app = await documented(t)
  app.get('/items/', { dependencies: [verifyToken, verifyKey] }, async () => [{ item: 'Foo' }, { item: 'Bar' }])
  await app.ready()
  return app
}

async function status (app: FastifyInstance, url: string, headers: Record<string, string> = {}) {
  const res = await app.inject({ url, headers })
  return [res.statusCode, res.json()]
}

// ported from tests/test_tutorial/test_dependencies/test_tutorial006.py test_get_no_headers
test('tutorial006 test_get_no_headers: the headers of route-level dependencies are required', async (t) => {
  t.same(await status(await tutorial006(t), '/items/'), [400, missingToken])
})

// ported from tests/test_tutorial/test_dependencies/test_tutorial006.py test_get_invalid_one_header (deliberately different: validation first)
test('tutorial006 test_get_invalid_one_header: the missing second header fails validation before any dependency runs', async (t) => {
  // FastAPI runs verify_token first and answers "X-Token header invalid"
  t.same(await status(await tutorial006(t), '/items/', { 'x-token': 'invalid' }), [400, missingKey])
  t.same(await status(await tutorial006(t), '/items/', { 'x-token': 'invalid', 'x-key': 'any' }), [400, badRequest('X-Token header invalid')])
})

// ported from tests/test_tutorial/test_dependencies/test_tutorial006.py test_get_invalid_second_header
test('tutorial006 test_get_invalid_second_header: the second dependency\'s httpError answers', async (t) => {
  t.same(await status(await tutorial006(t), '/items/', { 'x-token': 'fake-super-secret-token', 'x-key': 'invalid' }), [400, badRequest('X-Key header invalid')])
})

// ported from tests/test_tutorial/test_dependencies/test_tutorial006.py test_get_valid_headers
test('tutorial006 test_get_valid_headers: the handler runs when both pass', async (t) => {
  t.same(await status(await tutorial006(t), '/items/', validHeaders), [200, [{ item: 'Foo' }, { item: 'Bar' }]])
})

// ported from tests/test_tutorial/test_dependencies/test_tutorial006.py test_openapi_schema
test('tutorial006 test_openapi_schema: the headers of array-form dependencies are documented', async (t) => {
  t.strictSame(parameters(await tutorial006(t), '/items/'), headersDocumented)
})

async function tutorial011 (t: Test) {
  class FixedContentQueryChecker {
    constructor (private readonly fixedContent: string) {}
    call ({ q }: { q: string }) { return q ? q.includes(this.fixedContent) : false }
  }
  const checker = new FixedContentQueryChecker('bar')
  const app = await documented(t)
  const fixedContentIncluded = depends({ q: Query('q', Type.String({ default: '' })) }, (inputs) => checker.call(inputs), { name: 'checker' })
  app.get('/query-checker/', { dependencies: { fixedContentIncluded } }, async (request) => ({ fixed_content_in_query: request.deps.fixedContentIncluded }))
  await app.ready()
  return app
}

// ported from tests/test_tutorial/test_dependencies/test_tutorial011.py test_get (3 parametrized cases)
test('tutorial011 test_get: a configured instance is a dependency through a closure', async (t) => {
  const app = await tutorial011(t)
  t.same((await app.inject('/query-checker/')).json(), { fixed_content_in_query: false })
  t.same((await app.inject('/query-checker/?q=qwerty')).json(), { fixed_content_in_query: false })
  t.same((await app.inject('/query-checker/?q=foobar')).json(), { fixed_content_in_query: true })
})

// ported from tests/test_tutorial/test_dependencies/test_tutorial011.py test_openapi_schema
test('tutorial011 test_openapi_schema: the instance\'s query parameter is documented with its default', async (t) => {
  t.strictSame(parameters(await tutorial011(t), '/query-checker/'), [{ in: 'query', name: 'q', required: false, schema: { type: 'string', default: '' } }])
})

async function tutorial012 (t: Test) {
  const app = await documented(t, { dependencies: [verifyToken, verifyKey] })
  app.get('/items/', async () => [{ item: 'Portal Gun' }, { item: 'Plumbus' }])
  app.get('/users/', async () => [{ username: 'Rick' }, { username: 'Morty' }])
  await app.ready()
  return app
}

const tutorial012Routes: Array<[string, unknown]> = [['items', [{ item: 'Portal Gun' }, { item: 'Plumbus' }]], ['users', [{ username: 'Rick' }, { username: 'Morty' }]]]
for (const [route, body] of tutorial012Routes) {
  // ported from tests/test_tutorial/test_dependencies/test_tutorial012.py test_get_no_headers_items / test_get_no_headers_users
  test(`tutorial012 test_get_no_headers_${route}: plugin-level dependencies' headers are required on /${route}/`, async (t) => {
    t.same(await status(await tutorial012(t), `/${route}/`), [400, missingToken])
  })
  // ported from tests/test_tutorial/test_dependencies/test_tutorial012.py test_get_invalid_one_header_items / test_get_invalid_one_users (deliberately different: validation first)
  test(`tutorial012 test_get_invalid_one_header_${route}: the missing second header fails validation first on /${route}/`, async (t) => {
    const app = await tutorial012(t)
    t.same(await status(app, `/${route}/`, { 'x-token': 'invalid' }), [400, missingKey])
    t.same(await status(app, `/${route}/`, { 'x-token': 'invalid', 'x-key': 'any' }), [400, badRequest('X-Token header invalid')])
  })
  // ported from tests/test_tutorial/test_dependencies/test_tutorial012.py test_get_invalid_second_header_items / test_get_invalid_second_header_users
  test(`tutorial012 test_get_invalid_second_header_${route}: the second plugin-level dependency answers on /${route}/`, async (t) => {
    t.same(await status(await tutorial012(t), `/${route}/`, { 'x-token': 'fake-super-secret-token', 'x-key': 'invalid' }), [400, badRequest('X-Key header invalid')])
  })
  // ported from tests/test_tutorial/test_dependencies/test_tutorial012.py test_get_valid_headers_items / test_get_valid_headers_users
  test(`tutorial012 test_get_valid_headers_${route}: /${route}/ is served with both headers`, async (t) => {
    t.same(await status(await tutorial012(t), `/${route}/`, validHeaders), [200, body])
  })
}

// ported from tests/test_tutorial/test_dependencies/test_tutorial012.py test_openapi_schema
test('tutorial012 test_openapi_schema: every route documents the plugin-level dependencies\' headers', async (t) => {
  const app = await tutorial012(t)
  t.strictSame(parameters(app, '/items/'), headersDocumented)
  t.strictSame(parameters(app, '/users/'), headersDocumented)
})
