import diagnosticsChannel from 'node:diagnostics_channel'
import { setTimeout as sleep } from 'node:timers/promises'
import { Type } from '@sinclair/typebox'
import Fastify from 'fastify'
import { test } from 'tap'
import { build, EventLog, logCollector, readyError } from './helpers'
import fastifyDepends, { APIKeyHeader, depends, Depends, Query, type DependencyTraceContext } from '../lib/index'

// App-scoped dependencies (DESIGN §13): started during ready() in dependency order, one value for
// every request, finalized at close() after the requests' cleanups and before onClose hooks.

/** An app-scoped generator that records `name:start` and `name:end` (or `name:saw <message>`). */
function resource (events: EventLog, name: string, inputs: Record<string, ReturnType<typeof depends>> = {}, delay = 0) {
  return depends(inputs, async function * (values) {
    if (delay > 0) await sleep(delay)
    events.record(`${name}:start${Object.keys(values).length > 0 ? ` (${Object.keys(values).join(', ')})` : ''}`)
    try {
      yield { name, inputs: values }
      events.record(`${name}:end`)
    } catch (err) {
      events.record(`${name}:saw ${(err as Error).message}`)
      throw err
    }
  }, { name, scope: 'app' })
}

test('started during ready() in dependency order, once; every request shares the value; finalized newest first at close(), after in-flight cleanups and before every onClose hook', async (t) => {
  const events = new EventLog()
  const config = resource(events, 'config')
  const pool = resource(events, 'pool', { config })
  const cache = resource(events, 'cache', { config })
  const getDb = depends({ pool }, async function * getDb ({ pool }) {
    events.record('getDb:enter')
    yield pool
    await sleep(20)
    events.record('getDb:exit')
  })
  const app = Fastify()
  app.addHook('onClose', async () => { events.record('onClose (registered before)') })
  await app.register(fastifyDepends)
  app.addHook('onClose', async () => { events.record('onClose (registered after)') })
  let values = 0
  app.get('/', { dependencies: { db: getDb, cache } }, async (request) => {
    values++
    return { pool: request.deps.db.name, cache: request.deps.cache.name }
  })
  events.record('declared')
  await app.ready()
  events.record('ready')
  t.same(events.list(), ['declared', 'config:start', 'pool:start (config)', 'cache:start (config)', 'ready'])

  const answers = await Promise.all(Array.from({ length: 100 }, () => app.inject('/')))
  t.ok(answers.every((res) => res.statusCode === 200 && res.body === '{"pool":"pool","cache":"cache"}'))
  t.equal(values, 100)
  t.equal(events.list().filter((event) => event.endsWith(':start') || event.includes(':start ')).length, 3, 'each started once')

  // Their request-scoped cleanups run after the responses.
  while (events.list().filter((event) => event === 'getDb:exit').length < 100) await sleep(5)
  events.length = 0
  const inFlight = app.inject('/')
  await events.until('getDb:enter')
  await app.close()
  await inFlight
  t.same(events.list(), ['getDb:enter', 'getDb:exit', 'cache:end', 'pool:end', 'config:end', 'onClose (registered after)', 'onClose (registered before)'])
})

test('a failing start fails ready() with its error, naming the dependency; those already started are finalized newest first', async (t) => {
  const events = new EventLog()
  const logs = logCollector()
  const first = resource(events, 'first')
  const second = resource(events, 'second', { first })
  const broken = depends({ second }, async function * broken () {
    events.record('broken:start')
    throw new Error('cannot connect')
  }, { scope: 'app' })
  const app = await build(t, {}, { logger: { level: 'error', stream: logs.stream } })
  app.get('/', { dependencies: { broken } }, async () => 'never')
  const err = await readyError(app) as Error & { dependency?: string }
  t.equal(err?.message, 'cannot connect')
  t.equal(err?.dependency, 'broken')
  t.same(events.list(), ['first:start', 'second:start (first)', 'broken:start', 'second:end', 'first:end'])
  t.match(logs.lines, [{ level: 50, dependency: 'broken', msg: 'fastify-depends: the app-scoped dependency "broken" failed to start' }])
})

test('the failure names the dependency that failed, also below another one; a value that cannot carry the name, or a thrown string, is passed on as it is', async (t) => {
  const inner = depends(async () => { throw new Error('inner failed') }, { name: 'inner', scope: 'app' })
  const outer = depends({ inner }, () => 'outer', { name: 'outer', scope: 'app' })
  const app = await build(t)
  app.get('/', { dependencies: { outer } }, async () => 'x')
  const err = await readyError(app) as Error & { dependency?: string }
  t.same([err?.message, err?.dependency], ['inner failed', 'inner'])

  for (const thrown of [Object.preventExtensions({ code: 'SEALED' }), 'a string']) {
    const logs = logCollector()
    const stubborn = depends(() => { throw thrown }, { name: 'stubborn', scope: 'app' })
    const app2 = await build(t, {}, { logger: { level: 'error', stream: logs.stream } })
    app2.get('/', { dependencies: { stubborn } }, async () => 'x')
    t.equal(await readyError(app2), thrown)
    t.match(logs.lines, [{ dependency: 'stubborn', msg: 'fastify-depends: the app-scoped dependency "stubborn" failed to start' }])
  }
})

test('close() while resolveDependency() is starting one: it is finalized as soon as it started, and the call fails', async (t) => {
  const events = new EventLog()
  const slow = resource(events, 'slow', {}, 30)
  const app = await build(t)
  await app.ready()
  const pending = app.resolveDependency(slow).catch((err: Error & { code: string }) => err)
  await app.close()
  t.match(await pending, { code: 'FST_DEPENDS_INVALID', message: 'The app-scoped dependency "slow" cannot start: the app is closing' })
  t.same(events.list(), ['slow:start', 'slow:end'])
  const slowInput = resource(events, 'slowInput', {}, 30)
  const user = resource(events, 'user', { slowInput })
  const app2 = await build(t)
  await app2.ready()
  events.length = 0
  const pending2 = app2.resolveDependency(user).catch((err: Error & { code: string }) => err)
  await app2.close()
  t.match(await pending2, { message: 'The app-scoped dependency "slowInput" cannot start: the app is closing' })
  t.same(events.list(), ['slowInput:start', 'slowInput:end'], 'the input was finalized, the dependency above it never started')
})

test('scope rules at registration: an app-scoped dependency takes only app-scoped inputs (FST_DEPENDS_SCOPE), no useCache: false, no cycle', async (t) => {
  const requestGenerator = depends(function * currentUser () { yield 'user' })
  const functionGenerator = depends(function * session () { yield 'session' }, { scope: 'function' })
  const plain = depends(() => 'plain', { name: 'settings' })
  const appPlain = depends(() => 'app settings', { name: 'appSettings', scope: 'app' })
  const cases: Array<[string, unknown, string, string]> = [
    ['a request-scoped generator', depends({ user: requestGenerator }, () => 1, { name: 'pool', scope: 'app' }), 'FST_DEPENDS_SCOPE',
      'The dependency "pool" has a scope of "app", it cannot depend on "currentUser" with scope "request".'],
    ['a function-scoped generator', depends({ session: functionGenerator }, () => 1, { name: 'pool', scope: 'app' }), 'FST_DEPENDS_SCOPE',
      'The dependency "pool" has a scope of "app", it cannot depend on "session" with scope "function".'],
    ['a plain dependency', depends({ settings: plain }, () => 1, { name: 'pool', scope: 'app' }), 'FST_DEPENDS_SCOPE',
      'The dependency "pool" has a scope of "app", it cannot depend on "settings" with scope "request".'],
    ['a parameter', depends({ limit: Query('limit', Type.Integer()) }, () => 1, { name: 'pool', scope: 'app' }), 'FST_DEPENDS_SCOPE',
      'The dependency "pool" has a scope of "app", it cannot depend on "Query(limit)" with scope "request".'],
    ['a parameter made app-scoped', { limit: Depends(Query('limit', Type.Integer()), { scope: 'app' }) }, 'FST_DEPENDS_SCOPE',
      'The dependency "Query(limit)" is a request parameter: it reads the request, so it cannot have a scope of "app".'],
    ['a scheme made app-scoped', { key: Depends(APIKeyHeader({ name: 'x-key' }), { scope: 'app' }) }, 'FST_DEPENDS_SCOPE',
      'The dependency "APIKeyHeader" is a security scheme: it reads the request, so it cannot have a scope of "app".'],
    ['useCache: false', { settings: Depends(appPlain, { useCache: false }) }, 'FST_DEPENDS_INVALID',
      'The app-scoped dependency "appSettings" is used with useCache: false; an app-scoped dependency has one value for the whole app'],
    ['useCache: false on an input', depends({ settings: Depends(appPlain, { useCache: false }) }, () => 1, { name: 'pool', scope: 'app' }), 'FST_DEPENDS_INVALID',
      'The app-scoped dependency "appSettings" is used with useCache: false; an app-scoped dependency has one value for the whole app']
  ]
  for (const [label, dependencies, code, message] of cases) {
    const app = await build(t)
    const list = typeof dependencies === 'object' && dependencies !== null && !('name' in dependencies) ? dependencies : { dependency: dependencies }
    app.get('/', { dependencies: list as never }, async () => 'x')
    const err = await readyError(app)
    t.equal(err?.code, code, label)
    t.equal(err?.message, message, label)
  }
  // A cycle, through overrides (a dependency cannot name itself as an input otherwise).
  const a = depends(() => 'a', { name: 'a', scope: 'app' })
  const b = depends({ a }, () => 'b', { name: 'b', scope: 'app' })
  const app = await build(t)
  app.dependencyOverrides.set(a, depends({ b }, () => 'a2', { name: 'a2', scope: 'app' }))
  app.get('/', { dependencies: { b } }, async () => 'x')
  const err = await readyError(app)
  t.equal(err?.code, 'FST_DEPENDS_CYCLE')
  t.equal(err?.message, 'Dependency cycle among app-scoped dependencies: "b" -> "a2" -> "b"')
})

test('request- and function-scoped dependencies use app-scoped ones; `Depends(dep, { scope: "app" })` makes one app-scoped; ctx is { app, log }', async (t) => {
  const seen: unknown[] = []
  const settings = depends((_inputs, ctx) => {
    seen.push(Object.keys(ctx).sort())
    return { at: Date.now(), app: (ctx as unknown as { app: unknown }).app }
  }, { name: 'settings' })
  const session = depends({ settings: Depends(settings, { scope: 'app' }) }, function * session ({ settings }) { yield settings.at }, { scope: 'function' })
  const app = await build(t)
  app.get('/', { dependencies: { session, again: Depends(settings, { scope: 'app' }) } }, async (request) => ({ same: request.deps.session === request.deps.again.at, app: request.deps.again.app === app }))
  t.same((await app.inject('/')).json(), { same: true, app: true })
  t.same((await app.inject('/')).json(), { same: true, app: true })
  t.same(seen, [['app', 'log']], 'started once, with { app, log }')
})

test('app.resolveDependency(): after ready(), a route\'s value or one no route uses (started then, finalized at close()); coded errors otherwise', async (t) => {
  const events = new EventLog()
  const used = resource(events, 'used')
  const unused = resource(events, 'unused', { used })
  const app = await build(t)
  app.get('/', { dependencies: { used } }, async () => 'x')
  const early = await app.resolveDependency(used).catch((err: Error & { code: string }) => err)
  t.match(early, { code: 'FST_DEPENDS_INVALID', message: 'resolveDependency("used") was called before ready(): app-scoped dependencies start during ready(); await app.ready() first' })
  await app.ready()
  t.same(events.list(), ['used:start'])
  t.equal((await app.resolveDependency(used)).name, 'used')
  const value = await app.resolveDependency(unused)
  t.same(value.name, 'unused')
  t.same(events.list(), ['used:start', 'unused:start (used)'])
  const notApp = await app.resolveDependency(depends(() => 1, { name: 'plain' })).catch((err: Error & { code: string }) => err)
  t.match(notApp, { code: 'FST_DEPENDS_INVALID', message: 'resolveDependency() takes an app-scoped dependency (scope: "app"), got "plain" with scope "request"' })
  const notADependency = await app.resolveDependency(42 as never).catch((err: Error & { code: string }) => err)
  t.match(notADependency, { code: 'FST_DEPENDS_INVALID', message: 'resolveDependency() takes an app-scoped dependency (scope: "app"), got number 42' })
  await app.close()
  t.same(events.list(), ['used:start', 'unused:start (used)', 'unused:end', 'used:end'])
  const late = await app.resolveDependency(used).catch((err: Error & { code: string }) => err)
  t.match(late, { code: 'FST_DEPENDS_INVALID', message: 'resolveDependency("used") was called after close(): app-scoped dependencies were finalized' })
})

test('the plugin\'s own dependencies start their app-scoped ones without any route', async (t) => {
  const events = new EventLog()
  const audit = resource(events, 'audit')
  const app = Fastify()
  await app.register(fastifyDepends, { dependencies: [audit] })
  await app.ready()
  t.same(events.list(), ['audit:start'])
  await app.close()
  t.same(events.list(), ['audit:start', 'audit:end'])
})

test('overrides: set before ready() the override starts instead (the original never does); set after, it starts on the first request that needs it; removed, the original serves again', async (t) => {
  const events = new EventLog()
  const original = resource(events, 'original')
  const before = resource(events, 'before')
  const after = resource(events, 'after', {}, 10)
  const app = await build(t)
  app.get('/', { dependencies: { pool: original } }, async (request) => request.deps.pool.name)
  app.dependencyOverrides.set(original, before)
  await app.ready()
  t.same(events.list(), ['before:start'])
  t.equal((await app.inject('/')).body, 'before')

  app.dependencyOverrides.set(original, after)
  const [one, two] = await Promise.all([app.inject('/'), app.inject('/')])
  t.same([one.body, two.body], ['after', 'after'])
  t.same(events.list(), ['before:start', 'after:start'], 'started once, by the first requests that needed it')

  app.dependencyOverrides.delete(original)
  t.equal((await app.inject('/')).body, 'original')
  t.same(events.list(), ['before:start', 'after:start', 'original:start'], 'the original, started on first need')
  await app.close()
  t.same(events.list().slice(3), ['original:end', 'after:end', 'before:end'])
})

test('a start that fails on a request (an override set after ready()) fails that request; the next one tries again', async (t) => {
  const original = depends(() => 'original', { name: 'original', scope: 'app' })
  let attempts = 0
  const flaky = depends(async () => {
    attempts++
    if (attempts === 1) throw Object.assign(new Error('not yet'), { statusCode: 503 })
    return 'flaky'
  }, { name: 'flaky', scope: 'app' })
  const app = await build(t)
  app.get('/', { dependencies: { value: original } }, async (request) => request.deps.value)
  await app.ready()
  app.dependencyOverrides.set(original, flaky)
  t.equal((await app.inject('/')).statusCode, 503)
  t.equal((await app.inject('/')).body, 'flaky')
  t.equal(attempts, 2)
})

test('generators that never yield or yield twice; a cleanup that throws at close() is logged and the others still run', async (t) => {
  const events = new EventLog()
  const logs = logCollector()
  const never = depends(async function * never () {}, { scope: 'app' })
  const app1 = await build(t)
  app1.get('/', { dependencies: { never } }, async () => 'x')
  t.equal((await readyError(app1))?.message, 'The generator dependency "never" finished without yielding: it must yield exactly once')

  const first = resource(events, 'first')
  const twice = depends(function * twice () { yield 1; yield 2 }, { scope: 'app' })
  const throwing = depends(async function * throwing () {
    yield 1
    throw new Error('cleanup failed')
  }, { scope: 'app' })
  const app2 = await build(t, {}, { logger: { level: 'error', stream: logs.stream } })
  app2.get('/', { dependencies: { first, twice, throwing } }, async () => 'x')
  await app2.ready()
  await app2.close()
  t.same(events.list(), ['first:start', 'first:end'])
  t.match(logs.lines.map((line) => [line.dependency, line.msg, (line.err as Error).message]), [
    ['throwing', 'fastify-depends: cleanup of the app-scoped dependency "throwing" failed', 'cleanup failed'],
    ['twice', 'fastify-depends: cleanup of the app-scoped dependency "twice" failed', 'The generator dependency "twice" yielded more than once: it must yield exactly once']
  ])
})

test('printDependencies() and the tracing channels show the scope "app"; Server-Timing leaves app-scoped values out', async (t) => {
  const events = new EventLog()
  const pool = resource(events, 'pool')
  const getDb = depends({ pool }, function * getDb () { yield 'db' })
  const traces: Array<[string, string, string | undefined, string]> = []
  const subscriber = (kind: string) => ({
    start (context: DependencyTraceContext) { traces.push([kind, context.dependency, context.scope, context.route]) },
    end () {},
    asyncStart () {},
    asyncEnd () {},
    error () {}
  })
  const resolveSubscriber = subscriber('resolve')
  const cleanupSubscriber = subscriber('cleanup')
  diagnosticsChannel.tracingChannel('fastify-depends:resolve').subscribe(resolveSubscriber as never)
  diagnosticsChannel.tracingChannel('fastify-depends:cleanup').subscribe(cleanupSubscriber as never)
  t.teardown(() => {
    diagnosticsChannel.tracingChannel('fastify-depends:resolve').unsubscribe(resolveSubscriber as never)
    diagnosticsChannel.tracingChannel('fastify-depends:cleanup').unsubscribe(cleanupSubscriber as never)
  })
  const app = Fastify({ exposeHeadRoutes: false })
  await app.register(fastifyDepends, { serverTiming: true })
  app.get('/', { dependencies: { db: getDb } }, async () => 'x')
  t.equal(app.printDependencies(), 'GET /\n└── db: getDb (#2, request scope)\n    └── pool (#1, app scope)\n')
  await app.ready()
  const res = await app.inject('/')
  t.match(res.headers['server-timing'], /^getDb;dur=[\d.]+$/)
  await app.close()
  t.same(traces, [
    ['resolve', 'pool', 'app', 'app'],
    ['resolve', 'pool', 'app', 'GET /'],
    ['resolve', 'getDb', 'request', 'GET /'],
    ['cleanup', 'getDb', 'request', 'GET /'],
    ['cleanup', 'pool', 'app', 'app']
  ])
})

test('close() waits for a request that reads only an app-scoped value (no generator) before finalizing it', async (t) => {
  const events = new EventLog()
  const pool = resource(events, 'pool')
  const app = await build(t)
  app.get('/', { dependencies: { pool } }, async () => {
    events.record('handler')
    await sleep(30)
    events.record('handler done')
    return 'x'
  })
  await app.ready()
  const inFlight = app.inject('/')
  await events.until('handler')
  await app.close()
  t.equal((await inFlight).body, 'x')
  t.same(events.list(), ['pool:start', 'handler', 'handler done', 'pool:end'])
})
