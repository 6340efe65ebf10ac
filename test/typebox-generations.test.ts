import formbody from '@fastify/formbody'
import { TypeBoxValidatorCompiler, type TypeBoxTypeProvider } from '@fastify/type-provider-typebox'
import { TypeBoxValidatorCompiler as LegacyValidatorCompiler } from '@fastify/type-provider-typebox-legacy'
import { Type as LegacyType } from '@sinclair/typebox'
import { test } from 'tap'
import { Type } from 'typebox'
import { build } from './helpers'
import { Query, Header, Cookie, Path, Body, OAuth2PasswordRequestForm } from '../lib/index'

function badRequest (message: string) {
  return { statusCode: 400, code: 'FST_ERR_VALIDATION', error: 'Bad Request', message }
}

test('typebox 1.x schemas are validated and coerced by Fastify\'s default compiler', async (t) => {
  const app = await build(t)
  app.post('/:id', {
    dependencies: {
      id: Path('id', Type.Integer()),
      limit: Query('limit', Type.Integer({ minimum: 1, default: 20 })),
      trace: Header('x-trace', Type.Optional(Type.String())),
      n: Cookie('n', Type.Integer()),
      name: Body('name', Type.String())
    }
  }, async (request) => request.deps)
  const ok = await app.inject({ method: 'POST', url: '/3?limit=5', headers: { cookie: 'n=7' }, payload: { name: 'a' } })
  t.equal(ok.statusCode, 200)
  t.strictSame(ok.json(), { id: 3, limit: 5, n: 7, name: 'a' })
  const defaulted = await app.inject({ method: 'POST', url: '/3', headers: { cookie: 'n=7', 'x-trace': 't' }, payload: { name: 'a' } })
  t.strictSame(defaulted.json(), { id: 3, limit: 20, trace: 't', n: 7, name: 'a' })
  const bad = await app.inject({ method: 'POST', url: '/3?limit=0', headers: { cookie: 'n=7' }, payload: { name: 'a' } })
  t.strictSame(bad.json(), badRequest('querystring/limit must be >= 1'))
})

test('with @fastify/type-provider-typebox 6 and its TypeBoxValidatorCompiler, a valid ?limit=5 is coerced and an invalid one refused', async (t) => {
  const app = (await build(t)).withTypeProvider<TypeBoxTypeProvider>()
  app.setValidatorCompiler(TypeBoxValidatorCompiler)
  app.get('/items/:id', {
    dependencies: {
      id: Path('id', Type.Integer()),
      limit: Query('limit', Type.Integer({ minimum: 1, maximum: 100 })),
      session: Cookie('session', Type.String({ minLength: 3 }))
    }
  }, async (request) => request.deps)
  const headers = { cookie: 'session=abcd' }
  const ok = await app.inject({ url: '/items/4?limit=5', headers })
  t.equal(ok.statusCode, 200)
  t.strictSame(ok.json(), { id: 4, limit: 5, session: 'abcd' })
  const tooMany = await app.inject({ url: '/items/4?limit=500', headers })
  t.equal(tooMany.statusCode, 400)
  t.match(tooMany.json(), { code: 'FST_ERR_VALIDATION', message: /^querystring/ })
  const notNumber = await app.inject({ url: '/items/4?limit=x', headers })
  t.equal(notNumber.statusCode, 400)
  const shortCookie = await app.inject({ url: '/items/4?limit=5', headers: { cookie: 'session=a' } })
  t.equal(shortCookie.statusCode, 400)
  t.match(shortCookie.json(), { code: 'FST_ERR_VALIDATION', message: /^cookies/ })
})

test('a route mixing both TypeBox generations validates under Fastify\'s default compiler; each generation under its own TypeBox compiler', async (t) => {
  const mixed = await build(t)
  mixed.get('/', { dependencies: { a: Query('a', Type.Integer()), b: Query('b', LegacyType.Integer()) } }, async (request) => request.deps)
  t.strictSame((await mixed.inject('/?a=1&b=2')).json(), { a: 1, b: 2 })
  t.equal((await mixed.inject('/?a=1&b=x')).statusCode, 400)
  for (const [label, compiler, integer] of [['typebox 1.x', TypeBoxValidatorCompiler, Type.Integer()], ['0.34', LegacyValidatorCompiler, LegacyType.Integer()]] as const) {
    const app = await build(t)
    app.setValidatorCompiler(compiler as never)
    app.get('/', { dependencies: { a: Query('a', integer), b: Header('x-b', integer) } }, async (request) => request.deps)
    t.strictSame((await app.inject({ url: '/?a=1', headers: { 'x-b': '2' } })).json(), { a: 1, b: 2 }, label)
    t.equal((await app.inject({ url: '/?a=x', headers: { 'x-b': '2' } })).statusCode, 400, label)
  }
})

test('the OAuth2 password form validates under Ajv and both TypeBox validator compilers', async (t) => {
  for (const [label, compiler] of [['ajv', undefined], ['typebox 1.x compiler', TypeBoxValidatorCompiler], ['0.34 compiler', LegacyValidatorCompiler]] as const) {
    const app = await build(t)
    await app.register(formbody)
    if (compiler !== undefined) app.setValidatorCompiler(compiler as never)
    app.post('/token', { dependencies: { form: OAuth2PasswordRequestForm } }, async (request) => request.deps.form)
    const ok = await app.inject({ method: 'POST', url: '/token', payload: 'username=alice&password=pw&scope=me%20items', headers: { 'content-type': 'application/x-www-form-urlencoded' } })
    t.equal(ok.statusCode, 200, label)
    t.strictSame(ok.json(), { username: 'alice', password: 'pw', scopes: ['me', 'items'] }, label)
    const missing = await app.inject({ method: 'POST', url: '/token', payload: 'username=alice', headers: { 'content-type': 'application/x-www-form-urlencoded' } })
    t.equal(missing.statusCode, 400, label)
    const badGrant = await app.inject({ method: 'POST', url: '/token', payload: 'grant_type=nope&username=a&password=b', headers: { 'content-type': 'application/x-www-form-urlencoded' } })
    t.equal(badGrant.statusCode, 400, label)
  }
})

test('a whole body of typebox 1.x is validated, and its schema is the route\'s body', async (t) => {
  const app = await build(t)
  const item = Type.Object({ name: Type.String(), price: Type.Number({ minimum: 0 }) })
  app.post('/items', { dependencies: { item: Body(item) } }, async (request) => request.deps.item)
  const ok = await app.inject({ method: 'POST', url: '/items', payload: { name: 'x', price: 2 } })
  t.strictSame(ok.json(), { name: 'x', price: 2 })
  const bad = await app.inject({ method: 'POST', url: '/items', payload: { name: 'x', price: -1 } })
  t.strictSame(bad.json(), badRequest('body/price must be >= 0'))
})
