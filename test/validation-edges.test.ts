import { test } from 'tap'
import { Type } from '@sinclair/typebox'
import { TypeBoxValidatorCompiler } from '@fastify/type-provider-typebox-legacy'
import { build, logCollector } from './helpers'
import { depends, Query, Header, Path, Body, httpError, type Dependency } from '../lib/index'

test('a route whose own headers schema has no properties, or no required list, keeps validating', async (t) => {
  const app = await build(t)
  const plain = depends(() => 'x')
  const optional = depends({ h: Header('X-Opt', Type.Optional(Type.String())) }, ({ h }) => h ?? 'none')
  app.get('/open', { dependencies: { plain }, schema: { headers: { type: 'object' } } }, async (request) => request.deps)
  app.get('/optional', { dependencies: { optional } }, async (request) => request.deps)
  t.same((await app.inject('/open')).json(), { plain: 'x' })
  t.same((await app.inject('/optional')).json(), { optional: 'none' })
  t.same((await app.inject({ url: '/optional', headers: { 'x-opt': 'yes' } })).json(), { optional: 'yes' })
})

test('headers and path parameters brought by an override to a route without them are validated', async (t) => {
  const app = await build(t)
  const plain = depends(() => 'plain', { name: 'plain' })
  app.get('/items/:id', { dependencies: { value: plain } }, async (request) => request.deps)
  await app.ready()
  app.dependencyOverrides.set(plain, depends({ id: Path('id', Type.Integer()), token: Header('X-Token', Type.String()) }, ({ id, token }) => `${id}:${token}`))
  t.equal((await app.inject({ url: '/items/1' })).statusCode, 400)
  t.equal((await app.inject({ url: '/items/x', headers: { 'x-token': 't' } })).statusCode, 400)
  t.same((await app.inject({ url: '/items/7', headers: { 'x-token': 't' } })).json(), { value: '7:t' })
})

test('with TypeBoxValidatorCompiler, a parameter an override brings is validated and converted by it', async (t) => {
  const app = await build(t)
  app.setValidatorCompiler(TypeBoxValidatorCompiler)
  const plain = depends(() => 'plain', { name: 'plain' })
  app.get('/', { dependencies: { value: plain } }, async (request) => request.deps)
  await app.ready()
  app.dependencyOverrides.set(plain as Dependency, depends({ n: Query('n', Type.Integer()) }, ({ n }) => n))
  const invalid = await app.inject('/?n=x')
  t.equal(invalid.statusCode, 400)
  t.match(invalid.json(), { code: 'FST_ERR_VALIDATION', message: /^querystring/ })
  t.same((await app.inject('/?n=3')).json(), { value: 3 })
})

test('an override set after the routes but before ready() that conflicts on a parameter makes ready() reject', async (t) => {
  const app = await build(t)
  const a = depends({ q: Query('q', Type.String()) }, ({ q }) => q, { name: 'a' })
  const b = depends(() => 'b', { name: 'b' })
  app.get('/', { dependencies: { a, b } }, async (request) => request.deps)
  app.dependencyOverrides.set(b as Dependency, depends({ q: Query('q', Type.Integer()) }, ({ q }) => q))
  await t.rejects((async () => { await app.ready() })(), { code: 'FST_DEPENDS_PARAM_CONFLICT' })
})

test('two whole-body declarations with different schemas, and a route schema that cannot be merged, are conflicts', async (t) => {
  const app = await build(t)
  const one = depends({ body: Body(Type.Object({ a: Type.String() })) }, ({ body }) => body, { name: 'one' })
  const two = depends({ body: Body(Type.Object({ b: Type.String() })) }, ({ body }) => body, { name: 'two' })
  app.post('/', { dependencies: { one, two } }, async () => 'never')
  await t.rejects((async () => { await app.ready() })(), { code: 'FST_DEPENDS_PARAM_CONFLICT', message: /"one" and "two"/ })

  const other = await build(t)
  const q = depends({ q: Query('q', Type.String()) }, ({ q }) => q, { name: 'needsQ' })
  other.get('/', { dependencies: { q }, schema: { querystring: { type: 'object' } } }, async () => 'never')
  await t.rejects((async () => { await other.ready() })(), { code: 'FST_DEPENDS_PARAM_CONFLICT', message: /schema\.querystring is not an object schema/ })
})

test('printDependencies shows a whole-body parameter as "body"', async (t) => {
  const app = await build(t)
  const body = Body(Type.Object({ a: Type.String() }))
  app.post('/', { dependencies: { body } }, async () => 'ok')
  await app.ready()
  t.equal(app.printDependencies({ route: 'POST /' }), 'POST /\n└── body: Body (#1, body)\n')
})

test('an error from another plugin\'s onSend: a generator that replaces it is logged, the response keeps the first error', async (t) => {
  const log = logCollector()
  const app = await build(t, {}, { logger: { level: 'error', stream: log.stream } })
  app.addHook('onSend', async () => { throw httpError(409, 'onSend failed') })
  const replacer = depends(function * replacer () {
    try {
      yield 1
    } catch {
      throw httpError(418, 'replaced')
    }
  })
  app.get('/', { dependencies: [replacer] }, async () => 'ok')
  const res = await app.inject('/')
  t.equal(res.statusCode, 409)
  const line = log.lines.find((l) => String(l.msg).includes('after the error response was decided'))
  t.equal((line?.err as { message: string }).message, 'replaced')
})

test('Path("*") reads the wildcard of a route that has one, and is a registration error without it', async (t) => {
  const app = await build(t)
  const rest = depends({ rest: Path('*', Type.String()) }, ({ rest }) => rest)
  app.get('/files/*', { dependencies: { rest } }, async (request) => request.deps)
  t.same((await app.inject('/files/a/b.txt')).json(), { rest: 'a/b.txt' })

  const other = await build(t)
  other.get('/files', { dependencies: { rest } }, async () => 'never')
  await t.rejects((async () => { await other.ready() })(), { code: 'FST_DEPENDS_INVALID' })
})

test('a body schema given per content type is validated as Fastify does', async (t) => {
  const app = await build(t)
  const plain = depends(() => 'x')
  app.post('/', {
    dependencies: { plain },
    schema: { body: { content: { 'application/json': { schema: { type: 'object', properties: { a: { type: 'integer' } }, required: ['a'] } } } } }
  }, async (request) => ({ body: request.body, deps: request.deps }))
  t.equal((await app.inject({ method: 'POST', url: '/', payload: {} })).statusCode, 400)
  t.same((await app.inject({ method: 'POST', url: '/', payload: { a: '2' } })).json(), { body: { a: 2 }, deps: { plain: 'x' } })
})

test('a route whose own headers schema is a boolean schema keeps working', async (t) => {
  const app = await build(t)
  const plain = depends(() => 'x')
  app.get('/', { dependencies: { plain }, schema: { headers: true as never } }, async (request) => request.deps)
  t.same((await app.inject('/')).json(), { plain: 'x' })
})

test('a custom validator compiler\'s error and value are honoured for parameters an override brings', async (t) => {
  const app = await build(t)
  app.setValidatorCompiler(() => (data: unknown) => {
    const n = Number((data as { n?: string }).n)
    return Number.isInteger(n) ? { value: { n: n * 2 } } : { error: new Error('n is not an integer') }
  })
  const plain = depends(() => 'plain', { name: 'plain' })
  app.get('/', { dependencies: { value: plain } }, async (request) => request.deps)
  await app.ready()
  app.dependencyOverrides.set(plain as Dependency, depends({ n: Query('n', Type.Integer()) }, ({ n }) => n))
  const invalid = await app.inject('/?n=x')
  t.same(invalid.json(), { statusCode: 400, code: 'FST_ERR_VALIDATION', error: 'Bad Request', message: 'n is not an integer' })
  t.same((await app.inject('/?n=21')).json(), { value: 42 }, 'the compiler\'s value replaces the query')
})
