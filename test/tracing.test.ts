import diagnosticsChannel from 'node:diagnostics_channel'
import { performance } from 'node:perf_hooks'
import { test, type Test } from 'tap'
import { build, EventLog } from './helpers'
import { depends, httpError, HTTPBearer, resolveChannel, cleanupChannel, type DependencyTraceContext } from '../lib/index'

const eventNames = ['start', 'end', 'asyncStart', 'asyncEnd', 'error'] as const
type EventName = typeof eventNames[number]
type Channel = typeof resolveChannel

interface Seen {
  readonly event: EventName
  readonly context: DependencyTraceContext
  /** The context's fields when the event was published (the object changes afterwards). */
  readonly snapshot: DependencyTraceContext
}

/** Subscribes to every event of `channel` (by its name, as an APM would) until the test ends. */
function subscribe (t: Test, name: string, seen: Seen[], log?: EventLog): void {
  const prefix = name.endsWith(':cleanup') ? 'cleanup' : 'resolve'
  const handlers = Object.fromEntries(eventNames.map((event) => [event, (message: unknown) => {
    const context = message as DependencyTraceContext
    seen.push({ event, context, snapshot: { ...context } })
    log?.record(`${prefix}:${event} ${context.dependency}`)
  }]))
  const channel = diagnosticsChannel.tracingChannel(name)
  channel.subscribe(handlers as never)
  t.after(() => channel.unsubscribe(handlers as never))
}

const list = (seen: Seen[]): string[] => seen.map(({ event, context }) => `${event} ${context.dependency}`)

/** 'unset' before the duration is known, 'ms' for a non-negative number, else the odd value. */
function durationOf (context: DependencyTraceContext): unknown {
  if (context.duration === undefined) return 'unset'
  return typeof context.duration === 'number' && context.duration >= 0 ? 'ms' : context.duration
}

/** config → db (async generator) → user (async) → page, as GET /tree. */
function treeRoute (log: EventLog) {
  const config = depends(() => ({ dsn: 'memory' }), { name: 'config' })
  const db = depends({ config }, async function * db () {
    try {
      yield 'conn'
    } finally {
      log.record('db cleanup')
    }
  }, { name: 'db' })
  const user = depends({ db }, async () => 'alice', { name: 'user' })
  const page = depends({ user, config }, ({ user }) => `page of ${user}`, { name: 'page' })
  return { config, db, user, page }
}

test('resolution of a 4-node tree publishes start/end (and asyncStart/asyncEnd when async) per dependency, in order', async (t) => {
  const app = await build(t)
  const log = new EventLog()
  const { page } = treeRoute(log)
  app.get('/tree', { dependencies: { page } }, async (request) => ({ id: request.id, page: request.deps.page }))
  await app.ready()
  const seen: Seen[] = []
  subscribe(t, 'fastify-depends:resolve', seen)

  const response = await app.inject('/tree')
  t.equal(response.statusCode, 200)
  const { id, page: value } = response.json()
  t.equal(value, 'page of alice')
  // [event, dependency, scope, duration known]: at `end` for synchronous work, at asyncStart/asyncEnd otherwise
  t.same(seen.map(({ event, snapshot }) => [event, snapshot.dependency, snapshot.scope, durationOf(snapshot)]), [
    ['start', 'config', undefined, 'unset'], ['end', 'config', undefined, 'ms'],
    ['start', 'db', 'request', 'unset'], ['end', 'db', 'request', 'unset'],
    ['asyncStart', 'db', 'request', 'ms'], ['asyncEnd', 'db', 'request', 'ms'],
    ['start', 'user', undefined, 'unset'], ['end', 'user', undefined, 'unset'],
    ['asyncStart', 'user', undefined, 'ms'], ['asyncEnd', 'user', undefined, 'ms'],
    ['start', 'page', undefined, 'unset'], ['end', 'page', undefined, 'ms']
  ])
  t.same(new Set(seen.map(({ snapshot }) => snapshot.route)), new Set(['GET /tree']))
  t.same(new Set(seen.map(({ snapshot }) => snapshot.requestId)), new Set([id]))
  t.same(new Set(seen.map(({ snapshot }) => snapshot.error)), new Set([undefined]))
  t.ok(seen.every(({ snapshot }) => typeof snapshot.start === 'number'), 'each context has its start time')
  // one context object per dependency, shared by its events
  for (const name of ['config', 'db', 'user', 'page']) {
    const contexts = new Set(seen.filter(({ context }) => context.dependency === name).map(({ context }) => context))
    t.equal(contexts.size, 1, `${name}: one context`)
  }
})

test('the cleanup channel reports a request-scoped generator\'s finalization after the response, a function-scoped one before', async (t) => {
  const app = await build(t)
  const log = new EventLog()
  const { page } = treeRoute(log)
  const tx = depends(function * tx () {
    yield 'tx'
    log.record('tx cleanup')
  }, { name: 'tx', scope: 'function' })
  let raw: { writableEnded: boolean } | undefined
  app.addHook('onRequest', (_request, reply, done) => {
    raw = reply.raw
    done()
  })
  app.get('/tree', { dependencies: { page, tx } }, async (request) => {
    log.record('handler')
    return request.id
  })
  await app.ready()
  const resolved: Seen[] = []
  const cleaned: Seen[] = []
  subscribe(t, 'fastify-depends:resolve', resolved)
  subscribe(t, 'fastify-depends:cleanup', cleaned, log)
  // whether the response was written (ended) when each cleanup started
  const onStart = (): void => log.record(`(response ended: ${raw?.writableEnded})`)
  diagnosticsChannel.subscribe('tracing:fastify-depends:cleanup:start', onStart)
  t.after(() => diagnosticsChannel.unsubscribe('tracing:fastify-depends:cleanup:start', onStart))

  const response = await app.inject('/tree')
  t.equal(response.statusCode, 200)
  await log.until('cleanup:asyncEnd db')
  t.same(log.list(), [
    'handler',
    'cleanup:start tx', '(response ended: false)', 'tx cleanup', 'cleanup:end tx',
    'cleanup:start db', '(response ended: true)', 'db cleanup', 'cleanup:end db', 'cleanup:asyncStart db', 'cleanup:asyncEnd db'
  ])
  t.same(cleaned.map(({ snapshot }) => [snapshot.dependency, snapshot.scope, snapshot.route, snapshot.requestId, snapshot.error]), [
    ['tx', 'function', 'GET /tree', response.body, undefined],
    ['tx', 'function', 'GET /tree', response.body, undefined],
    ['db', 'request', 'GET /tree', response.body, undefined],
    ['db', 'request', 'GET /tree', response.body, undefined],
    ['db', 'request', 'GET /tree', response.body, undefined],
    ['db', 'request', 'GET /tree', response.body, undefined]
  ])
  t.same(cleaned.map(({ snapshot }) => durationOf(snapshot)), ['unset', 'ms', 'unset', 'unset', 'ms', 'ms'])
  // the resolve channel saw the resolutions only, not the cleanups
  t.same(list(resolved), [
    'start config', 'end config', 'start db', 'end db', 'asyncStart db', 'asyncEnd db',
    'start user', 'end user', 'asyncStart user', 'asyncEnd user', 'start page', 'end page', 'start tx', 'end tx'
  ])
})

test('an error thrown by a dependency is reported on the error event, and the generators that re-throw it on the cleanup channel', async (t) => {
  const app = await build(t)
  const forbidden = httpError(403, 'Not enough permissions')
  const rejected = new Error('lookup failed')
  const db = depends(async function * db () {
    yield 'conn'
  }, { name: 'db' })
  const guard = depends({ db }, () => { throw forbidden }, { name: 'guard' })
  const lookup = depends({ db }, async () => { throw rejected }, { name: 'lookup' })
  app.get('/sync', { dependencies: { guard } }, async () => 'unreachable')
  app.get('/async', { dependencies: { lookup } }, async () => 'unreachable')
  await app.ready()
  const resolved: Seen[] = []
  const cleaned: Seen[] = []
  subscribe(t, 'fastify-depends:resolve', resolved)
  subscribe(t, 'fastify-depends:cleanup', cleaned)

  const response = await app.inject('/sync')
  t.equal(response.statusCode, 403)
  t.same(list(resolved), ['start db', 'end db', 'asyncStart db', 'asyncEnd db', 'start guard', 'error guard', 'end guard'])
  const guardEvents = resolved.filter(({ context }) => context.dependency === 'guard')
  t.equal(guardEvents[1].snapshot.error, forbidden, 'the error event carries the error')
  t.equal(durationOf(guardEvents[1].snapshot), 'ms', 'and the duration')
  t.equal(guardEvents[2].snapshot.error, forbidden)
  // cleanup ran before the error response: the generator saw the error and re-threw it
  t.same(list(cleaned), ['start db', 'end db', 'error db', 'asyncStart db', 'asyncEnd db'])
  t.equal(cleaned[2].snapshot.error, forbidden)
  t.equal(cleaned[2].snapshot.scope, 'request')

  resolved.length = 0
  cleaned.length = 0
  const failed = await app.inject('/async')
  t.equal(failed.statusCode, 500)
  t.same(list(resolved), [
    'start db', 'end db', 'asyncStart db', 'asyncEnd db',
    'start lookup', 'end lookup', 'error lookup', 'asyncStart lookup', 'asyncEnd lookup'
  ])
  const lookupError = resolved.find(({ event }) => event === 'error') as Seen
  t.equal(lookupError.snapshot.error, rejected)
  t.equal(lookupError.snapshot.route, 'GET /async')
  t.same(list(cleaned), ['start db', 'end db', 'error db', 'asyncStart db', 'asyncEnd db'])
})

test('a security scheme that rejects in onRequest is reported with its 401', async (t) => {
  const app = await build(t)
  app.get('/me', { dependencies: { credentials: HTTPBearer() } }, async () => 'unreachable')
  await app.ready()
  const seen: Seen[] = []
  subscribe(t, 'fastify-depends:resolve', seen)
  const response = await app.inject('/me')
  t.equal(response.statusCode, 401)
  t.same(list(seen), ['start HTTPBearer', 'error HTTPBearer', 'end HTTPBearer'])
  t.equal((seen[1].snapshot.error as { statusCode?: number }).statusCode, 401)
})

test('with a subscriber on the cleanup channel only, nothing is published on the resolve channel', async (t) => {
  const app = await build(t)
  const log = new EventLog()
  const { page } = treeRoute(log)
  app.get('/tree', { dependencies: { page } }, async () => 'ok')
  await app.ready()
  const published = spyOnPublish(t, resolveChannel)
  const cleaned: Seen[] = []
  subscribe(t, 'fastify-depends:cleanup', cleaned, log)
  t.equal((await app.inject('/tree')).statusCode, 200)
  await log.until('cleanup:asyncEnd db')
  t.same(published, [])
  t.same(list(cleaned), ['start db', 'end db', 'asyncStart db', 'asyncEnd db'])
})

/** Replaces the `publish` of every event channel of `channel` with a recorder, restored when the test ends. */
function spyOnPublish (t: Test, channel: Channel): string[] {
  const calls: string[] = []
  for (const event of eventNames) {
    const target = channel[event] as unknown as Record<string, unknown>
    target.publish = (message: { dependency?: string }) => { calls.push(`${event} ${message?.dependency}`) }
    t.after(() => { delete target.publish })
  }
  return calls
}

test('with no subscriber, no channel publishes anything and requests still work', async (t) => {
  const app = await build(t)
  const log = new EventLog()
  const { page } = treeRoute(log)
  const failing = depends({ page }, () => { throw httpError(409, 'Conflict') }, { name: 'failing' })
  app.get('/tree', { dependencies: { page } }, async (request) => request.deps.page)
  app.get('/failing', { dependencies: { failing } }, async () => 'unreachable')
  await app.ready()
  t.equal(resolveChannel.hasSubscribers, false)
  t.equal(cleanupChannel.hasSubscribers, false)
  const resolveCalls = spyOnPublish(t, resolveChannel)
  const cleanupCalls = spyOnPublish(t, cleanupChannel)

  const response = await app.inject('/tree')
  t.equal(response.statusCode, 200)
  t.equal(response.body, 'page of alice')
  await log.until('db cleanup')
  const failed = await app.inject('/failing')
  t.equal(failed.statusCode, 409)
  t.same(failed.json(), { statusCode: 409, error: 'Conflict', message: 'Conflict' })
  t.same(log.list(), ['db cleanup', 'db cleanup'])
  t.same([...resolveCalls, ...cleanupCalls], [])
})

test('with no subscriber, a request through a tree reads the clock no more than one without dependencies (with an onResponse hook too)', async (t) => {
  const app = await build(t)
  const log = new EventLog()
  const { page } = treeRoute(log)
  app.get('/tree', { dependencies: { page } }, async () => 'ok')
  // With an onResponse hook, as the plugin gives /tree: Fastify itself then reads the clock twice per request.
  app.get('/bare', { onResponse: (_request, _reply, done) => { done() } }, async () => 'ok')
  await app.ready()
  const now = performance.now
  let reads = 0
  performance.now = function countedNow (this: typeof performance) {
    reads++
    return now.call(this)
  }
  t.after(() => { performance.now = now })

  await app.inject('/bare')
  const bare = reads
  reads = 0
  await app.inject('/tree')
  await log.until('db cleanup')
  t.equal(reads, bare, 'no trace context was created')
  // the same request with a subscriber does time every dependency
  const seen: Seen[] = []
  subscribe(t, 'fastify-depends:resolve', seen)
  reads = 0
  await app.inject('/tree')
  t.ok(reads > bare, 'a subscriber turns timing on')
  t.equal(seen.length, 12)
})
