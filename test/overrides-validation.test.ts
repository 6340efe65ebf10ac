import { test } from 'tap'
import { Type } from '@sinclair/typebox'
import { build } from './helpers'
import { depends, Query, Header, Cookie, Body, type Dependency } from '../lib/index'

// ported from tests/test_dependency_overrides.py (validation follows the effective tree, DESIGN §7)

function badRequest (message: string) {
  return { statusCode: 400, code: 'FST_ERR_VALIDATION', error: 'Bad Request', message }
}

const commonParameters = depends({
  q: Query('q', Type.String()),
  skip: Query('skip', Type.Integer({ default: 0 })),
  limit: Query('limit', Type.Integer({ default: 100 }))
}, (params) => params, { name: 'commonParameters' })

test('an override that drops a required query parameter stops the route from requiring it; clearing restores it', async (t) => {
  const app = await build(t)
  app.get('/main-depends', { dependencies: { params: commonParameters } }, async (request) => request.deps)
  await app.ready()
  t.same((await app.inject('/main-depends')).json(), badRequest("querystring must have required property 'q'"))

  app.dependencyOverrides.set(commonParameters as Dependency, depends({ q: Query('q', Type.Optional(Type.String())) }, ({ q }) => ({ q: q ?? null, skip: 5, limit: 10 })))
  const overridden = await app.inject('/main-depends')
  t.equal(overridden.statusCode, 200)
  t.same(overridden.json(), { params: { q: null, skip: 5, limit: 10 } })

  app.dependencyOverrides.clear()
  t.same((await app.inject('/main-depends')).json(), badRequest("querystring must have required property 'q'"))
  t.same((await app.inject('/main-depends?q=foo')).json(), { params: { q: 'foo', skip: 0, limit: 100 } })
})

test('an override whose own inputs need a new parameter answers 400 when it is missing, and coerces it when present', async (t) => {
  const app = await build(t)
  app.get('/main-depends', { dependencies: { params: commonParameters } }, async (request) => request.deps)
  app.get('/decorator-depends', { dependencies: [commonParameters] }, async () => ({ in: 'decorator-depends' }))
  await app.ready()
  const sub = depends({ k: Query('k', Type.Integer()) }, ({ k }) => k, { name: 'overriderSubDependency' })
  app.dependencyOverrides.set(commonParameters as Dependency, depends({ k: sub }, ({ k }) => ({ k })))

  t.same((await app.inject('/main-depends?q=foo')).json(), badRequest("querystring must have required property 'k'"))
  t.same((await app.inject('/main-depends?k=x')).json(), badRequest('querystring/k must be integer'))
  t.same((await app.inject('/main-depends?k=5')).json(), { params: { k: 5 } })
  t.same((await app.inject('/decorator-depends')).json(), badRequest("querystring must have required property 'k'"))
  t.same((await app.inject('/decorator-depends?k=5')).json(), { in: 'decorator-depends' })
})

test('overrides drive validation for plugin-level and addDependencies-level dependencies too', async (t) => {
  const appLevel = depends({ token: Header('x-token', Type.String()) }, () => {}, { name: 'appLevel' })
  const routerLevel = depends({ q: Query('q', Type.String()) }, () => {}, { name: 'routerLevel' })
  const app = await build(t, { dependencies: [appLevel] })
  await app.register(async (router) => {
    router.addDependencies([routerLevel])
    router.get('/router', async () => 'ok')
  })
  await app.ready()
  t.equal((await app.inject('/router?q=1')).statusCode, 400, 'the app-level header is required')
  t.equal((await app.inject({ url: '/router', headers: { 'x-token': 't' } })).statusCode, 400, 'the router-level query is required')

  app.dependencyOverrides.set(appLevel, () => {})
  app.dependencyOverrides.set(routerLevel, () => {})
  t.equal((await app.inject('/router')).statusCode, 200)
})

test('a parameter an override brings to a route that had none of that kind is validated by the plugin', async (t) => {
  const app = await build(t)
  const plain = depends(() => 'plain', { name: 'plain' })
  app.post('/plain', { dependencies: { value: plain } }, async (request) => request.deps)
  await app.ready()
  app.dependencyOverrides.set(plain, depends({
    n: Query('n', Type.Integer()),
    session: Cookie('session', Type.String({ minLength: 2 })),
    name: Body('name', Type.String())
  }, ({ n, session, name }) => `${n} ${session} ${name}`))

  t.same((await app.inject({ method: 'POST', url: '/plain?n=1', payload: { name: 'x' } })).json(), badRequest("cookies must have required property 'session'"))
  t.same((await app.inject({ method: 'POST', url: '/plain?n=x', headers: { cookie: 'session=ab' }, payload: { name: 'x' } })).json(), badRequest('querystring/n must be integer'))
  t.same((await app.inject({ method: 'POST', url: '/plain?n=2', headers: { cookie: 'session=ab' }, payload: {} })).json(), badRequest("body must have required property 'name'"))
  t.same((await app.inject({ method: 'POST', url: '/plain?n=2', headers: { cookie: 'session=ab' }, payload: { name: 'x' } })).json(), { value: '2 ab x' })
  app.dependencyOverrides.delete(plain)
  t.same((await app.inject({ method: 'POST', url: '/plain' })).json(), { value: 'plain' })
})

test('an override whose parameter conflicts with the route throws FST_DEPENDS_PARAM_CONFLICT from set() and changes nothing', async (t) => {
  const app = await build(t)
  const a = depends({ q: Query('q', Type.String()) }, ({ q }) => q, { name: 'a' })
  const b = depends(() => 'b', { name: 'b' })
  app.get('/', { dependencies: { a, b } }, async (request) => request.deps)
  await app.ready()
  t.throws(() => app.dependencyOverrides.set(b as Dependency, depends({ q: Query('q', Type.Integer()) }, ({ q }) => q)), { code: 'FST_DEPENDS_PARAM_CONFLICT' })
  t.equal(app.dependencyOverrides.size, 0)
  t.same((await app.inject('/?q=x')).json(), { a: 'x', b: 'b' })
})

test('an override set before ready() is validated from the start', async (t) => {
  const app = await build(t)
  app.get('/main-depends', { dependencies: { params: commonParameters } }, async (request) => request.deps)
  app.dependencyOverrides.set(commonParameters as Dependency, () => ({ fixed: true }))
  t.same((await app.inject('/main-depends')).json(), { params: { fixed: true } })
})

test('header parameters of the route keep working with mixed-case names in its own schema', async (t) => {
  const app = await build(t)
  const token = depends({ t: Header('X-Token', Type.String()) }, ({ t }) => t)
  app.get('/', {
    dependencies: { token },
    schema: { headers: { type: 'object', properties: { 'X-Trace': { type: 'string' } }, required: ['X-Trace'] } }
  }, async (request) => request.deps)
  t.equal((await app.inject({ url: '/', headers: { 'x-token': 'a' } })).statusCode, 400)
  t.same((await app.inject({ url: '/', headers: { 'x-token': 'a', 'x-trace': 'b' } })).json(), { token: 'a' })
})
