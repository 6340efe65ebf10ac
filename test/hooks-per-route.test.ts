import Fastify from 'fastify'
import { test } from 'tap'
import { EventLog, bothScopes, settle } from './helpers'
import fastifyDepends, { depends } from '../lib/index'

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

test('a route without dependencies carries no hook of the plugin; a route with dependencies carries its own', async (t) => {
  const app = Fastify({ exposeHeadRoutes: false })
  t.after(() => app.close())
  await app.register(fastifyDepends)
  app.get('/plain', async () => 'plain')
  app.get('/with', { dependencies: { value: depends(() => 1) } }, async () => 'with')
  await app.ready()
  const printed = app.printRoutes({ includeHooks: true, commonPrefix: false })
  t.equal(hooksOf(printed, 'plain (GET)'), '')
  t.equal(hooksOf(printed, 'with (GET)'), 'preHandler: "resolveDependencies()"; onSend: "responseProducedHook()"; onResponse: "responseFinishedHook()"; onError: "responseFailedHook()"')
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
