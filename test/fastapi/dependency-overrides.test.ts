import { Type } from '@sinclair/typebox'
import type { FastifyInstance } from 'fastify'
import { test, type Test } from 'tap'
import { build } from '../helpers'
import { depends, Depends, Security, Query, type Dependency } from '../../lib/index'

// Ported from FastAPI's tests/test_dependency_overrides.py and tests/test_dependency_security_overrides.py.
// Overrides drive validation: a route validates the parameters of its effective tree (DESIGN §7).
// FastAPI's 422 with `detail` is Fastify's 400 FST_ERR_VALIDATION; its APIRouter is an
// encapsulation context.

function missing (name: string) {
  return { statusCode: 400, code: 'FST_ERR_VALIDATION', error: 'Bad Request', message: `querystring must have required property '${name}'` }
}

const commonParameters = depends({
  q: Query('q', Type.String()),
  skip: Query('skip', Type.Integer({ default: 0 })),
  limit: Query('limit', Type.Integer({ default: 100 }))
}, (params) => params, { name: 'commonParameters' })

const overriderDependencySimple = depends({ q: Query('q', Type.Optional(Type.String())) },
  ({ q }) => ({ q: q ?? null, skip: 5, limit: 10 }), { name: 'overriderDependencySimple' })
const overriderSubDependency = depends({ k: Query('k', Type.String()) }, ({ k }) => ({ k }), { name: 'overriderSubDependency' })
const overriderDependencyWithSub = depends({ msg: Depends(overriderSubDependency) }, ({ msg }) => msg, { name: 'overriderDependencyWithSub' })

/** FastAPI's app: two routes at the root, two in an included router. */
async function overridesApp (t: Test) {
  const app = await build(t)
  app.get('/main-depends/', { dependencies: { commons: commonParameters } }, async (request) => ({ in: 'main-depends', params: request.deps.commons }))
  app.get('/decorator-depends/', { dependencies: [commonParameters] }, async () => ({ in: 'decorator-depends' }))
  await app.register(async (router) => {
    router.get('/router-depends/', { dependencies: { commons: commonParameters } }, async (request) => ({ in: 'router-depends', params: request.deps.commons }))
    router.get('/router-decorator-depends/', { dependencies: [commonParameters] }, async () => ({ in: 'router-decorator-depends' }))
  })
  await app.ready()
  return app
}

async function get (app: FastifyInstance, url: string) {
  const res = await app.inject(url)
  return [res.statusCode, res.json()]
}

const routes: Array<[string, boolean]> = [
  ['main-depends', true],
  ['decorator-depends', false],
  ['router-depends', true],
  ['router-decorator-depends', false]
]

for (const [route, hasParams] of routes) {
  const name = route.replace(/-/g, '_')
  const ok = (params: unknown) => hasParams ? { in: route, params } : { in: route }

  // ported from tests/test_dependency_overrides.py test_main_depends, test_decorator_depends, test_router_depends, test_router_decorator_depends
  test(`test_${name}: the dependency's required query parameter is validated on /${route}/`, async (t) => {
    const app = await overridesApp(t)
    t.same(await get(app, `/${route}/`), [400, missing('q')])
  })

  // ported from tests/test_dependency_overrides.py test_main_depends_q_foo (and the decorator/router variants)
  test(`test_${name}_q_foo: defaults fill the optional parameters on /${route}/`, async (t) => {
    const app = await overridesApp(t)
    t.same(await get(app, `/${route}/?q=foo`), [200, ok({ q: 'foo', skip: 0, limit: 100 })])
  })

  // ported from tests/test_dependency_overrides.py test_main_depends_q_foo_skip_100_limit_200 (and the decorator/router variants)
  test(`test_${name}_q_foo_skip_100_limit_200: given parameters are coerced to integers on /${route}/`, async (t) => {
    const app = await overridesApp(t)
    t.same(await get(app, `/${route}/?q=foo&skip=100&limit=200`), [200, ok({ q: 'foo', skip: 100, limit: 200 })])
  })

  // ported from tests/test_dependency_overrides.py test_override_with_sub_main_depends (and the decorator/router variants)
  test(`test_override_with_sub_${name}: an override whose sub-dependency needs "k" makes /${route}/ require it`, async (t) => {
    const app = await overridesApp(t)
    app.dependencyOverrides.set(commonParameters as Dependency, overriderDependencyWithSub)
    t.same(await get(app, `/${route}/`), [400, missing('k')])
  })

  // ported from tests/test_dependency_overrides.py test_override_with_sub__main_depends_q_foo (and the decorator/router variants)
  test(`test_override_with_sub_${name}_q_foo: the original's "q" no longer satisfies /${route}/ under the override`, async (t) => {
    const app = await overridesApp(t)
    app.dependencyOverrides.set(commonParameters as Dependency, overriderDependencyWithSub)
    t.same(await get(app, `/${route}/?q=foo`), [400, missing('k')])
  })

  // ported from tests/test_dependency_overrides.py test_override_with_sub_main_depends_k_bar (and the decorator/router variants)
  test(`test_override_with_sub_${name}_k_bar: with "k" the override's value is used on /${route}/`, async (t) => {
    const app = await overridesApp(t)
    app.dependencyOverrides.set(commonParameters as Dependency, overriderDependencyWithSub)
    t.same(await get(app, `/${route}/?k=bar`), [200, ok({ k: 'bar' })])
    app.dependencyOverrides.clear()
    t.same(await get(app, `/${route}/?k=bar`), [400, missing('q')], 'clearing the overrides restores the original parameters')
  })
}

const simpleCases: Array<[string, unknown]> = [
  ['/main-depends/', { in: 'main-depends', params: { q: null, skip: 5, limit: 10 } }],
  ['/main-depends/?q=foo', { in: 'main-depends', params: { q: 'foo', skip: 5, limit: 10 } }],
  ['/main-depends/?q=foo&skip=100&limit=200', { in: 'main-depends', params: { q: 'foo', skip: 5, limit: 10 } }],
  ['/decorator-depends/', { in: 'decorator-depends' }],
  ['/router-depends/', { in: 'router-depends', params: { q: null, skip: 5, limit: 10 } }],
  ['/router-depends/?q=foo', { in: 'router-depends', params: { q: 'foo', skip: 5, limit: 10 } }],
  ['/router-depends/?q=foo&skip=100&limit=200', { in: 'router-depends', params: { q: 'foo', skip: 5, limit: 10 } }],
  ['/router-decorator-depends/', { in: 'router-decorator-depends' }]
]

// ported from tests/test_dependency_overrides.py test_override_simple (8 parametrized cases)
test('test_override_simple: an override that makes "q" optional serves every route without it', async (t) => {
  const app = await overridesApp(t)
  app.dependencyOverrides.set(commonParameters as Dependency, overriderDependencySimple)
  for (const [url, expected] of simpleCases) {
    t.same(await get(app, url), [200, expected], url)
  }
})

test('an override set before ready() drives validation from the first request', async (t) => {
  const app = await build(t)
  app.dependencyOverrides.set(commonParameters as Dependency, overriderDependencyWithSub)
  app.get('/main-depends/', { dependencies: { commons: commonParameters } }, async (request) => request.deps.commons)
  t.same(await get(app, '/main-depends/?q=foo'), [400, missing('k')])
  t.same(await get(app, '/main-depends/?k=bar'), [200, { k: 'bar' }])
})

/** tests/test_dependency_security_overrides.py */
async function securityApp (t: Test) {
  const getUser = depends((_inputs, { securityScopes }) => ['john', securityScopes.scopes] as const, { name: 'getUser', usesScopes: true })
  const getData = depends(() => [1, 2, 3], { name: 'getData' })
  const app = await build(t)
  app.get('/user', { dependencies: { userData: Security(getUser, ['foo', 'bar']), data: getData } }, async (request) => {
    const [user, scopes] = request.deps.userData as readonly [string, string[]]
    return { user, scopes, data: request.deps.data }
  })
  await app.ready()
  return { app, getUser, getData }
}

// ported from tests/test_dependency_security_overrides.py test_normal
test('a dependency reached with Security() sees its scopes', async (t) => {
  const { app } = await securityApp(t)
  t.same((await app.inject('/user')).json(), { user: 'john', scopes: ['foo', 'bar'], data: [1, 2, 3] })
})

// ported from tests/test_dependency_security_overrides.py test_override_data
test('a plain function overrides a plain dependency next to a Security() one', async (t) => {
  const { app, getData } = await securityApp(t)
  app.dependencyOverrides.set(getData, () => [3, 4, 5])
  t.same((await app.inject('/user')).json(), { user: 'john', scopes: ['foo', 'bar'], data: [3, 4, 5] })
})

// ported from tests/test_dependency_security_overrides.py test_override_security
test('the override of a Security() dependency receives the original\'s scopes', async (t) => {
  const { app, getUser } = await securityApp(t)
  app.dependencyOverrides.set(getUser as Dependency, (_inputs, { securityScopes }) => ['alice', securityScopes.scopes])
  t.same((await app.inject('/user')).json(), { user: 'alice', scopes: ['foo', 'bar'], data: [1, 2, 3] })
  app.dependencyOverrides.clear()
  t.same((await app.inject('/user')).json(), { user: 'john', scopes: ['foo', 'bar'], data: [1, 2, 3] })
})
