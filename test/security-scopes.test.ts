import swagger from '@fastify/swagger'
import type { FastifyInstance } from 'fastify'
import { test } from 'tap'
import { build, EventLog } from './helpers'
import {
  depends, Depends, Security, OAuth2PasswordBearer, APIKeyHeader,
  type Dependency, type DependencyLike
} from '../lib/index'

/** A dependency that records `name:[scopes]|scopeStr` and provides its scopes. */
function recorder (events: EventLog, name: string, inputs: Record<string, DependencyLike<any>> = {}): Dependency<string[]> {
  return depends(inputs, (_values, { securityScopes }) => {
    events.record(`${name}:${JSON.stringify(securityScopes.scopes)}|${securityScopes.scopeStr}`)
    return [...securityScopes.scopes]
  }, { name, usesScopes: true })
}

/** Counts how often the Authorization header is read (each scheme run reads it once). */
function countAuthorizationReads (app: FastifyInstance): () => number {
  let reads = 0
  app.addHook('onRequest', (request, _reply, done) => {
    const value = request.headers.authorization
    Object.defineProperty(request.raw.headers, 'authorization', {
      get () { reads++; return value },
      enumerable: true,
      configurable: true
    })
    done()
  })
  return () => reads
}

test('scopes accumulate parent first without duplicates; Depends passes them on unchanged (B82)', async (t) => {
  const app = await build(t)
  const events = new EventLog()
  const leaf = recorder(events, 'leaf')
  const inner = recorder(events, 'inner', { leaf: Depends(leaf) })
  const outer = recorder(events, 'outer', { inner: Security(inner, ['a', 'b']) })
  app.get('/', { dependencies: { outer: Security(outer, ['a']) } }, async (request) => request.deps)
  const res = await app.inject('/')
  t.equal(res.statusCode, 200)
  t.strictSame(res.json(), { outer: ['a'] })
  t.strictSame(events.list(), ['leaf:["a","b"]|a b', 'inner:["a","b"]|a b', 'outer:["a"]|a'])
})

test('a dependency under Security(items) that declares Security(me) hands ["items","me"] down (B84)', async (t) => {
  const app = await build(t)
  const events = new EventLog()
  const getCurrentUser = recorder(events, 'getCurrentUser')
  const getUserMe = recorder(events, 'getUserMe', { user: Security(getCurrentUser, ['me']) })
  const getUserItems = recorder(events, 'getUserItems', { me: Depends(getUserMe) })
  app.get('/', { dependencies: { items: Security(getUserItems, ['items']) } }, async () => 'ok')
  t.equal((await app.inject('/')).statusCode, 200)
  t.strictSame(events.list(), [
    'getCurrentUser:["items","me"]|items me',
    'getUserMe:["items"]|items',
    'getUserItems:["items"]|items'
  ])
})

test('siblings never see each other\'s scopes (B83)', async (t) => {
  const app = await build(t)
  const events = new EventLog()
  const security1 = recorder(events, 'security1')
  const security2 = recorder(events, 'security2')
  const dep3 = depends({ dep1: Security(security1, ['scope1']), dep2: Security(security2, ['scope2']) }, (values) => values, { name: 'dep3' })
  app.get('/', { dependencies: { dep3: Security(dep3, ['scope3']), alone: security1 } }, async (request) => request.deps)
  const res = await app.inject('/')
  t.strictSame(res.json(), { dep3: { dep1: ['scope3', 'scope1'], dep2: ['scope3', 'scope2'] }, alone: [] })
  t.strictSame(events.list(), ['security1:["scope3","scope1"]|scope3 scope1', 'security2:["scope3","scope2"]|scope3 scope2', 'security1:[]|'])
})

test('plugin-option, addDependencies and route list entries pass their own scopes down three levels (B85)', async (t) => {
  const events = new EventLog()
  const level3 = recorder(events, 'level3')
  const level2 = recorder(events, 'level2', { l3: Depends(level3) })
  const level1 = recorder(events, 'level1', { l2: Security(level2, ['l2']) })
  const app = await build(t, { dependencies: [Security(level1, ['app'])] })
  const contextDep = recorder(events, 'context', { l3: Security(level3, ['ctx-leaf']) })
  const routeDep = recorder(events, 'route')
  const plain = recorder(events, 'plain')
  await app.register(async (scope) => {
    scope.addDependencies([Security(contextDep, ['ctx'])])
    scope.get('/', { dependencies: [Security(routeDep, ['route', 'route']), Security(plain)] }, async (request) => request.deps)
  })
  const res = await app.inject('/')
  t.equal(res.statusCode, 200)
  t.strictSame(res.json(), {})
  t.strictSame(events.list(), [
    'level3:["app","l2"]|app l2',
    'level2:["app","l2"]|app l2',
    'level1:["app"]|app',
    'level3:["ctx","ctx-leaf"]|ctx ctx-leaf',
    'context:["ctx"]|ctx',
    'route:["route"]|route',
    'plain:[]|'
  ])
})

test('a scheme reached with distinct scope sets runs once per set; a plain dependency below them runs once (B28, B29)', async (t) => {
  const app = await build(t)
  const reads = countAuthorizationReads(app)
  const events = new EventLog()
  const oauth2 = OAuth2PasswordBearer({ tokenUrl: '/token' })
  const db = depends(() => { events.record('db'); return 'db' }, { name: 'db' })
  const user = depends({ token: oauth2, db }, ({ token }, { securityScopes }) => {
    events.record(`user:${securityScopes.scopeStr}`)
    return `${token}:${securityScopes.scopeStr}`
  }, { name: 'user' })
  app.get('/', {
    dependencies: {
      me: Security(user, ['me']),
      items: Security(user, ['items', 'me']),
      sameSet: Security(user, ['me', 'items']),
      none: Depends(user),
      again: Security(user, ['me'])
    }
  }, async (request) => request.deps)
  const res = await app.inject({ url: '/', headers: { authorization: 'Bearer tok' } })
  t.equal(res.statusCode, 200)
  t.strictSame(res.json(), { me: 'tok:me', items: 'tok:items me', sameSet: 'tok:items me', none: 'tok:', again: 'tok:me' })
  t.equal(reads(), 3, 'the scheme ran for ["me"], ["items","me"] and []')
  t.strictSame(events.list(), ['db', 'user:me', 'user:items me', 'user:'])
})

test('a plain dependency reached with Security(dep) and Security(dep, scopes) runs once per distinct own scope set (B28)', async (t) => {
  const app = await build(t)
  let calls = 0
  const counter = depends(() => ++calls, { name: 'counter' })
  app.get('/', {
    dependencies: { counter: Security(counter), scopeCounter1: Security(counter, ['scope']), scopeCounter2: Security(counter, ['scope']) }
  }, async (request) => request.deps)
  t.strictSame((await app.inject('/')).json(), { counter: 1, scopeCounter1: 2, scopeCounter2: 2 })
})

test('an overridden scheme: the replacement runs with the original\'s scopes and nothing rejects in onRequest', async (t) => {
  const app = await build(t)
  const reads = countAuthorizationReads(app)
  const events = new EventLog()
  const oauth2 = OAuth2PasswordBearer({ tokenUrl: '/token' })
  const user = depends({ token: oauth2 }, ({ token }) => ({ token }), { name: 'user' })
  app.post('/', { dependencies: { user: Security(user, ['me']) } }, async (request) => {
    events.record('handler')
    return request.deps
  })
  await app.ready()

  app.dependencyOverrides.set(oauth2, depends((_inputs, { securityScopes }) => {
    events.record(`fake:${securityScopes.scopeStr}`)
    return 'fake-token'
  }, { name: 'fakeToken' }))
  for (const headers of [{}, { authorization: 'Basic nope' }]) {
    const res = await app.inject({ method: 'POST', url: '/', headers, payload: { any: 'body' } })
    t.equal(res.statusCode, 200)
    t.equal(res.headers['www-authenticate'], undefined)
    t.strictSame(res.json(), { user: { token: 'fake-token' } })
  }
  t.strictSame(events.list(), ['fake:me', 'handler', 'fake:me', 'handler'])
  t.equal(reads(), 0, 'the original scheme never read the header')

  app.dependencyOverrides.delete(oauth2)
  const res = await app.inject({ method: 'POST', url: '/', payload: { any: 'body' } })
  t.equal(res.statusCode, 401)
  t.equal(res.headers['www-authenticate'], 'Bearer')
  t.equal(events.length, 4, 'neither the replacement nor the handler ran')
})

test('a scheme overridden by another scheme answers with the replacement\'s challenge', async (t) => {
  const app = await build(t)
  const oauth2 = OAuth2PasswordBearer({ tokenUrl: '/token' })
  app.dependencyOverrides.set(oauth2, APIKeyHeader({ name: 'X-Key' }))
  app.get('/', { dependencies: { token: Security(oauth2, ['me']) } }, async (request) => request.deps)
  const missing = await app.inject({ url: '/', headers: { authorization: 'Bearer tok' } })
  t.equal(missing.statusCode, 401)
  t.equal(missing.headers['www-authenticate'], 'APIKey')
  t.strictSame((await app.inject({ url: '/', headers: { 'x-key': 'k' } })).json(), { token: 'k' })
})

test('OpenAPI keeps documenting the original scheme and its scopes while it is overridden', async (t) => {
  const app = await build(t)
  await app.register(swagger, { openapi: { info: { title: 't', version: '1' } } })
  const oauth2 = OAuth2PasswordBearer({ tokenUrl: '/token', scopes: { me: 'Me' } })
  const user = depends({ token: oauth2 }, ({ token }) => token, { name: 'user' })
  app.get('/me', { dependencies: { user: Security(user, ['me']) } }, async (request) => request.deps)
  app.dependencyOverrides.set(oauth2, depends(() => 'fake', { name: 'fake' }))
  await app.ready()
  t.strictSame((await app.inject('/me')).json(), { user: 'fake' })
  const document = app.swagger() as unknown as {
    components: { securitySchemes: Record<string, unknown> }
    paths: Record<string, Record<string, { security?: unknown }>>
  }
  t.strictSame(document.components.securitySchemes, {
    OAuth2PasswordBearer: { type: 'oauth2', flows: { password: { scopes: { me: 'Me' }, tokenUrl: '/token' } } }
  })
  t.strictSame(document.paths['/me'].get.security, [{ OAuth2PasswordBearer: ['me'] }])
})
