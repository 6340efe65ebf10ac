import swagger from '@fastify/swagger'
import { Type } from '@sinclair/typebox'
import type { FastifyInstance } from 'fastify'
import { test, type Test } from 'tap'
import { build, EventLog } from '../helpers'
import { depends, Depends, Body, Header, Path } from '../../lib/index'

// Ported from FastAPI's tests/test_dependency_duplicates.py, tests/test_repeated_dependency_schema.py
// and tests/test_param_in_path_and_dependency.py: a request parameter declared by several
// dependencies (and by the route) is one parameter, validated once and documented once.
// FastAPI's pydantic model is a TypeBox object; its 422 is Fastify's 400; FastAPI documents
// bodies with `$ref`s and adds a 422 response, @fastify/swagger inlines the schema.

interface Operation { parameters?: unknown[], requestBody?: unknown }

async function documented (t: Test): Promise<FastifyInstance> {
  const app = await build(t)
  await app.register(swagger, { openapi: { info: { title: 't', version: '1' } } })
  return app
}

function operation (app: FastifyInstance, url: string, method: string): Operation {
  return (app.swagger() as unknown as { paths: Record<string, Record<string, Operation>> }).paths[url][method]
}

const Item = Type.Object({ data: Type.String() })

async function duplicatesApp (t: Test) {
  const app = await documented(t)
  const duplicateDependency = depends({ item: Body(Item) }, ({ item }) => item, { name: 'duplicateDependency' })
  const dependency = depends({ item2: Body('item2', Item) }, ({ item2 }) => item2, { name: 'dependency' })
  const subDuplicateDependency = depends({ item: Body(Item), subItem: duplicateDependency }, ({ item, subItem }) => [item, subItem], { name: 'subDuplicateDependency' })
  app.post('/with-duplicates', { dependencies: { item: Body(Item), item2: duplicateDependency } }, async (request) => [request.deps.item, request.deps.item2])
  app.post('/no-duplicates', { dependencies: { item: Body('item', Item), item2: dependency } }, async (request) => [request.deps.item, request.deps.item2])
  app.post('/with-duplicates-sub', { dependencies: { item: Body(Item), subItems: subDuplicateDependency } }, async (request) => [request.deps.item, request.deps.subItems])
  await app.ready()
  return app
}

// ported from tests/test_dependency_duplicates.py test_no_duplicates_invalid
test('two named body properties from the route and a dependency are both required', async (t) => {
  const app = await duplicatesApp(t)
  const res = await app.inject({ method: 'POST', url: '/no-duplicates', payload: { item: { data: 'myitem' } } })
  t.equal(res.statusCode, 400)
  t.same(res.json(), { statusCode: 400, code: 'FST_ERR_VALIDATION', error: 'Bad Request', message: "body must have required property 'item2'" })
})

// ported from tests/test_dependency_duplicates.py test_no_duplicates
test('two named body properties make one object body', async (t) => {
  const app = await duplicatesApp(t)
  const res = await app.inject({ method: 'POST', url: '/no-duplicates', payload: { item: { data: 'myitem' }, item2: { data: 'myitem2' } } })
  t.equal(res.statusCode, 200)
  t.same(res.json(), [{ data: 'myitem' }, { data: 'myitem2' }])
})

// ported from tests/test_dependency_duplicates.py test_duplicates
test('the whole body declared by the route and by a dependency is one body both receive', async (t) => {
  const app = await duplicatesApp(t)
  const res = await app.inject({ method: 'POST', url: '/with-duplicates', payload: { data: 'myitem' } })
  t.equal(res.statusCode, 200)
  t.same(res.json(), [{ data: 'myitem' }, { data: 'myitem' }])
})

// ported from tests/test_dependency_duplicates.py test_sub_duplicates
test('the whole body declared at three depths is one body', async (t) => {
  const app = await duplicatesApp(t)
  const res = await app.inject({ method: 'POST', url: '/with-duplicates-sub', payload: { data: 'myitem' } })
  t.equal(res.statusCode, 200)
  t.same(res.json(), [{ data: 'myitem' }, [{ data: 'myitem' }, { data: 'myitem' }]])
})

// ported from tests/test_dependency_duplicates.py test_openapi_schema
test('a duplicated whole body is documented once; two named properties as one object', async (t) => {
  const app = await duplicatesApp(t)
  const item = { type: 'object', required: ['data'], properties: { data: { type: 'string' } } }
  const json = (schema: unknown) => ({ required: true, content: { 'application/json': { schema } } })
  t.strictSame(operation(app, '/with-duplicates', 'post').requestBody, json(item))
  t.strictSame(operation(app, '/with-duplicates-sub', 'post').requestBody, json(item))
  t.strictSame(operation(app, '/no-duplicates', 'post').requestBody, json({
    type: 'object',
    required: ['item', 'item2'],
    properties: { item, item2: item }
  }))
  t.equal(operation(app, '/with-duplicates', 'post').parameters, undefined)
})

async function repeatedHeaderApp (t: Test) {
  const app = await documented(t)
  const getHeader = depends({ someheader: Header('someheader', Type.String()) }, ({ someheader }) => someheader, { name: 'getHeader' })
  const getSomethingElse = depends({ someheader: getHeader }, ({ someheader }) => `${someheader}123`, { name: 'getSomethingElse' })
  app.get('/', { dependencies: { dep1: getHeader, dep2: getSomethingElse } }, async (request) => request.deps)
  await app.ready()
  return app
}

// ported from tests/test_repeated_dependency_schema.py test_response
test('a header read by a dependency used twice reaches both places', async (t) => {
  const app = await repeatedHeaderApp(t)
  const res = await app.inject({ url: '/', headers: { someheader: 'hello' } })
  t.equal(res.statusCode, 200)
  t.same(res.json(), { dep1: 'hello', dep2: 'hello123' })
})

// ported from tests/test_repeated_dependency_schema.py test_openapi_schema
test('a header read by a dependency used twice is documented once', async (t) => {
  const app = await repeatedHeaderApp(t)
  t.strictSame(operation(app, '/', 'get').parameters, [
    { in: 'header', name: 'someheader', required: true, schema: { type: 'string' } }
  ])
})

async function pathApp (t: Test) {
  const app = await documented(t)
  const userExists = depends({ userId: Path('user_id', Type.Integer()) }, () => true, { name: 'userExists' })
  app.get('/users/:user_id', {
    schema: { params: Type.Object({ user_id: Type.Integer() }) },
    dependencies: [userExists]
  }, async () => null)
  await app.ready()
  return app
}

// ported from tests/test_param_in_path_and_dependency.py test_read_users
test('a path parameter declared by the route and by its dependency is one parameter', async (t) => {
  const app = await pathApp(t)
  t.equal((await app.inject('/users/42')).statusCode, 200)
  t.equal((await app.inject('/users/x')).statusCode, 400)
})

// ported from tests/test_param_in_path_and_dependency.py test_openapi_schema
test('a path parameter declared by the route and by its dependency is documented once', async (t) => {
  const app = await pathApp(t)
  t.strictSame(operation(app, '/users/{user_id}', 'get').parameters, [
    { in: 'path', name: 'user_id', required: true, schema: { type: 'integer' } }
  ])
})

// Ported from FastAPI's tests/test_response_dependency.py. FastAPI injects a `Response` (the
// sub-response) and a `Request`; here every dependency gets Fastify's `reply` and `request` in
// its context. There are no response objects to return and no BackgroundTasks (DESIGN §9).

// ported from tests/test_response_dependency.py test_response_with_depends_annotated
test('a dependency sets a header on the reply and the handler\'s response carries it', async (t) => {
  const app = await build(t)
  const modifyResponse = depends((_inputs, { reply }) => {
    reply.header('x-custom', 'modified')
  }, { name: 'modifyResponse' })
  app.get('/', { dependencies: [modifyResponse] }, async () => ({ status: 'ok' }))
  const res = await app.inject('/')
  t.equal(res.statusCode, 200)
  t.same(res.json(), { status: 'ok' })
  t.equal(res.headers['x-custom'], 'modified')
})

// ported from tests/test_response_dependency.py test_response_with_depends_default
test('a dependency may return the reply: its value is the route\'s reply (Fastify replies are thenables)', async (t) => {
  const app = await build(t)
  const modifyResponse = depends((_inputs, { reply }) => {
    reply.header('x-custom', 'modified')
    return reply
  }, { name: 'modifyResponse' })
  let same = false
  app.get('/', { dependencies: { response: Depends(modifyResponse) } }, async (request, reply) => {
    same = request.deps.response === reply
    return { status: 'ok' }
  })
  // a guard, not a timing assertion: awaiting the reply would wait for a response that never comes
  const res = await Promise.race([app.inject('/'), new Promise<null>((resolve) => setTimeout(resolve, 1000, null))])
  t.not(res, null, 'the request completes')
  t.same(res?.json(), { status: 'ok' })
  t.equal(res?.headers['x-custom'], 'modified')
  t.ok(same)
})

// ported from tests/test_response_dependency.py test_response_without_depends
test('the handler sets headers on its own reply next to dependencies', async (t) => {
  const app = await build(t)
  app.get('/', { dependencies: [depends(() => 'unused')] }, async (_request, reply) => {
    reply.header('x-direct', 'set')
    return { status: 'ok' }
  })
  const res = await app.inject('/')
  t.same(res.json(), { status: 'ok' })
  t.equal(res.headers['x-direct'], 'set')
})

// ported from tests/test_response_dependency.py test_response_dependency_chain
test('headers set along a chain of dependencies all reach the response', async (t) => {
  const app = await build(t)
  const events = new EventLog()
  const firstModifier = depends((_inputs, { reply }) => {
    reply.header('x-first', '1')
    events.record('first')
  }, { name: 'firstModifier' })
  const secondModifier = depends({ first: firstModifier }, (_inputs, { reply }) => {
    reply.header('x-second', '2')
    events.record('second')
  }, { name: 'secondModifier' })
  app.get('/', { dependencies: [secondModifier] }, async () => ({ status: 'ok' }))
  const res = await app.inject('/')
  t.equal(res.statusCode, 200)
  t.equal(res.headers['x-first'], '1')
  t.equal(res.headers['x-second'], '2')
  t.same(events.list(), ['first', 'second'])
})

// ported from tests/test_response_dependency.py test_response_dependency_returns_different_response_instance (deliberately different: no response objects)
test('a header a dependency set is replaced by the handler\'s later value', async (t) => {
  const app = await build(t)
  const defaultResponse = depends((_inputs, { reply }) => {
    reply.header('x-custom', 'initial')
  }, { name: 'defaultResponse' })
  app.get('/', { dependencies: [defaultResponse] }, async (_request, reply) => {
    reply.header('x-custom', 'modified')
    return { status: 'ok' }
  })
  const res = await app.inject('/')
  t.equal(res.statusCode, 200)
  t.same(res.json(), { status: 'ok' })
  t.equal(res.headers['x-custom'], 'modified')
})

// ported from tests/test_response_dependency.py test_request_with_depends_annotated
test('a dependency reads the request from its context', async (t) => {
  const app = await build(t)
  const extractRequestInfo = depends((_inputs, { request }) => ({
    path: request.url,
    user_agent: request.headers['user-agent'] ?? 'unknown'
  }), { name: 'extractRequestInfo' })
  app.get('/', { dependencies: { info: extractRequestInfo } }, async (request) => request.deps.info)
  const res = await app.inject({ url: '/', headers: { 'user-agent': 'test-agent' } })
  t.equal(res.statusCode, 200)
  t.same(res.json(), { path: '/', user_agent: 'test-agent' })
})

// ported from tests/test_response_dependency.py test_background_tasks_with_depends_annotated (deliberately different: no BackgroundTasks)
test('work queued by a dependency and the handler runs in a request-scoped cleanup, after the response', async (t) => {
  const app = await build(t)
  const events = new EventLog()
  const backgroundTasks = depends(function * backgroundTasks () {
    const tasks: Array<() => void> = []
    yield tasks
    for (const task of tasks) task()
    events.record('tasks done')
  })
  const addBackgroundTask = depends({ tasks: backgroundTasks }, ({ tasks }) => {
    tasks.push(() => events.record('from dependency'))
    return tasks
  }, { name: 'addBackgroundTask' })
  app.get('/', { dependencies: { tasks: addBackgroundTask } }, async (request) => {
    (request.deps.tasks as Array<() => void>).push(() => events.record('from endpoint'))
    events.record('handler')
    return { status: 'ok' }
  })
  app.addHook('onSend', async (_request, _reply, payload) => {
    events.record('response')
    return payload
  })
  const res = await app.inject('/')
  t.equal(res.statusCode, 200)
  await events.until('tasks done')
  t.same(events.list(), ['handler', 'response', 'from dependency', 'from endpoint', 'tasks done'])
})
