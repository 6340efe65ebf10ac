import { test, type Test } from 'tap'
import { build } from '../helpers'
import { depends, Depends, Security, httpError, OAuth2PasswordBearer } from '../../lib/index'

// Ported from FastAPI's tests/test_dependency_cache.py, tests/test_security_scopes.py and
// tests/test_security_scopes_sub_dependency.py: per-request caching, useCache: false, and the
// cache key's security scopes.

/** A counter dependency shared by several routes of one app, like the module-level counter there. */
function counterDependency () {
  const holder = { counter: 0 }
  const depCounter = depends(() => ++holder.counter, { name: 'depCounter' })
  const superDep = depends({ count: depCounter }, ({ count }) => count, { name: 'superDep' })
  return { holder, depCounter, superDep }
}

// ported from tests/test_dependency_cache.py test_normal_counter
test('a dependency runs once per request and a new request starts with an empty cache', async (t) => {
  const app = await build(t)
  const { holder, depCounter } = counterDependency()
  app.get('/counter/', { dependencies: { counter: depCounter } }, async (request) => request.deps)

  const first = await app.inject('/counter/')
  t.equal(first.statusCode, 200)
  t.same(first.json(), { counter: 1 })
  t.same((await app.inject('/counter/')).json(), { counter: 2 })
  t.equal(holder.counter, 2)
})

// ported from tests/test_dependency_cache.py test_sub_counter
test('a dependency needed by a sub-dependency and by the route runs once and both get its value', async (t) => {
  const app = await build(t)
  const { holder, depCounter, superDep } = counterDependency()
  app.get('/sub-counter/', { dependencies: { subcounter: superDep, counter: depCounter } }, async (request) => request.deps)

  t.same((await app.inject('/sub-counter/')).json(), { subcounter: 1, counter: 1 })
  t.same((await app.inject('/sub-counter/')).json(), { subcounter: 2, counter: 2 })
  t.equal(holder.counter, 2)
})

// ported from tests/test_dependency_cache.py test_sub_counter_no_cache
test('useCache: false at the route runs the dependency again after the sub-dependency cached it', async (t) => {
  const app = await build(t)
  const { holder, depCounter, superDep } = counterDependency()
  app.get('/sub-counter-no-cache/', {
    dependencies: { subcounter: superDep, counter: Depends(depCounter, { useCache: false }) }
  }, async (request) => request.deps)

  t.same((await app.inject('/sub-counter-no-cache/')).json(), { subcounter: 1, counter: 2 })
  t.same((await app.inject('/sub-counter-no-cache/')).json(), { subcounter: 3, counter: 4 })
  t.equal(holder.counter, 4)
})

// ported from tests/test_dependency_cache.py test_security_cache
test('Security() with scopes caches apart from the same dependency without scopes; equal scopes share a value', async (t) => {
  const app = await build(t)
  const { holder, depCounter } = counterDependency()
  app.get('/scope-counter', {
    dependencies: {
      counter: Security(depCounter),
      scopeCounter1: Security(depCounter, ['scope']),
      scopeCounter2: Security(depCounter, ['scope'])
    }
  }, async (request) => request.deps)

  t.same((await app.inject('/scope-counter')).json(), { counter: 1, scopeCounter1: 2, scopeCounter2: 2 })
  t.same((await app.inject('/scope-counter')).json(), { counter: 3, scopeCounter1: 4, scopeCounter2: 4 })
  t.equal(holder.counter, 4)
})

// ported from tests/test_security_scopes.py test_security_scopes_dependency_called_once
test('a dependency that does not use scopes is shared between a plain use and a use below Security()', async (t) => {
  const app = await build(t)
  let count = 0
  const getDb = depends(() => `db_${++count}`, { name: 'getDb' })
  const getUser = depends({ db: getDb }, () => 'user', { name: 'getUser' })
  app.get('/', { dependencies: { db: getDb, user: Security(getUser, ['read']) } }, async (request) => ({ db: request.deps.db }))

  const res = await app.inject('/')
  t.equal(res.statusCode, 200)
  t.same(res.json(), { db: 'db_1' })
  t.equal(count, 1)
})

// ported from tests/test_security_scopes_sub_dependency.py test_security_scopes_sub_dependency_caching
test('dependencies reached with different scopes run once per scope set; those that ignore scopes run once', async (t) => {
  const app = await build(t)
  const calls = { getDbSession: 0, getCurrentUser: 0, getUserMe: 0, getUserItems: 0 }
  const getDbSession = depends(() => `db_session_${++calls.getDbSession}`, { name: 'getDbSession' })
  const getCurrentUser = depends({ dbSession: getDbSession }, ({ dbSession }, { securityScopes }) => ({
    user: `user_${++calls.getCurrentUser}`,
    scopes: securityScopes.scopes,
    db_session: dbSession
  }), { name: 'getCurrentUser', usesScopes: true })
  const getUserMe = depends({ currentUser: Security(getCurrentUser, ['me']) }, ({ currentUser }) => ({
    user_me: `user_me_${++calls.getUserMe}`,
    current_user: currentUser
  }), { name: 'getUserMe' })
  const getUserItems = depends({ userMe: getUserMe }, ({ userMe }) => ({
    user_items: `user_items_${++calls.getUserItems}`,
    user_me: userMe
  }), { name: 'getUserItems' })
  app.get('/', {
    dependencies: { user_me: getUserMe, user_items: Security(getUserItems, ['items']) }
  }, async (request) => request.deps)

  const res = await app.inject('/')
  t.equal(res.statusCode, 200)
  t.same(calls, { getDbSession: 1, getCurrentUser: 2, getUserMe: 2, getUserItems: 1 })
  t.same(res.json(), {
    user_me: {
      user_me: 'user_me_1',
      current_user: { user: 'user_1', scopes: ['me'], db_session: 'db_session_1' }
    },
    user_items: {
      user_items: 'user_items_1',
      user_me: {
        user_me: 'user_me_2',
        current_user: { user: 'user_2', scopes: ['items', 'me'], db_session: 'db_session_1' }
      }
    }
  })
})

// Ported from FastAPI's tests/test_dependency_paramless.py and tests/test_security_scopes_dont_propagate.py.
// FastAPI's `SecurityScopes` parameter is `ctx.securityScopes` (declared with `usesScopes: true`);
// its `{"detail": ...}` is Fastify's error body `message`.

async function paramlessApp (t: Test) {
  const oauth2Scheme = OAuth2PasswordBearer({ tokenUrl: 'token' })
  const processAuth = depends({ credentials: Security(oauth2Scheme) }, ({ credentials }, { securityScopes }) => {
    if (!securityScopes.scopes.includes('a') || !securityScopes.scopes.includes('b')) {
      throw httpError(401, 'a or b not in scopes')
    }
    return { token: credentials, scopes: securityScopes.scopes }
  }, { name: 'processAuth', usesScopes: true })
  const app = await build(t)
  app.get('/get-credentials', { dependencies: { credentials: Security(processAuth, ['a', 'b']) } }, async (request) => request.deps.credentials)
  app.get('/parameterless-with-scopes', { dependencies: [Security(processAuth, ['a', 'b'])] }, async () => ({ status: 'ok' }))
  app.get('/parameterless-without-scopes', { dependencies: [Security(processAuth)] }, async () => ({ status: 'ok' }))
  return app
}

const bearer = { authorization: 'Bearer token' }

// ported from tests/test_dependency_paramless.py test_get_credentials
test('a named Security() dependency gets its scopes and the token of the scheme below it', async (t) => {
  const app = await paramlessApp(t)
  const res = await app.inject({ url: '/get-credentials', headers: bearer })
  t.equal(res.statusCode, 200)
  t.same(res.json(), { token: 'token', scopes: ['a', 'b'] })
})

// ported from tests/test_dependency_paramless.py test_parameterless_with_scopes
test('Security() in the array form passes its scopes down too', async (t) => {
  const app = await paramlessApp(t)
  const res = await app.inject({ url: '/parameterless-with-scopes', headers: bearer })
  t.equal(res.statusCode, 200)
  t.same(res.json(), { status: 'ok' })
})

// ported from tests/test_dependency_paramless.py test_parameterless_without_scopes
test('Security() without scopes in the array form passes none', async (t) => {
  const app = await paramlessApp(t)
  const res = await app.inject({ url: '/parameterless-without-scopes', headers: bearer })
  t.equal(res.statusCode, 401)
  t.same(res.json(), { statusCode: 401, error: 'Unauthorized', message: 'a or b not in scopes' })
})

// ported from tests/test_security_scopes_dont_propagate.py test_security_scopes_dont_propagate
test('scopes flow down from the route, never across to a sibling', async (t) => {
  const app = await build(t)
  const security1 = depends((_inputs, { securityScopes }) => securityScopes.scopes, { name: 'security1', usesScopes: true })
  const security2 = depends((_inputs, { securityScopes }) => securityScopes.scopes, { name: 'security2', usesScopes: true })
  const dep3 = depends({ dep1: Security(security1, ['scope1']), dep2: Security(security2, ['scope2']) }, (values) => values, { name: 'dep3' })
  app.get('/scopes', { dependencies: { dep3: Security(dep3, ['scope3']) } }, async (request) => request.deps.dep3)
  const res = await app.inject('/scopes')
  t.equal(res.statusCode, 200)
  t.same(res.json(), { dep1: ['scope3', 'scope1'], dep2: ['scope3', 'scope2'] })
})
