import swagger from '@fastify/swagger'
import websocket from '@fastify/websocket'
import Fastify, { type FastifyInstance } from 'fastify'
import { test } from 'tap'

// Created before fastify-depends is first loaded: Fastify announced it to nobody, so no guard watches it.
const instances = [Fastify(), Fastify(), Fastify()]

/** Loaded only now (an `import` statement would be evaluated before the instances were created). */
function load (): typeof import('../lib/index') {
  return require('../lib/index')
}

test('an instance created before fastify-depends was loaded: the plugin works, and @fastify/swagger after it keeps its transform', async (t) => {
  const { default: fastifyDepends, depends, HTTPBearer } = load()
  const app = instances[0]
  t.after(() => app.close())
  await app.register(fastifyDepends)
  await app.register(swagger, {
    openapi: { info: { title: 't', version: '1' } },
    transform: ({ schema, url }: { schema: unknown, url: string }) => ({ schema: { ...(schema as object), summary: `global ${url}` }, url })
  })
  app.get('/me', { dependencies: { user: depends(() => 'user'), token: HTTPBearer({ autoError: false }) } }, async (request) => request.deps)
  await app.ready()
  t.same((await app.inject('/me')).json(), { user: 'user' })
  const document = app.swagger() as unknown as { paths: Record<string, { get: { summary?: string } }> }
  t.equal(document.paths['/me'].get.summary, 'global /me')
})

test('an instance created before fastify-depends was loaded: a route declared before the plugin is not seen (the documented limit)', async (t) => {
  const { default: fastifyDepends, depends } = load()
  const app: FastifyInstance = instances[1]
  t.after(() => app.close())
  const ran: string[] = []
  app.get('/me', { dependencies: { user: depends(() => { ran.push('user'); return 'user' }) } }, async () => 'handler')
  await app.register(fastifyDepends)
  await app.ready()
  t.equal((await app.inject('/me')).body, 'handler')
  t.same(ran, [], 'the dependency never ran: create the app after importing fastify-depends to have this caught')
})

test('an instance created before fastify-depends was loaded: a websocket route with dependencies fails ready() with FST_DEPENDS_NOT_REGISTERED, not a broken socket', async (t) => {
  // The guard never saw the route, so its socket handler could not be wrapped before @fastify/websocket took it.
  const { default: fastifyDepends, depends } = load()
  const app: FastifyInstance = instances[2]
  t.after(() => app.close())
  await app.register(websocket)
  await app.register(fastifyDepends)
  app.get('/live', { websocket: true, dependencies: { user: depends(() => 'user') } }, (socket) => { socket.close() })
  app.get('/plain', { websocket: true }, (socket) => { socket.close() })
  const err = await app.ready().then(() => undefined, (error: unknown) => error as Error & { code: string })
  t.equal(err?.code, 'FST_DEPENDS_NOT_REGISTERED')
  t.equal(err?.message, 'Route GET /live: a WebSocket route with dependencies needs fastify-depends loaded before its Fastify instance is created (its socket handler is wrapped as the instance sees the route); import fastify-depends before calling fastify()')
})
