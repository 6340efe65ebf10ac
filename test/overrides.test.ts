import { test } from 'tap'
import type { FastifyReply, FastifyRequest } from 'fastify'
import { build, EventLog } from './helpers'
import { depends, Depends, Security, type Dependency } from '../lib/index'

test('dependencyOverrides is a Map decorated on the instance, empty at first', async (t) => {
  const app = await build(t)
  t.ok(app.dependencyOverrides instanceof Map)
  t.equal(app.dependencyOverrides.size, 0)
  t.equal(app.dependencyOverrides.version, 0)
})

test('set() after ready() takes effect on the next request; delete() and clear() restore the original', async (t) => {
  const app = await build(t)
  const getDb = depends(() => 'real-db', { name: 'getDb' })
  app.get('/x', { dependencies: { db: getDb } }, async (request) => ({ db: request.deps.db }))
  await app.ready()

  t.same((await app.inject('/x')).json(), { db: 'real-db' })
  app.dependencyOverrides.set(getDb, depends(() => 'test-db'))
  t.same((await app.inject('/x')).json(), { db: 'test-db' })
  t.equal(app.dependencyOverrides.delete(getDb), true)
  t.same((await app.inject('/x')).json(), { db: 'real-db' })
  app.dependencyOverrides.set(getDb, depends(() => 'other-db'))
  t.same((await app.inject('/x')).json(), { db: 'other-db' })
  app.dependencyOverrides.clear()
  t.equal(app.dependencyOverrides.size, 0)
  t.same((await app.inject('/x')).json(), { db: 'real-db' })
})

test('an override applies deep in the tree and the original never runs', async (t) => {
  const app = await build(t)
  const events = new EventLog()
  const getDb = depends(() => { events.record('getDb'); return 'real-db' }, { name: 'getDb' })
  const repo = depends({ db: getDb }, ({ db }) => `repo(${db})`, { name: 'repo' })
  const service = depends({ repo }, ({ repo }) => `service(${repo})`, { name: 'service' })
  app.get('/x', { dependencies: { service } }, async (request) => ({ service: request.deps.service }))
  app.dependencyOverrides.set(getDb, depends(() => { events.record('testDb'); return 'test-db' }))

  const res = await app.inject('/x')
  t.equal(res.statusCode, 200)
  t.same(res.json(), { service: 'service(repo(test-db))' })
  t.same(events.list(), ['testDb'])
})

test('overrides apply to plugin-option and addDependencies dependencies', async (t) => {
  const events = new EventLog()
  const appLevel = depends(() => { events.record('appLevel') }, { name: 'appLevel' })
  const routerLevel = depends(() => { events.record('routerLevel') }, { name: 'routerLevel' })
  const app = await build(t, { dependencies: [appLevel] })
  await app.register(async (child) => {
    child.addDependencies([routerLevel])
    child.get('/x', async () => { events.record('handler'); return 'ok' })
  })
  await app.ready()

  await app.inject('/x')
  t.same(events.list(), ['appLevel', 'routerLevel', 'handler'])

  events.length = 0
  app.dependencyOverrides.set(appLevel, depends(() => { events.record('appLevel:replacement') }))
  app.dependencyOverrides.set(routerLevel, depends(() => { events.record('routerLevel:replacement') }))
  const res = await app.inject('/x')
  t.equal(res.statusCode, 200)
  t.same(events.list(), ['appLevel:replacement', 'routerLevel:replacement', 'handler'])
})

test('a plain function replacement is taken as depends(fn) and receives the context', async (t) => {
  const app = await build(t)
  const getUser = depends(() => 'real-user', { name: 'getUser' })
  app.get('/x', { dependencies: { user: getUser } }, async (request) => ({ user: request.deps.user }))
  app.dependencyOverrides.set(getUser as Dependency, (inputs, { request }) => ({
    inputs, fake: request.headers['x-user']
  }))

  const res = await app.inject({ url: '/x', headers: { 'x-user': 'alice' } })
  t.equal(res.statusCode, 200)
  t.same(res.json(), { user: { inputs: {}, fake: 'alice' } })
})

test("the replacement's inputs are resolved and looked up in the overrides too (B65)", async (t) => {
  const app = await build(t)
  const events = new EventLog()
  const orig = depends(() => { events.record('orig'); return 'orig' }, { name: 'orig' })
  const sub = depends(() => { events.record('sub'); return 'sub' }, { name: 'sub' })
  const replacement = depends({ s: sub }, ({ s }) => { events.record('replacement'); return `replacement+${s}` })
  const subReplacement = depends(() => { events.record('subReplacement'); return 'subrepl' })
  app.get('/x', { dependencies: { value: orig } }, async (request) => ({ value: request.deps.value }))
  await app.ready()

  app.dependencyOverrides.set(orig, replacement)
  t.same((await app.inject('/x')).json(), { value: 'replacement+sub' })
  t.same(events.list(), ['sub', 'replacement'])

  events.length = 0
  app.dependencyOverrides.set(sub, subReplacement)
  t.same((await app.inject('/x')).json(), { value: 'replacement+subrepl' })
  t.same(events.list(), ['subReplacement', 'replacement'])
})

test("the replacement sees the original's security scopes (B66)", async (t) => {
  const app = await build(t)
  const orig = depends(() => 'orig', { name: 'orig', usesScopes: true })
  const current = depends({ token: Security(orig, ['bar']) }, ({ token }) => token, { name: 'current' })
  app.get('/direct', { dependencies: { user: Security(orig, ['foo', 'bar']) } }, async (request) => request.deps.user)
  app.get('/nested', { dependencies: { user: Security(current, ['foo']) } }, async (request) => request.deps.user)
  app.dependencyOverrides.set(orig as Dependency, depends((_, { securityScopes }) => ({
    scopes: securityScopes.scopes, scopeStr: securityScopes.scopeStr
  })))

  t.same((await app.inject('/direct')).json(), { scopes: ['foo', 'bar'], scopeStr: 'foo bar' })
  t.same((await app.inject('/nested')).json(), { scopes: ['foo', 'bar'], scopeStr: 'foo bar' })
})

test("the replacement keeps the original's cache key: needed twice, it runs once per request", async (t) => {
  const app = await build(t)
  const events = new EventLog()
  const orig = depends(() => 'orig', { name: 'orig' })
  const a = depends({ o: orig }, ({ o }) => `a(${o})`, { name: 'a' })
  const b = depends({ o: orig }, ({ o }) => `b(${o})`, { name: 'b' })
  app.get('/x', { dependencies: { a, b, o: orig } }, async (request) => request.deps)
  let calls = 0
  app.dependencyOverrides.set(orig, () => { calls++; events.record('replacement'); return `repl${calls}` })

  t.same((await app.inject('/x')).json(), { a: 'a(repl1)', b: 'b(repl1)', o: 'repl1' })
  t.same(events.list(), ['replacement'])
})

test("the replacement keeps the original's useCache: false and the use site's useCache: false", async (t) => {
  const app = await build(t)
  const uncached = depends(() => 'orig', { name: 'uncached', useCache: false })
  const cached = depends(() => 'orig', { name: 'cached' })
  app.get('/declared', { dependencies: { a: uncached, b: uncached } }, async (request) => request.deps)
  app.get('/use-site', { dependencies: { a: cached, b: Depends(cached, { useCache: false }) } }, async (request) => request.deps)
  let calls = 0
  const counting = depends(() => ++calls)
  app.dependencyOverrides.set(uncached as Dependency, counting)
  app.dependencyOverrides.set(cached as Dependency, counting)

  t.same((await app.inject('/declared')).json(), { a: 1, b: 2 })
  t.same((await app.inject('/use-site')).json(), { a: 3, b: 4 })
})

test("a generator replacement is cleaned up, in the original's scope", async (t) => {
  const app = await build(t)
  const events = new EventLog()
  const requestScoped = depends(() => 'orig', { name: 'requestScoped' })
  const functionScoped = depends(function * () { yield 'orig' }, { name: 'functionScoped', scope: 'function' })
  const onSend = (_request: FastifyRequest, _reply: FastifyReply, payload: unknown, done: (err: null, payload: unknown) => void): void => {
    events.record('onSend')
    done(null, payload)
  }
  app.get('/request', { dependencies: { v: requestScoped }, onSend }, async (request) => {
    events.record('handler')
    return { v: request.deps.v }
  })
  app.get('/function', { dependencies: { v: functionScoped }, onSend }, async (request) => {
    events.record('handler')
    return { v: request.deps.v }
  })
  app.dependencyOverrides.set(requestScoped, depends(async function * () {
    events.record('repl:enter')
    yield 'repl'
    events.record('repl:exit')
  }))
  app.dependencyOverrides.set(functionScoped, depends(async function * () {
    events.record('repl:enter')
    yield 'repl'
    events.record('repl:exit')
  }))

  t.same((await app.inject('/request')).json(), { v: 'repl' })
  await events.until('repl:exit')
  t.same(events.list(), ['repl:enter', 'handler', 'onSend', 'repl:exit'])

  events.length = 0
  t.same((await app.inject('/function')).json(), { v: 'repl' })
  t.same(events.list(), ['repl:enter', 'handler', 'repl:exit', 'onSend'])
})

test('set() with a key that is not a dependency, or a replacement that is neither a function nor a dependency, throws FST_DEPENDS_INVALID', async (t) => {
  const app = await build(t)
  const dep = depends(() => 'dep', { name: 'dep' })
  const overrides = app.dependencyOverrides as unknown as Map<unknown, unknown>
  t.throws(() => overrides.set(() => 'dep', dep), { code: 'FST_DEPENDS_INVALID' })
  t.throws(() => overrides.set('dep', dep), { code: 'FST_DEPENDS_INVALID' })
  t.throws(() => overrides.set(Depends(dep), dep), { code: 'FST_DEPENDS_INVALID' })
  t.throws(() => overrides.set(dep, 'replacement'), { code: 'FST_DEPENDS_INVALID' })
  t.throws(() => overrides.set(dep, { value: 1 }), { code: 'FST_DEPENDS_INVALID' })
  t.throws(() => overrides.set(dep, Depends(dep)), { code: 'FST_DEPENDS_INVALID' })
  t.throws(() => overrides.set(dep, undefined), { code: 'FST_DEPENDS_INVALID' })
  t.equal(app.dependencyOverrides.size, 0)
  t.equal(app.dependencyOverrides.version, 0)
})

test('version increments on each change', async (t) => {
  const app = await build(t)
  const a = depends(() => 'a', { name: 'a' })
  const b = depends(() => 'b', { name: 'b' })
  const overrides = app.dependencyOverrides
  t.equal(overrides.version, 0)
  overrides.set(a, () => 'a1')
  t.equal(overrides.version, 1)
  overrides.set(a, () => 'a2')
  t.equal(overrides.version, 2)
  overrides.set(b, () => 'b1')
  t.equal(overrides.version, 3)
  overrides.delete(a)
  t.equal(overrides.version, 4)
  overrides.clear()
  t.equal(overrides.version, 5)
})

test('an override creating a cycle throws FST_DEPENDS_CYCLE from set() after ready(), and changes nothing', async (t) => {
  const app = await build(t)
  const a = depends(() => 'a', { name: 'a' })
  const b = depends({ a }, ({ a }) => `b(${a})`, { name: 'b' })
  app.get('/x', { dependencies: { b } }, async (request) => ({ b: request.deps.b }))
  await app.ready()

  const err = (() => {
    try {
      app.dependencyOverrides.set(a, b)
    } catch (err) {
      return err as Error & { code?: string }
    }
  })()
  t.equal(err?.code, 'FST_DEPENDS_CYCLE')
  t.match(err?.message, 'GET /x')
  t.equal(app.dependencyOverrides.size, 0)
  t.equal(app.dependencyOverrides.has(a), false)
  t.same((await app.inject('/x')).json(), { b: 'b(a)' })

  // A previous replacement survives a rejected one.
  const a2 = depends(() => 'a2')
  app.dependencyOverrides.set(a, a2)
  t.throws(() => app.dependencyOverrides.set(a, b), { code: 'FST_DEPENDS_CYCLE' })
  t.equal(app.dependencyOverrides.size, 1)
  t.equal(app.dependencyOverrides.get(a), a2)
  t.same((await app.inject('/x')).json(), { b: 'b(a2)' })
})

test('an override creating a cycle set before ready() makes ready() reject with FST_DEPENDS_CYCLE', async (t) => {
  const app = await build(t)
  const a = depends(() => 'a', { name: 'a' })
  const b = depends({ a }, ({ a }) => `b(${a})`, { name: 'b' })
  app.dependencyOverrides.set(a, b)
  await app.register(async (child) => {
    child.get('/x', { dependencies: { b } }, async (request) => ({ b: request.deps.b }))
  })

  await t.rejects(async () => { await app.ready() }, { code: 'FST_DEPENDS_CYCLE', message: /GET \/x/ })
})
