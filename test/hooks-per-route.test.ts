import http from 'node:http'
import type { AddressInfo } from 'node:net'
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify'
import { test, type Test } from 'tap'
import { EventLog, bothScopes, settle, within } from './helpers'
import fastifyDepends, { depends } from '../lib/index'
import { kRegistry } from '../lib/symbols'

// A route without dependencies pays nothing for the plugin: its hooks are the routes' own, on the
// routes that have dependencies, after every instance-level hook of their kind.

function hooksOf (printed: string, route: string): string {
  const lines = printed.split('\n')
  const start = lines.findIndex((line) => line.includes(route))
  const hooks: string[] = []
  for (const line of lines.slice(start + 1)) {
    const match = /• \((\w+)\) \[(.*)\]/.exec(line)
    if (match === null) break
    hooks.push(`${match[1]}: ${match[2]}`)
  }
  return hooks.join('; ')
}

test('a route without dependencies carries no hook of the plugin; a route with plain dependencies only its resolve hook', async (t) => {
  const app = Fastify({ exposeHeadRoutes: false })
  t.after(() => app.close())
  await app.register(fastifyDepends)
  app.get('/plain', async () => 'plain')
  app.get('/with', { dependencies: { value: depends(() => 1) } }, async (request) => request.deps)
  await app.ready()
  const printed = app.printRoutes({ includeHooks: true, commonPrefix: false })
  t.equal(hooksOf(printed, 'plain (GET)'), '')
  t.equal(hooksOf(printed, 'with (GET)'), 'preHandler: "resolveDependencies()"')
  t.same((await app.inject('/with')).json(), { value: 1 })
})

test('instance-level onSend and onResponse hooks, before or after the plugin, run before the route\'s: function scope after every instance onSend, request scope after every instance onResponse', async (t) => {
  for (const order of ['hooks first', 'plugin first'] as const) {
    const app = Fastify()
    t.after(() => app.close())
    const events = new EventLog()
    const addHooks = (): void => {
      app.addHook('onSend', async (_request, _reply, payload) => { events.record('instance onSend'); return payload })
      app.addHook('onResponse', async () => { events.record('instance onResponse') })
    }
    if (order === 'hooks first') addHooks()
    await app.register(fastifyDepends)
    if (order === 'plugin first') addHooks()
    app.get('/', {
      dependencies: bothScopes(events),
      onSend: async (_request, _reply, payload) => { events.record('route onSend'); return payload },
      onResponse: async () => { events.record('route onResponse') }
    }, async () => 'x')
    t.equal((await app.inject('/')).body, 'x')
    await events.until('route onResponse')
    await settle()
    t.same(events.list(), ['function:enter', 'request:enter', 'instance onSend', 'function:exit', 'route onSend', 'instance onResponse', 'request:exit', 'route onResponse'], order)
  }
})

test('only routes with something to finalize or time carry the response hooks: plain dependencies need none, a generator, an app-scoped value or Server-Timing does', async (t) => {
  const app = Fastify({ exposeHeadRoutes: false })
  t.after(() => app.close())
  await app.register(fastifyDepends)
  app.get('/generator', { dependencies: { value: depends(function * () { yield 1 }) } }, async () => 'generator')
  app.get('/app', { dependencies: { value: depends(() => 1, { scope: 'app' }) } }, async () => 'app')
  await app.ready()
  const printed = app.printRoutes({ includeHooks: true, commonPrefix: false })
  const all = 'preHandler: "resolveDependencies()"; onSend: "responseProducedHook()"; onResponse: "responseFinishedHook()"; onError: "responseFailedHook()"'
  t.equal(hooksOf(printed, 'generator (GET)'), all)
  t.equal(hooksOf(printed, 'app (GET)'), all)

  const timed = Fastify({ exposeHeadRoutes: false })
  t.after(() => timed.close())
  await timed.register(fastifyDepends, { serverTiming: true })
  timed.get('/plain-deps', { dependencies: { value: depends(() => 1, { name: 'value' }) } }, async () => 'timed')
  await timed.ready()
  t.equal(hooksOf(timed.printRoutes({ includeHooks: true, commonPrefix: false }), 'plain-deps (GET)'), all)
  t.match((await timed.inject('/plain-deps')).headers['server-timing'], /^value;dur=/)
})

/** A route registered with plain dependencies (no response hooks), whose dependencies tests override with generators. */
async function overriddenLater (t: Test, events: EventLog, handler: (request: FastifyRequest, reply: FastifyReply) => Promise<unknown>): Promise<FastifyInstance> {
  const app = Fastify()
  t.after(() => app.close())
  await app.register(fastifyDepends)
  const fnDep = depends(() => 'plain f', { name: 'fnDep', scope: 'function' })
  const reqDep = depends(() => 'plain r', { name: 'reqDep' })
  app.get('/', { dependencies: { f: fnDep, r: reqDep } }, handler)
  await app.ready()
  const { f, r } = bothScopes(events)
  app.dependencyOverrides.set(fnDep, f)
  app.dependencyOverrides.set(reqDep, r)
  return app
}

test('an override that brings generators into a route registered without response hooks: they are finalized once the response was sent', async (t) => {
  const events = new EventLog()
  const app = await overriddenLater(t, events, async (request) => {
    events.record('handler')
    return request.deps
  })
  const response = await app.inject('/')
  t.same(response.json(), { f: 'function', r: 'request' })
  await events.until('request:exit')
  await settle()
  t.same(events.list(), ['function:enter', 'request:enter', 'handler', 'function:exit', 'request:exit'])
  const live = (app as unknown as Record<symbol, { live: { count: number } }>)[kRegistry].live
  t.equal(live.count, 0, 'off the in-flight list')
})

test('an override that brings generators into a route registered without response hooks: a client that goes away while the handler runs throws the abort into both', async (t) => {
  const events = new EventLog()
  const app = await overriddenLater(t, events, async (_request, reply) => {
    reply.raw.once('close', () => events.record('connection:closed'))
    events.record('handler:start')
    await events.until('connection:closed')
    return 'late'
  })
  await app.listen({ port: 0, host: '127.0.0.1' })
  const { port } = app.server.address() as AddressInfo
  const req = http.request({ host: '127.0.0.1', port, path: '/', agent: false })
  req.on('error', () => {})
  req.end()
  await within(events.until('handler:start'), 'handler:start')
  req.destroy()
  await within(events.until('request:saw FST_DEPENDS_CLIENT_ABORTED'), 'the request scope saw the abort')
  await settle()
  t.same(events.list(), ['function:enter', 'request:enter', 'handler:start', 'connection:closed', 'function:saw FST_DEPENDS_CLIENT_ABORTED', 'request:saw FST_DEPENDS_CLIENT_ABORTED'])
})

test('an error from an onSend hook after the function scope closed, on a route whose generators are all function-scoped: the cleanup saw success, the response is the error', async (t) => {
  const app = Fastify()
  t.after(() => app.close())
  await app.register(fastifyDepends)
  const events = new EventLog()
  const { f } = bothScopes(events)
  app.get('/', {
    dependencies: { f },
    onSend: async () => { events.record('route onSend throws'); throw new Error('onSend broke') }
  }, async () => 'x')
  const response = await app.inject('/')
  t.equal(response.statusCode, 500)
  t.equal(response.json().message, 'onSend broke')
  await settle()
  // Fastify runs the route's onSend hooks again for the error response, which throws again.
  t.same(events.list(), ['function:enter', 'function:exit', 'route onSend throws', 'route onSend throws'])
})
