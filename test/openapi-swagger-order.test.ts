import swagger from '@fastify/swagger'
import Fastify, { type FastifyInstance, type FastifyPluginAsync } from 'fastify'
import fp from 'fastify-plugin'
import { test, type Test } from 'tap'
import { readyError, watchProcess } from './helpers'
import fastifyDepends, { HTTPBearer } from '../lib/index'

interface Operation { summary?: string, security?: unknown, 'x-dependencies'?: unknown }
interface Document { paths: Record<string, Record<string, Operation>> }

const info = { openapi: { info: { title: 't', version: '1' } } }

/** A global transform whose effect shows: a summary naming the URL, and /v0/ renamed /v1/. */
function visibleTransform (label: string) {
  return ({ schema, url }: { schema: unknown, url: string }) => ({
    schema: { ...(schema as object), summary: `${label} ${url}` },
    url: url.replace('/v0/', '/v1/')
  })
}

function swaggerOptions (label = 'global') {
  return { ...info, transform: visibleTransform(label) }
}

function declareRoutes (scope: FastifyInstance): void {
  scope.get('/v0/protected', { dependencies: { token: HTTPBearer() } }, async () => 'ok')
  scope.get('/v0/open', async () => 'ok')
}

async function documentOf (app: FastifyInstance): Promise<Document> {
  await app.ready()
  return app.swagger() as unknown as Document
}

function assertTransformed (t: Test, document: Document, label = 'global'): void {
  t.strictSame(Object.keys(document.paths).sort(), ['/v1/open', '/v1/protected'], 'the transform renamed every path')
  const protectedOperation = document.paths['/v1/protected'].get
  t.equal(protectedOperation.summary, `${label} /v0/protected`, 'the global transform ran for the route with dependencies')
  t.strictSame(protectedOperation.security, [{ HTTPBearer: [] }], 'after the plugin documented it')
  t.strictSame(protectedOperation['x-dependencies'], ['HTTPBearer'])
  t.equal(document.paths['/v1/open'].get.summary, `${label} /v0/open`)
}

function app (t: Test): FastifyInstance {
  const instance = Fastify()
  t.after(() => instance.close())
  return instance
}

const orders: Array<[string, (instance: FastifyInstance) => Promise<void>]> = [
  ['@fastify/swagger registered before the plugin', async (instance) => {
    await instance.register(swagger, swaggerOptions())
    await instance.register(fastifyDepends)
  }],
  ['@fastify/swagger registered after the plugin', async (instance) => {
    await instance.register(fastifyDepends)
    await instance.register(swagger, swaggerOptions())
  }],
  ['register(import(\'@fastify/swagger\')) before the plugin', async (instance) => {
    await instance.register(import('@fastify/swagger'), swaggerOptions())
    await instance.register(fastifyDepends)
  }],
  ['register(import(\'@fastify/swagger\')) after the plugin, not awaited', async (instance) => {
    await instance.register(fastifyDepends)
    instance.register(import('@fastify/swagger'), swaggerOptions())
  }],
  ['@fastify/swagger with options given as a function, before the plugin', async (instance) => {
    await instance.register(swagger, () => swaggerOptions())
    await instance.register(fastifyDepends)
  }],
  ['@fastify/swagger registered by an application plugin (fastify-plugin) before the plugin', async (instance) => {
    await instance.register(fp(async (scope) => { await scope.register(swagger, swaggerOptions()) }))
    await instance.register(fastifyDepends)
  }]
]

for (const [label, setup] of orders) {
  test(`${label}: its global transform runs for routes with dependencies too`, async (t) => {
    const instance = app(t)
    await setup(instance)
    instance.after(() => declareRoutes(instance))
    assertTransformed(t, await documentOf(instance))
  })
}

test('@fastify/swagger registered in an encapsulated context: its routes get its transform', async (t) => {
  const instance = app(t)
  await instance.register(fastifyDepends)
  const docs: FastifyPluginAsync = async (scope) => {
    await scope.register(swagger, swaggerOptions('scoped'))
    declareRoutes(scope)
    scope.get('/v0/ready', async () => (scope.swagger() as unknown as Document).paths)
  }
  await instance.register(docs)
  const paths = (await instance.inject('/v0/ready')).json() as Document['paths']
  assertTransformed(t, { paths: Object.fromEntries(Object.entries(paths).filter(([url]) => url !== '/v1/ready')) }, 'scoped')
})

test('other plugins, as modules, promises or with function options, are registered as before', async (t) => {
  const problems = watchProcess(t)
  const instance = app(t)
  const seen: unknown[] = []
  const other = async (_scope: FastifyInstance, options: unknown): Promise<void> => { seen.push(options) }
  await instance.register(fastifyDepends)
  await instance.register(other, () => ({ from: 'a function' }))
  await instance.register(Promise.resolve({ default: other }), { from: 'a promise' })
  await instance.register(other, { from: 'an object' })
  t.same(seen, [{ from: 'a function' }, { from: 'a promise' }, { from: 'an object' }])

  const failing = app(t)
  failing.register(Promise.reject(new Error('cannot load the plugin')))
  t.equal((await readyError(failing))?.message, 'cannot load the plugin', 'a failing import() still fails ready()')
  t.same(problems, [], 'and causes no unhandled rejection')
})
