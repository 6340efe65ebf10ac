import type { FastifyInstance, RouteOptions } from 'fastify'
import { test } from 'tap'
import { build, EventLog } from './helpers'
import fastifyDepends, { depends, type Dependency } from '../lib/index'

/** `app.ready()` as a real Promise (it returns a thenable instance), for t.rejects. */
async function ready (app: FastifyInstance): Promise<void> {
  await app.ready()
}

/** A plain dependency that records its name and provides it. */
function logged (events: EventLog, name: string, inputs: Record<string, Dependency<any>> = {}): Dependency<string> {
  return depends(inputs, () => {
    events.record(name)
    return name
  }, { name })
}

test('a dependencies record puts each value on request.deps under its key', async (t) => {
  const app = await build(t)
  const user = depends(async () => ({ id: 1 }))
  const page = depends(() => 2)
  app.get('/', { dependencies: { user, page } }, async (request) => request.deps)
  const res = await app.inject('/')
  t.equal(res.statusCode, 200)
  t.same(res.json(), { user: { id: 1 }, page: 2 })
})

test('a dependencies array runs each dependency for its effect and request.deps is empty', async (t) => {
  const app = await build(t)
  const events = new EventLog()
  app.get('/', { dependencies: [logged(events, 'verifyKey'), logged(events, 'audit')] }, async (request) => {
    events.record('handler')
    return request.deps
  })
  const res = await app.inject('/')
  t.equal(res.statusCode, 200)
  t.same(res.json(), {})
  t.same(events.list(), ['verifyKey', 'audit', 'handler'])
})

test('resolution order: plugin options, each addDependencies context outermost first, then the route, inputs depth first', async (t) => {
  const events = new EventLog()
  const app = await build(t, { dependencies: [logged(events, 'plugin-1'), logged(events, 'plugin-2')] })
  app.addDependencies([logged(events, 'root')])
  await app.register(async (outer) => {
    outer.addDependencies([logged(events, 'outer-1'), logged(events, 'outer-2')])
    await outer.register(async (inner) => {
      inner.addDependencies({ innerDep: logged(events, 'inner') })
      const c = logged(events, 'c')
      const b = logged(events, 'b', { c })
      const d = logged(events, 'd')
      const a = logged(events, 'a', { b, d })
      inner.get('/x', { dependencies: { a, e: logged(events, 'e') } }, async (request) => {
        events.record('handler')
        return request.deps
      })
    })
  })
  const res = await app.inject('/x')
  t.equal(res.statusCode, 200)
  t.same(res.json(), { innerDep: 'inner', a: 'a', e: 'e' })
  t.same(events.list(), ['plugin-1', 'plugin-2', 'root', 'outer-1', 'outer-2', 'inner', 'c', 'b', 'd', 'a', 'e', 'handler'])
})

test('addDependencies applies to its context and children, not to sibling plugins', async (t) => {
  const events = new EventLog()
  const app = await build(t)
  await app.register(async (guarded) => {
    guarded.addDependencies([logged(events, 'guard')])
    guarded.get('/guarded', async () => {
      events.record('guarded handler')
      return 'guarded'
    })
    await guarded.register(async (child) => {
      child.get('/guarded/child', async () => {
        events.record('child handler')
        return 'child'
      })
    })
  })
  await app.register(async (sibling) => {
    sibling.get('/open', { dependencies: [logged(events, 'own')] }, async () => {
      events.record('open handler')
      return 'open'
    })
  })
  app.get('/root', async () => {
    events.record('root handler')
    return 'root'
  })
  for (const url of ['/guarded', '/guarded/child', '/open', '/root']) {
    const res = await app.inject(url)
    t.equal(res.statusCode, 200, url)
  }
  t.same(events.list(), ['guard', 'guarded handler', 'guard', 'child handler', 'own', 'open handler', 'root handler'])
})

test('addDependencies after the context declared routes rejects ready() with FST_DEPENDS_INVALID', async (t) => {
  const events = new EventLog()
  const app = await build(t)
  app.register(async (context) => {
    context.get('/early', async () => 'early')
    context.addDependencies([logged(events, 'late')])
  })
  await t.rejects(ready(app), { code: 'FST_DEPENDS_INVALID' })
})

test('addDependencies after a child plugin declared routes rejects ready() with FST_DEPENDS_INVALID', async (t) => {
  const events = new EventLog()
  const app = await build(t)
  app.register(async (context) => {
    await context.register(async (child) => {
      child.get('/child', async () => 'child')
    })
    context.addDependencies([logged(events, 'late')])
  })
  await t.rejects(ready(app), { code: 'FST_DEPENDS_INVALID' })
})

test('registering the plugin twice rejects with FST_DEPENDS_INVALID', async (t) => {
  const app = await build(t)
  app.register(fastifyDepends)
  await t.rejects(ready(app), { code: 'FST_DEPENDS_INVALID' })
})

test('registering the plugin again inside a child context rejects with FST_DEPENDS_INVALID', async (t) => {
  const app = await build(t)
  app.register(async (child) => {
    await child.register(fastifyDepends)
  })
  await t.rejects(ready(app), { code: 'FST_DEPENDS_INVALID' })
})

test('a route dependencies value that is not a dependency rejects ready() with FST_DEPENDS_INVALID', async (t) => {
  const getDb = depends(() => ({ query: () => 'rows' }))
  for (const dependencies of [{ db: { query: () => 'rows' } }, { db: getDb, limit: 10 }, [getDb, 42], 'getDb']) {
    const app = await build(t)
    app.get('/', { dependencies: dependencies as never }, async () => 'ok')
    await t.rejects(ready(app), { code: 'FST_DEPENDS_INVALID' }, JSON.stringify(dependencies))
  }
})

test('two root dependencies with the same name reject ready() with FST_DEPENDS_INVALID', async (t) => {
  const events = new EventLog()
  const app = await build(t)
  app.register(async (context) => {
    context.addDependencies({ user: logged(events, 'contextUser') })
    context.get('/', { dependencies: { user: logged(events, 'routeUser') } }, async () => 'ok')
  })
  await t.rejects(ready(app), { code: 'FST_DEPENDS_INVALID', message: /"user"/ })
})

test('a 404 runs no dependency', async (t) => {
  const events = new EventLog()
  const app = await build(t, { dependencies: [logged(events, 'global')] })
  app.addDependencies([logged(events, 'root')])
  app.get('/exists', { dependencies: [logged(events, 'route')] }, async () => 'ok')
  const res = await app.inject('/missing')
  t.equal(res.statusCode, 404)
  t.same(events.list(), [])
  const wrongMethod = await app.inject({ method: 'DELETE', url: '/exists' })
  t.equal(wrongMethod.statusCode, 404)
  t.same(events.list(), [])
})

test('a request that fails schema validation runs no dependency', async (t) => {
  const events = new EventLog()
  const session = depends(async function * () {
    events.record('session:enter')
    yield 'session'
    events.record('session:exit')
  })
  const app = await build(t, { dependencies: [logged(events, 'global')] })
  app.get('/items', {
    schema: { querystring: { type: 'object', properties: { limit: { type: 'integer' } }, required: ['limit'] } },
    dependencies: { session, check: logged(events, 'check') }
  }, async () => 'ok')
  const res = await app.inject('/items?limit=many')
  t.equal(res.statusCode, 400)
  t.equal(res.json().code, 'FST_ERR_VALIDATION')
  const missing = await app.inject('/items')
  t.equal(missing.statusCode, 400)
  t.same(events.list(), [])

  const valid = await app.inject('/items?limit=5')
  t.equal(valid.statusCode, 200)
  await events.until('session:exit')
  t.same(events.list(), ['global', 'session:enter', 'check', 'session:exit'])
})

test('a HEAD request to a GET route resolves its dependencies once per request', async (t) => {
  const events = new EventLog()
  let calls = 0
  const counter = depends(() => {
    calls++
    events.record(`counter ${calls}`)
    return calls
  })
  const session = depends(function * () {
    events.record('session:enter')
    yield 'session'
    events.record('session:exit')
  })
  const app = await build(t)
  app.get('/', { dependencies: { counter, session } }, async (request, reply) => {
    events.record('handler')
    reply.header('x-counter', String(request.deps.counter))
    return 'body'
  })
  const first = await app.inject({ method: 'HEAD', url: '/' })
  t.equal(first.statusCode, 200)
  t.equal(first.headers['x-counter'], '1')
  t.equal(first.body, '')
  await events.until('session:exit')
  t.same(events.list(), ['counter 1', 'session:enter', 'handler', 'session:exit'])

  const second = await app.inject({ method: 'HEAD', url: '/' })
  t.equal(second.headers['x-counter'], '2')
  t.equal(calls, 2)
})

test('the route\'s own preHandler hooks see request.deps already set', async (t) => {
  const events = new EventLog()
  const app = await build(t)
  const user = depends(async () => {
    events.record('user')
    return { id: 1 }
  })
  let seenInHook: unknown
  app.get('/', {
    dependencies: { user },
    preHandler: [async (request) => {
      events.record('preHandler')
      seenInHook = request.deps
    }]
  }, async () => {
    events.record('handler')
    return 'ok'
  })
  const res = await app.inject('/')
  t.equal(res.statusCode, 200)
  t.same(seenInHook, { user: { id: 1 } })
  t.same(events.list(), ['user', 'preHandler', 'handler'])
})

test('a route with no dependencies anywhere is left as it was declared', async (t) => {
  const app = await build(t)
  const seen: Partial<RouteOptions> = {}
  app.addHook('onRoute', (options) => {
    if (options.url === '/plain' && options.method === 'GET') {
      Object.assign(seen, { handler: options.handler, preHandler: options.preHandler, onSend: options.onSend, onResponse: options.onResponse, onError: options.onError })
    }
  })
  const handler = async (): Promise<{ plain: boolean }> => ({ plain: true })
  app.get('/plain', handler)
  const res = await app.inject('/plain')
  t.equal(res.statusCode, 200)
  t.same(res.json(), { plain: true })
  t.equal(seen.handler, handler)
  t.equal(seen.preHandler, undefined)
  t.equal(seen.onSend, undefined)
  t.equal(seen.onResponse, undefined)
  t.equal(seen.onError, undefined)
})

test('request.deps is one shared frozen empty object wherever there are no named values, never null', async (t) => {
  const app = await build(t)
  const seen: unknown[] = []
  const user = depends(() => ({ id: 1 }))
  app.get('/plain', async (request) => { seen.push(request.deps); return 'plain' })
  app.get('/list', { dependencies: [user] }, async (request) => { seen.push(request.deps); return 'list' })
  app.get('/record', {
    dependencies: { user },
    onRequest: (request, _reply, done) => { seen.push(request.deps); done() }
  }, async (request) => { seen.push(request.deps); return 'record' })
  for (const url of ['/plain', '/plain', '/list', '/list', '/record']) t.equal((await app.inject(url)).statusCode, 200)
  const [plain, plainAgain, list, listAgain, beforeResolution, record] = seen
  t.same(plain, {})
  t.ok(Object.isFrozen(plain))
  for (const other of [plainAgain, list, listAgain, beforeResolution]) t.equal(other, plain, 'the same object')
  t.same(record, { user: { id: 1 } })
})

test('request.deps can be assigned, on a route with dependencies and on one without', async (t) => {
  const app = await build(t)
  const user = depends(() => ({ id: 1 }))
  const replaced = { user: { id: 2 } }
  const assign: RouteOptions['preHandler'] = (request, _reply, done) => { request.deps = replaced; done() }
  app.get('/plain', { preHandler: assign }, async (request) => request.deps)
  app.get('/record', { dependencies: { user }, preHandler: assign }, async (request) => request.deps)
  app.get('/other', async (request) => ({ deps: request.deps }))
  t.same((await app.inject('/plain')).json(), replaced)
  t.same((await app.inject('/record')).json(), replaced)
  // The own property set on one request does not leak to the next.
  t.same((await app.inject('/other')).json(), { deps: {} })
})

test('concurrency other than sequential or parallel rejects registration with FST_DEPENDS_INVALID', async (t) => {
  await t.rejects(build(t, { concurrency: 'bogus' as never }), { code: 'FST_DEPENDS_INVALID' })
})
