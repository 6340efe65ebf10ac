import swagger from '@fastify/swagger'
import { Type } from '@sinclair/typebox'
import type { FastifyInstance } from 'fastify'
import { test, type Test } from 'tap'
import { build } from './helpers'
import { depends, Depends, Query, HTTPBearer, type Dependency, type FastifyDependsOptions } from '../lib/index'

interface Operation {
  summary?: string
  security?: unknown
  parameters?: unknown[]
  responses: Record<string, unknown>
  'x-dependencies'?: string[]
}
interface Document {
  components: { securitySchemes?: Record<string, unknown> }
  paths: Record<string, Record<string, Operation>>
}

const info = { openapi: { info: { title: 't', version: '1' } } }

/** Fastify's error body, as @fastify/swagger renders it under `content`. */
const errorContent = {
  'application/json': {
    schema: {
      type: 'object',
      properties: { statusCode: { type: 'integer' }, code: { type: 'string' }, error: { type: 'string' }, message: { type: 'string' } },
      required: ['statusCode', 'error', 'message']
    }
  }
}
const defaultResponse = { description: 'Default Response' }
const notAuthenticated = {
  description: 'Not authenticated',
  headers: { 'www-authenticate': { schema: { type: 'string' }, description: 'The authentication challenge' } },
  content: errorContent
}
const invalidParameters = { description: 'Invalid request parameters', content: errorContent }

async function documentedApp (t: Test, options: FastifyDependsOptions = {}): Promise<FastifyInstance> {
  const app = await build(t, options)
  await app.register(swagger, info)
  return app
}

async function documentOf (app: FastifyInstance): Promise<Document> {
  await app.ready()
  return app.swagger() as unknown as Document
}

/** bearer → currentUser → requireAdmin (403) → report: the 403 sits two levels below the route's root. */
function reportTree (): { bearer: Dependency<unknown>, requireAdmin: Dependency<unknown>, report: Dependency<unknown> } {
  const bearer = HTTPBearer()
  const currentUser = depends({ credentials: bearer }, ({ credentials }) => credentials, { name: 'currentUser' })
  const requireAdmin = depends({ user: currentUser }, ({ user }) => user, {
    name: 'requireAdmin',
    responses: { 403: { description: 'Not enough permissions' } }
  })
  const report = depends({ admin: requireAdmin }, ({ admin }) => ({ admin }), { name: 'report' })
  return { bearer, requireAdmin, report }
}

test('a 403 declared two levels down and a scheme\'s 401 are documented on the operation, with the default 200', async (t) => {
  const app = await documentedApp(t)
  const { report } = reportTree()
  app.get('/reports', { dependencies: { report } }, async () => 'ok')
  const document = await documentOf(app)
  t.strictSame(document.paths['/reports'].get, {
    security: [{ HTTPBearer: [] }],
    'x-dependencies': ['HTTPBearer', 'currentUser', 'requireAdmin', 'report'],
    responses: { 200: defaultResponse, 401: notAuthenticated, 403: { description: 'Not enough permissions', content: errorContent } }
  })
  t.strictSame(document.components.securitySchemes, { HTTPBearer: { type: 'http', scheme: 'bearer' } })
})

test('a route with dependency parameters documents the 400 validation error once', async (t) => {
  const app = await documentedApp(t)
  const q = Query('q', Type.String())
  const paging = depends({ limit: Query('limit', Type.Integer({ default: 10 })) }, ({ limit }) => limit, { name: 'paging' })
  app.get('/search', { dependencies: { q, paging } }, async () => 'ok')
  // validation of the route's own schema is not a dependency's: no 400 from the plugin
  app.get('/own', { schema: { querystring: { type: 'object', properties: { x: { type: 'string' } } } }, dependencies: { report: depends(() => 1, { name: 'plain' }) } }, async () => 'ok')
  const document = await documentOf(app)
  t.strictSame(document.paths['/search'].get, {
    parameters: [
      { schema: { type: 'string' }, in: 'query', name: 'q', required: true },
      { schema: { type: 'integer', default: 10 }, in: 'query', name: 'limit', required: false }
    ],
    'x-dependencies': ['Query(q)', 'Query(limit)', 'paging'],
    responses: { 200: defaultResponse, 400: invalidParameters }
  })
  t.strictSame(document.paths['/own'].get.responses, { 200: defaultResponse })
})

test('responses declared by plugin-option and addDependencies lists reach the operations of their contexts', async (t) => {
  const tenant = depends(() => 't1', { name: 'tenant', responses: { 404: { description: 'Unknown tenant' } } })
  const quota = depends(() => 1, { name: 'quota', responses: { 429: { description: 'Too many requests' } } })
  const app = await documentedApp(t, { dependencies: [tenant] })
  await app.register(async (scope) => {
    scope.addDependencies([quota])
    scope.get('/limited', async () => 'ok')
  })
  app.get('/open', async () => 'ok')
  const document = await documentOf(app)
  t.strictSame(document.paths['/limited'].get.responses, {
    200: defaultResponse,
    404: { description: 'Unknown tenant', content: errorContent },
    429: { description: 'Too many requests', content: errorContent }
  })
  t.strictSame(document.paths['/limited'].get['x-dependencies'], ['tenant', 'quota'])
  t.strictSame(document.paths['/open'].get.responses, { 200: defaultResponse, 404: { description: 'Unknown tenant', content: errorContent } })
})

test('a response declared with its own schema is documented with that schema', async (t) => {
  const app = await documentedApp(t)
  const conflictSchema = { type: 'object', properties: { conflictId: { type: 'string' }, retry: { type: 'boolean' } }, required: ['conflictId'] }
  const lock = depends(() => 1, { name: 'lock', responses: { 409: { description: 'Locked by someone else', schema: conflictSchema } } })
  app.put('/doc', { dependencies: { lock } }, async () => 'ok')
  const document = await documentOf(app)
  t.strictSame(document.paths['/doc'].put.responses, {
    200: defaultResponse,
    409: { description: 'Locked by someone else', content: { 'application/json': { schema: conflictSchema } } }
  })
})

test('two dependencies declaring one status: the first in the route\'s tree wins', async (t) => {
  const app = await documentedApp(t)
  const first = depends(() => 1, { name: 'first', responses: { 403: { description: 'First says no' } } })
  const second = depends(() => 2, { name: 'second', responses: { 403: { description: 'Second says no' }, 410: { description: 'Gone' } } })
  app.get('/a', { dependencies: { first, second } }, async () => 'ok')
  app.get('/b', { dependencies: { second, first } }, async () => 'ok')
  const document = await documentOf(app)
  t.strictSame(document.paths['/a'].get.responses, {
    200: defaultResponse,
    403: { description: 'First says no', content: errorContent },
    410: { description: 'Gone', content: errorContent }
  })
  t.equal((document.paths['/b'].get.responses['403'] as { description: string }).description, 'Second says no')
})

test('the route\'s own schema.response wins on a clash and keeps its 200', async (t) => {
  const app = await documentedApp(t)
  const { report } = reportTree()
  app.get('/reports', {
    dependencies: { report },
    schema: {
      response: {
        200: { description: 'The report', type: 'object', properties: { title: { type: 'string' } } },
        403: { description: 'Reports are for admins', type: 'object', properties: { reason: { type: 'string' } } }
      }
    }
  }, async () => ({ title: 'q3', secret: 'not serialized' }))
  const document = await documentOf(app)
  t.strictSame(document.paths['/reports'].get.responses, {
    // (@fastify/swagger leaves the description in the schema too)
    200: { description: 'The report', content: { 'application/json': { schema: { description: 'The report', type: 'object', properties: { title: { type: 'string' } } } } } },
    401: notAuthenticated,
    403: { description: 'Reports are for admins', content: { 'application/json': { schema: { description: 'Reports are for admins', type: 'object', properties: { reason: { type: 'string' } } } } } }
  })
  // documentation only: the runtime serializer still uses the route's own 200
  const response = await app.inject({ url: '/reports', headers: { authorization: 'Bearer abc' } })
  t.equal(response.statusCode, 200)
  t.same(response.json(), { title: 'q3' })
})

test('a route without a response schema keeps the default 200 and still answers with its own body', async (t) => {
  const app = await documentedApp(t)
  const guard = depends(() => true, { name: 'guard', responses: { 403: { description: 'Forbidden' } } })
  app.get('/free', { dependencies: { guard } }, async () => ({ any: ['shape', 1] }))
  const document = await documentOf(app)
  t.strictSame(document.paths['/free'].get.responses['200'], defaultResponse)
  const response = await app.inject('/free')
  t.equal(response.statusCode, 200)
  t.same(response.json(), { any: ['shape', 1] })
})

test('overrides, set before or after the routes, do not change the document', async (t) => {
  async function appWith (override: boolean): Promise<{ app: FastifyInstance, document: Document }> {
    const app = await documentedApp(t)
    const { bearer, requireAdmin, report } = reportTree()
    if (override) {
      app.dependencyOverrides.set(requireAdmin, depends(() => ({ id: 'test' }), {
        name: 'fakeAdmin',
        responses: { 418: { description: 'Teapot' } }
      }))
    }
    app.get('/reports', { dependencies: { report } }, async (request) => request.deps)
    if (override) app.dependencyOverrides.set(bearer, () => ({ scheme: 'Bearer', credentials: 'fake' }))
    return { app, document: await documentOf(app) }
  }
  const original = await appWith(false)
  const overridden = await appWith(true)
  t.strictSame(overridden.document, original.document)
  t.strictSame(overridden.document.paths['/reports'].get['x-dependencies'], ['HTTPBearer', 'currentUser', 'requireAdmin', 'report'])
  // the overrides are in effect at runtime: no credentials needed
  const response = await overridden.app.inject('/reports')
  t.equal(response.statusCode, 200)
  t.same(response.json(), { report: { admin: { id: 'test' } } })
  t.equal((await original.app.inject('/reports')).statusCode, 401)
})

test('x-dependencies lists names in resolution order: plugin, context, then route dependencies; a shared node once', async (t) => {
  const app = await documentedApp(t, { dependencies: [depends(() => 1, { name: 'requestLog' })] })
  const db = depends(function * db () { yield 'conn' }, { name: 'db' })
  const users = depends({ db }, ({ db }) => db, { name: 'users' })
  const items = depends({ db, users }, ({ db }) => db, { name: 'items' })
  await app.register(async (scope) => {
    scope.addDependencies([depends(() => 't', { name: 'tenant' })])
    scope.get('/items', { dependencies: { items, fresh: Depends(db, { useCache: false }) } }, async () => 'ok')
  })
  app.get('/none', async () => 'ok')
  const document = await documentOf(app)
  t.strictSame(document.paths['/items'].get['x-dependencies'], ['requestLog', 'tenant', 'db', 'users', 'items', 'db'])
  t.strictSame(document.paths['/none'].get['x-dependencies'], ['requestLog'])
})

test('xDependencies: false removes x-dependencies and keeps the documented responses', async (t) => {
  const app = await documentedApp(t, { xDependencies: false })
  const { report } = reportTree()
  app.get('/reports', { dependencies: { report } }, async () => 'ok')
  const document = await documentOf(app)
  t.strictSame(document.paths['/reports'].get, {
    security: [{ HTTPBearer: [] }],
    responses: { 200: defaultResponse, 401: notAuthenticated, 403: { description: 'Not enough permissions', content: errorContent } }
  })
})

test('@fastify/swagger\'s global transform, registered after the plugin, still runs and sees the dependencies\' responses', async (t) => {
  const app = await build(t)
  await app.register(swagger, {
    ...info,
    transform: ({ schema, url }) => {
      const responses = (schema as { response?: Record<string, unknown> } | undefined)?.response
      return {
        schema: { ...schema, summary: `responses: ${responses === undefined ? 'none' : Object.keys(responses).join(',')}` },
        url: url.replace('/v0/', '/v1/')
      }
    }
  })
  const { report } = reportTree()
  app.get('/v0/reports', { dependencies: { report } }, async () => 'ok')
  app.get('/v0/plain', async () => 'ok')
  app.get('/v0/own', {
    dependencies: { report },
    config: { swaggerTransform: ({ schema, url }: { schema: unknown, url: string }) => ({ schema: { ...(schema as object), summary: 'own transform' }, url }) }
  }, async () => 'ok')
  const document = await documentOf(app)
  t.strictSame(Object.keys(document.paths).sort(), ['/v0/own', '/v1/plain', '/v1/reports'])
  t.strictSame(document.paths['/v1/reports'].get, {
    summary: 'responses: 200,401,403',
    security: [{ HTTPBearer: [] }],
    'x-dependencies': ['HTTPBearer', 'currentUser', 'requireAdmin', 'report'],
    responses: { 200: defaultResponse, 401: notAuthenticated, 403: { description: 'Not enough permissions', content: errorContent } }
  })
  t.strictSame(document.paths['/v1/plain'].get, { summary: 'responses: none', responses: { 200: defaultResponse } })
  // a route's own swaggerTransform replaces the global one, after the plugin documented the tree
  t.equal(document.paths['/v0/own'].get.summary, 'own transform')
  t.strictSame(Object.keys(document.paths['/v0/own'].get.responses), ['200', '401', '403'])
})
