import swagger from '@fastify/swagger'
import { Type } from '@sinclair/typebox'
import Fastify, { type FastifyInstance } from 'fastify'
import { test } from 'tap'
import fastifyDepends, { depends, Query, Header, Cookie, Path, Body } from '../lib/index'

type Operation = { parameters?: unknown[], requestBody?: unknown }

function operation (app: FastifyInstance, url: string, method: string): Operation {
  const document = app.swagger() as unknown as { paths: Record<string, Record<string, Operation>> }
  return document.paths[url][method]
}

/** An app whose route PUT /items/:id gets parameters from plugin-option, addDependencies and route dependencies. */
async function threeLevelApp (swaggerFirst: boolean): Promise<FastifyInstance> {
  const app = Fastify()
  if (swaggerFirst) await app.register(swagger, { openapi: { info: { title: 't', version: '1' } } })
  const apiKey = depends({ key: Header('X-Api-Key', Type.String({ description: 'the API key' })) }, ({ key }) => key, { name: 'apiKey' })
  await app.register(fastifyDepends, { dependencies: [depends({ apiKey }, ({ apiKey }) => apiKey, { name: 'auth' })] })
  if (!swaggerFirst) await app.register(swagger, { openapi: { info: { title: 't', version: '1' } } })
  await app.register(async (scope) => {
    scope.addDependencies([depends({
      tenant: Query('tenant', Type.Integer({ minimum: 1, description: 'tenant id' })),
      session: Cookie('session', Type.String())
    }, (values) => values, { name: 'tenant' })])
    const item = depends({
      id: Path('id', Type.Integer()),
      limit: Query('limit', Type.Optional(Type.Integer({ maximum: 100, examples: [10] }))),
      name: Body('name', Type.String()),
      tags: Body('tags', Type.Optional(Type.Array(Type.String())))
    }, (values) => values, { name: 'item' })
    // the same parameters again, declared with equal schemas: documented once
    const again = depends({
      tenant: Query('tenant', Type.Integer({ minimum: 1, description: 'tenant id' })),
      key: Header('x-api-key', Type.String({ description: 'the API key' }))
    }, (values) => values, { name: 'again' })
    scope.put('/items/:id', { dependencies: { item, again } }, async (request) => request.deps)
  })
  await app.ready()
  return app
}

const threeLevelParameters = [
  { in: 'query', name: 'tenant', required: true, description: 'tenant id', schema: { type: 'integer', minimum: 1 } },
  { in: 'query', name: 'limit', required: false, example: 10, schema: { type: 'integer', maximum: 100 } },
  { in: 'path', name: 'id', required: true, schema: { type: 'integer' } },
  { in: 'header', name: 'x-api-key', required: true, description: 'the API key', schema: { type: 'string' } },
  { in: 'cookie', name: 'session', required: true, schema: { type: 'string' } }
]

const threeLevelRequestBody = {
  required: true,
  content: {
    'application/json': {
      schema: {
        type: 'object',
        required: ['name'],
        properties: { name: { type: 'string' }, tags: { type: 'array', items: { type: 'string' } } }
      }
    }
  }
}

test('swagger documents parameters from plugin-option, addDependencies and route dependencies once each', async (t) => {
  const app = await threeLevelApp(true)
  t.after(() => app.close())
  const op = operation(app, '/items/{id}', 'put')
  t.strictSame(op.parameters, threeLevelParameters)
  t.strictSame(op.requestBody, threeLevelRequestBody)
})

test('swagger registered after the plugin documents the same parameters', async (t) => {
  const app = await threeLevelApp(false)
  t.after(() => app.close())
  const op = operation(app, '/items/{id}', 'put')
  t.strictSame(op.parameters, threeLevelParameters)
  t.strictSame(op.requestBody, threeLevelRequestBody)
})

test('the documented parameters are the ones validated at request time', async (t) => {
  const app = await threeLevelApp(true)
  t.after(() => app.close())
  const res = await app.inject({
    method: 'PUT',
    url: '/items/5?tenant=2&limit=10',
    headers: { 'x-api-key': 'k', cookie: 'session=s' },
    payload: { name: 'pen' }
  })
  t.equal(res.statusCode, 200)
  t.strictSame(res.json(), {
    item: { id: 5, limit: 10, name: 'pen' },
    again: { tenant: 2, key: 'k' }
  })
})

test('Body(schema) is documented as the whole request body', async (t) => {
  const app = Fastify()
  t.after(() => app.close())
  await app.register(swagger, { openapi: { info: { title: 't', version: '1' } } })
  await app.register(fastifyDepends)
  const order = Body(Type.Object({ name: Type.String(), qty: Type.Integer({ minimum: 1 }) }))
  app.post('/orders', { dependencies: { order } }, async (request) => request.deps)
  await app.ready()
  const op = operation(app, '/orders', 'post')
  t.equal(op.parameters, undefined)
  t.strictSame(op.requestBody, {
    required: true,
    content: {
      'application/json': {
        schema: {
          type: 'object',
          required: ['name', 'qty'],
          properties: { name: { type: 'string' }, qty: { type: 'integer', minimum: 1 } }
        }
      }
    }
  })
})

test('the route\'s own schema and its dependencies\' parameters are documented together', async (t) => {
  const app = Fastify()
  t.after(() => app.close())
  await app.register(swagger, { openapi: { info: { title: 't', version: '1' } } })
  await app.register(fastifyDepends)
  const skip = Query('skip', Type.Integer({ minimum: 0, default: 0 }))
  app.get('/x', {
    schema: { querystring: Type.Object({ sort: Type.String() }), headers: Type.Object({ 'x-own': Type.String() }) },
    dependencies: { skip, trace: Header('X-Trace', Type.Optional(Type.String())) }
  }, async (request) => request.deps)
  await app.ready()
  t.strictSame(operation(app, '/x', 'get').parameters, [
    { in: 'query', name: 'sort', required: true, schema: { type: 'string' } },
    { in: 'query', name: 'skip', required: false, schema: { type: 'integer', minimum: 0, default: 0 } },
    { in: 'header', name: 'x-own', required: true, schema: { type: 'string' } },
    { in: 'header', name: 'x-trace', required: false, schema: { type: 'string' } }
  ])
})
