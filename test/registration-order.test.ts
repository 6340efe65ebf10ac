import Fastify, { type FastifyInstance, type FastifyPluginAsync, type RouteOptions } from 'fastify'
import { test, type Test } from 'tap'
import { EventLog, readyError, type CodedError } from './helpers'
import fastifyDepends, { depends, DependencyNotRegisteredError, type Dependency } from '../lib/index'
import { guardInstance } from '../lib/compile/registration-guard'

const FIX = 'Register the plugin before the routes, and await it: await app.register(fastifyDepends)'

function notRegistered (routes: string): string {
  return `These routes were declared before fastify-depends was registered in their context (or a parent), so they would run without their dependencies: ${routes}. ${FIX}`
}

function app (t: Test): FastifyInstance {
  const instance = Fastify()
  t.after(() => instance.close())
  return instance
}

function recorded (events: EventLog, name: string): Dependency<string> {
  return depends(() => { events.record(name); return name }, { name })
}

async function assertNotRegistered (t: Test, instance: FastifyInstance, routes: string): Promise<void> {
  const err = await readyError(instance)
  t.ok(err instanceof DependencyNotRegisteredError, 'a DependencyNotRegisteredError')
  t.equal(err?.code, 'FST_DEPENDS_NOT_REGISTERED')
  t.equal(err?.message, notRegistered(routes))
}

/** What a request to a route answers once ready() failed (Fastify then skips ready() for inject()). */
async function answerAfterFailedReady (instance: FastifyInstance, url: string): Promise<unknown> {
  await readyError(instance)
  const res = await instance.inject(url)
  return { statusCode: res.statusCode, code: res.json().code, message: res.json().message }
}

test('the plugin registered without await, then a route with dependencies at once: ready() fails naming the route', async (t) => {
  const events = new EventLog()
  const instance = app(t)
  instance.register(fastifyDepends)
  instance.get('/me', { dependencies: { user: recorded(events, 'currentUser') } }, async () => { events.record('handler'); return 'ran without its dependencies' })
  await assertNotRegistered(t, instance, 'GET /me, HEAD /me')
  t.same(await answerAfterFailedReady(instance, '/me'), {
    statusCode: 500, code: 'FST_DEPENDS_NOT_REGISTERED', message: notRegistered('GET /me')
  }, 'its requests fail: the route never runs without its dependencies')
  t.same(events.list(), [])
})

test('a plugin declaring routes registered before fastify-depends: ready() fails naming its routes with their prefix', async (t) => {
  const events = new EventLog()
  const guard = recorded(events, 'guard')
  const routes: FastifyPluginAsync = async (scope) => {
    scope.post('/items', { dependencies: [guard] }, async () => 'unguarded')
    scope.delete('/items/:id', { dependencies: { guard } }, async () => 'unguarded')
    scope.get('/open', async () => 'open')
  }
  const instance = app(t)
  instance.register(routes, { prefix: '/v1' })
  instance.register(fastifyDepends)
  await assertNotRegistered(t, instance, 'POST /v1/items, DELETE /v1/items/:id')
  t.same(events.list(), [])
})

test('routes with dependencies and the plugin never registered: ready() fails naming them', async (t) => {
  const instance = app(t)
  const events = new EventLog()
  instance.route({ method: ['PUT', 'PATCH'], url: '/settings', dependencies: [recorded(events, 'admin')], handler: async () => 'unguarded' })
  instance.register(async (child) => {
    child.get('/nested', { exposeHeadRoute: false, dependencies: { admin: recorded(events, 'admin') } }, async () => 'unguarded')
  })
  await assertNotRegistered(t, instance, 'PUT,PATCH /settings, GET /nested')
  t.same(events.list(), [])
})

test('the plugin registered in one context does not cover routes with dependencies in a sibling context', async (t) => {
  const instance = app(t)
  const events = new EventLog()
  instance.register(async (withPlugin) => {
    await withPlugin.register(fastifyDepends)
    withPlugin.get('/covered', { dependencies: [recorded(events, 'a')] }, async () => 'ok')
  })
  instance.register(async (sibling) => {
    sibling.get('/sibling', { exposeHeadRoute: false, dependencies: [recorded(events, 'b')] }, async () => 'unguarded')
  })
  await assertNotRegistered(t, instance, 'GET /sibling')
})

test('the plugin registered after routes of its own context: its plugin-level dependencies would be skipped, so ready() fails', async (t) => {
  const instance = app(t)
  const events = new EventLog()
  instance.get('/health', { exposeHeadRoute: false }, async () => 'skipped the check')
  await instance.register(fastifyDepends, { dependencies: [recorded(events, 'checkApiVersion')] })
  instance.get('/later', async () => 'ok')
  await assertNotRegistered(t, instance, 'GET /health')
})

test('addDependencies() on a context whose routes were declared before the plugin: ready() fails naming them', async (t) => {
  const instance = app(t)
  const events = new EventLog()
  instance.get('/early', { exposeHeadRoute: false }, async () => 'skipped the guard')
  await instance.register(fastifyDepends)
  instance.addDependencies([recorded(events, 'tenantGuard')])
  await assertNotRegistered(t, instance, 'GET /early')
})

test('a long list names the first ten routes and counts the others', async (t) => {
  const instance = app(t)
  const guard = recorded(new EventLog(), 'guard')
  for (let i = 0; i < 12; i++) instance.get(`/r${i}`, { exposeHeadRoute: false, dependencies: [guard] }, async () => 'unguarded')
  instance.register(fastifyDepends)
  await assertNotRegistered(t, instance, '/r0 /r1 /r2 /r3 /r4 /r5 /r6 /r7 /r8 /r9'.split(' ').map((url) => `GET ${url}`).join(', ') + ' and 2 more')
})

test('the plugin registered twice still fails with FST_DEPENDS_INVALID, the first registration covering the routes', async (t) => {
  const instance = app(t)
  await instance.register(fastifyDepends)
  instance.register(fastifyDepends)
  instance.get('/x', { dependencies: [depends(() => 1)] }, async () => 'ok')
  const err = await readyError(instance)
  t.equal(err?.code, 'FST_DEPENDS_INVALID')
  t.equal(err?.message, 'fastify-depends is already registered on this instance; register it once, at the root')
})

test('correct orders run every dependency: awaited, in order inside register(), in after(), in a later plugin', async (t) => {
  const events = new EventLog()
  const user = recorded(events, 'user')
  const orders: Array<[string, (instance: FastifyInstance) => void | Promise<void>]> = [
    ['awaited', async (instance) => {
      await instance.register(fastifyDepends)
      instance.get('/x', { dependencies: { user } }, async (request) => request.deps)
    }],
    ['after()', (instance) => {
      instance.register(fastifyDepends).after(() => {
        instance.get('/x', { dependencies: { user } }, async (request) => request.deps)
      })
    }],
    ['a plugin registered after it', (instance) => {
      instance.register(fastifyDepends)
      instance.register(async (scope) => { scope.get('/x', { dependencies: { user } }, async (request) => request.deps) })
    }],
    ['a route without dependencies declared before it', async (instance) => {
      instance.get('/plain', async () => 'plain')
      await instance.register(fastifyDepends)
      instance.get('/x', { dependencies: { user } }, async (request) => request.deps)
    }]
  ]
  for (const [label, setup] of orders) {
    const instance = app(t)
    await setup(instance)
    await instance.ready()
    const res = await instance.inject('/x')
    t.same([res.statusCode, res.json()], [200, { user: 'user' }], label)
    t.equal((await instance.inject({ method: 'HEAD', url: '/x' })).statusCode, 200, `${label}: HEAD`)
  }
  t.same(events.list(), ['user', 'user', 'user', 'user', 'user', 'user', 'user', 'user'])
})

test('an app without the plugin starts and answers: no dependencies, empty dependencies, routes before a plugin with none', async (t) => {
  const instance = app(t)
  instance.get('/plain', async () => 'plain')
  instance.get('/empty-list', { dependencies: [] }, async () => 'empty list')
  instance.get('/empty-record', { dependencies: {} }, async () => 'empty record')
  await instance.ready()
  t.equal((await instance.inject('/plain')).body, 'plain')
  t.equal((await instance.inject('/empty-list')).body, 'empty list')
  t.equal((await instance.inject('/empty-record')).body, 'empty record')
})

test('the guard leaves nothing on a route\'s request path: not on plain routes, and not once the plugin compiled a route', async (t) => {
  const instance = app(t)
  const final = new Map<string, unknown>()
  const own = function ownHook (_request: unknown, _reply: unknown, done: () => void): void { done() }
  instance.get('/before', { exposeHeadRoute: false }, async () => 'plain')
  instance.get('/own-hook-before', { exposeHeadRoute: false, onRequest: own }, async () => 'plain')
  // an application's onRoute hook that replaces onRequest before the plugin sees the route
  instance.addHook('onRoute', (options: RouteOptions) => { if (options.url === '/replaced') options.onRequest = own })
  await instance.register(fastifyDepends)
  // registered last, so it sees the options Fastify registers
  instance.addHook('onRoute', (options: RouteOptions) => { final.set(options.url, options.onRequest) })
  instance.get('/plain', { exposeHeadRoute: false }, async () => 'plain')
  instance.get('/compiled', { exposeHeadRoute: false, dependencies: [depends(() => 1)] }, async () => 'ok')
  instance.get('/compiled-own', { exposeHeadRoute: false, onRequest: [own], dependencies: [depends(() => 1)] }, async () => 'ok')
  instance.get('/compiled-one', { exposeHeadRoute: false, onRequest: own, dependencies: [depends(() => 1)] }, async () => 'ok')
  instance.get('/replaced', { exposeHeadRoute: false, dependencies: [depends(() => 1)] }, async () => 'ok')
  await instance.ready()
  t.same([...final], [['/plain', undefined], ['/compiled', undefined], ['/compiled-own', [own]], ['/compiled-one', [own]], ['/replaced', own]])
  t.equal((await instance.inject('/replaced')).body, 'ok')
})

test('an instance guarded a second time (as by a second copy of the package) is watched once', async (t) => {
  const instance = app(t)
  guardInstance(instance)
  await instance.register(fastifyDepends)
  instance.get('/x', { dependencies: { one: depends(() => 1) } }, async (request) => request.deps)
  await instance.ready()
  t.same((await instance.inject('/x')).json(), { one: 1 })

  const broken = app(t)
  guardInstance(broken)
  broken.get('/x', { exposeHeadRoute: false, dependencies: [depends(() => 1)] }, async () => 'unguarded')
  const err = await readyError(broken) as CodedError
  t.equal(err.code, 'FST_DEPENDS_NOT_REGISTERED')
  t.equal(err.message, notRegistered('GET /x'))
})
