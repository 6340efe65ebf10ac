import { Readable } from 'node:stream'
import type { FastifyError, FastifyInstance } from 'fastify'
import { test, type Test } from 'tap'
import { build, settle } from '../helpers'
import { depends, Depends, httpError, type Dependency } from '../../lib/index'

// Ported from FastAPI's tests/test_dependency_yield_scope.py, tests/test_dependency_yield_scope_websockets.py
// and tests/test_ws_dependencies.py. Websockets are not supported; their endpoints become HTTP
// handlers that answer with the values they saw. FastAPI's routers are encapsulation contexts
// with addDependencies.

class Session {
  open = true
}
class NamedSession {
  open = true
  constructor (public name = 'default') {}
}
type Sessions = [NamedSession, Session]

/** The dependencies of both FastAPI files; `closed` records what their cleanup closed. */
function sessionDependencies () {
  const closed: Record<string, boolean> = {}
  const depSession = depends(async function * depSession () {
    const session = new Session()
    yield session
    session.open = false
    closed.session_closed = true
  })
  const sessionFunc = Depends(depSession, { scope: 'function' })
  const sessionRequest = Depends(depSession, { scope: 'request' })
  const getNamedSession = depends({ session: sessionRequest, sessionB: depSession }, function * getNamedSession ({ session, sessionB }) {
    if (session !== sessionB) throw new Error('explicit and default request scope must share one session')
    const named = new NamedSession('named')
    yield [named, sessionB] as Sessions
    named.open = false
    closed.named_session_closed = true
  })
  const getNamedFuncSession = depends({ session: sessionFunc }, function * getNamedFuncSession ({ session }) {
    const named = new NamedSession('named')
    yield [named, session] as Sessions
    named.open = false
    closed.named_func_session_closed = true
  })
  const getNamedRegularFuncSession = depends({ session: sessionFunc }, ({ session }) => [new NamedSession('named'), session] as Sessions, { name: 'getNamedRegularFuncSession' })
  return { closed, depSession, sessionFunc, sessionRequest, getNamedSession, getNamedFuncSession, getNamedRegularFuncSession }
}

/** FastAPI's StreamingResponse of one JSON document, computed when the body is read (after onSend). */
function lazyJson (compute: () => unknown): Readable {
  return Readable.from((function * () { yield JSON.stringify(compute()) })())
}

async function streamingApp (t: Test) {
  const d = sessionDependencies()
  const app = await build(t)
  app.get('/function-scope', { dependencies: { session: d.sessionFunc } }, async (request, reply) =>
    reply.send(lazyJson(() => ({ is_open: (request.deps.session as Session).open }))))
  app.get('/request-scope', { dependencies: { session: d.sessionRequest } }, async (request, reply) =>
    reply.send(lazyJson(() => ({ is_open: (request.deps.session as Session).open }))))
  app.get('/two-scopes', { dependencies: { func: d.sessionFunc, req: d.sessionRequest } }, async (request, reply) =>
    reply.send(lazyJson(() => ({ func_is_open: (request.deps.func as Session).open, req_is_open: (request.deps.req as Session).open }))))
  const sessionsRoute = (url: string, sessions: Parameters<typeof Depends>[0] | ReturnType<typeof Depends>) =>
    app.get(url, { dependencies: { sessions } }, async (request, reply) => reply.send(lazyJson(() => {
      const [named, session] = request.deps.sessions as Sessions
      return { named_session_open: named.open, session_open: session.open }
    })))
  sessionsRoute('/sub', d.getNamedSession)
  sessionsRoute('/named-function-scope', Depends(d.getNamedFuncSession, { scope: 'function' }))
  sessionsRoute('/regular-function-scope', d.getNamedRegularFuncSession)
  return { app, ...d }
}

async function json (app: FastifyInstance, url: string) {
  const res = await app.inject(url)
  return { statusCode: res.statusCode, body: res.json() }
}

// ported from tests/test_dependency_yield_scope.py test_function_scope
test('a function-scoped session is closed before the streamed body is produced', async (t) => {
  const { app } = await streamingApp(t)
  t.same(await json(app, '/function-scope'), { statusCode: 200, body: { is_open: false } })
})

// ported from tests/test_dependency_yield_scope.py test_request_scope
test('a request-scoped session is open while the body streams', async (t) => {
  const { app } = await streamingApp(t)
  t.same(await json(app, '/request-scope'), { statusCode: 200, body: { is_open: true } })
})

// ported from tests/test_dependency_yield_scope.py test_two_scopes
test('one generator used with both scopes is two instances: the function-scoped one closes first', async (t) => {
  const { app } = await streamingApp(t)
  t.same(await json(app, '/two-scopes'), { statusCode: 200, body: { func_is_open: false, req_is_open: true } })
})

// ported from tests/test_dependency_yield_scope.py test_sub
test('explicit and default request scope share one cached session, open while the body streams', async (t) => {
  const { app } = await streamingApp(t)
  t.same(await json(app, '/sub'), { statusCode: 200, body: { named_session_open: true, session_open: true } })
})

// ported from tests/test_dependency_yield_scope.py test_broken_scope
test('a request-scoped generator that needs a function-scoped one is FST_DEPENDS_SCOPE from ready()', async (t) => {
  const { app, getNamedFuncSession } = await streamingApp(t)
  app.get('/broken-scope', { dependencies: { sessions: getNamedFuncSession } }, async () => 'unreachable')
  const err = await app.ready().then(() => null, (e: FastifyError) => e)
  t.equal(err?.code, 'FST_DEPENDS_SCOPE')
  t.match(err?.message, 'The dependency "getNamedFuncSession" has a scope of "request", it cannot depend on dependencies with scope "function"')
  t.match(err?.message, 'GET /broken-scope')
})

// ported from tests/test_dependency_yield_scope.py test_named_function_scope
test('a function-scoped generator over a function-scoped session: both closed before the body streams', async (t) => {
  const { app } = await streamingApp(t)
  t.same(await json(app, '/named-function-scope'), { statusCode: 200, body: { named_session_open: false, session_open: false } })
})

// ported from tests/test_dependency_yield_scope.py test_regular_function_scope
test('a plain dependency over a function-scoped session: its value lives on, the session is closed', async (t) => {
  const { app } = await streamingApp(t)
  t.same(await json(app, '/regular-function-scope'), { statusCode: 200, body: { named_session_open: true, session_open: false } })
})

function raiseAfterYield (): Dependency<undefined> {
  return depends(function * raiseAfterYield () {
    yield undefined
    throw httpError(503, 'Exception after yield')
  })
}

async function routerApp (t: Test) {
  const app = await build(t)
  const dep = raiseAfterYield()
  const router = async (context: FastifyInstance, opts: { scope: 'function' | 'request' }) => {
    context.addDependencies([Depends(dep, { scope: opts.scope })])
    context.get('/', async () => ({ status: 'ok' }))
  }
  await app.register(router, { prefix: '/router-scope-function', scope: 'function' })
  await app.register(router, { prefix: '/router-scope-request', scope: 'request' })
  return app
}

// ported from tests/test_dependency_yield_scope.py test_router_level_dep_scope_function
test('a function-scoped context-level generator that throws after yield becomes the response', async (t) => {
  const app = await routerApp(t)
  const res = await app.inject('/router-scope-function/')
  t.equal(res.statusCode, 503)
  t.same(res.json(), { statusCode: 503, error: 'Service Unavailable', message: 'Exception after yield' })
})

// ported from tests/test_dependency_yield_scope.py test_router_level_dep_scope_request
test('a request-scoped context-level generator that throws after yield leaves the response alone', async (t) => {
  const app = await routerApp(t)
  const res = await app.inject('/router-scope-request/')
  t.equal(res.statusCode, 200)
  t.same(res.json(), { status: 'ok' })
})

// ported from tests/test_dependency_yield_scope.py test_app_level_dep_scope_function
test('a function-scoped plugin-level generator that throws after yield becomes the response', async (t) => {
  const app = await build(t, { dependencies: [Depends(raiseAfterYield(), { scope: 'function' })] })
  app.get('/app-scope-function', async () => ({ status: 'ok' }))
  const res = await app.inject('/app-scope-function')
  t.equal(res.statusCode, 503)
  t.same(res.json(), { statusCode: 503, error: 'Service Unavailable', message: 'Exception after yield' })
})

// ported from tests/test_dependency_yield_scope.py test_app_level_dep_scope_request
test('a request-scoped plugin-level generator that throws after yield leaves the response alone', async (t) => {
  const app = await build(t, { dependencies: [Depends(raiseAfterYield(), { scope: 'request' })] })
  app.get('/app-scope-request', async () => ({ status: 'ok' }))
  const res = await app.inject('/app-scope-request')
  t.equal(res.statusCode, 200)
  t.same(res.json(), { status: 'ok' })
})

/** The websocket endpoints as plain handlers: they report what they saw, then everything closes. */
async function handlerApp (t: Test) {
  const d = sessionDependencies()
  const app = await build(t)
  app.get('/function-scope', { dependencies: { session: d.sessionFunc } }, async (request) => ({ is_open: (request.deps.session as Session).open }))
  app.get('/request-scope', { dependencies: { session: d.sessionRequest } }, async (request) => ({ is_open: (request.deps.session as Session).open }))
  app.get('/two-scopes', { dependencies: { func: d.sessionFunc, req: d.sessionRequest } }, async (request) =>
    ({ func_is_open: (request.deps.func as Session).open, req_is_open: (request.deps.req as Session).open }))
  const sessionsRoute = (url: string, sessions: Parameters<typeof Depends>[0] | ReturnType<typeof Depends>) =>
    app.get(url, { dependencies: { sessions } }, async (request) => {
      const [named, session] = request.deps.sessions as Sessions
      return { named_session_open: named.open, session_open: session.open }
    })
  sessionsRoute('/sub', d.getNamedSession)
  sessionsRoute('/named-function-scope', Depends(d.getNamedFuncSession, { scope: 'function' }))
  sessionsRoute('/regular-function-scope', d.getNamedRegularFuncSession)
  return { app, ...d }
}

const handlerCases: Array<[string, string, unknown, Record<string, boolean>]> = [
  ['test_function_scope', '/function-scope', { is_open: true }, { session_closed: true }],
  ['test_request_scope', '/request-scope', { is_open: true }, { session_closed: true }],
  ['test_two_scopes', '/two-scopes', { func_is_open: true, req_is_open: true }, { session_closed: true }],
  ['test_sub', '/sub', { named_session_open: true, session_open: true }, { named_session_closed: true, session_closed: true }],
  ['test_named_function_scope', '/named-function-scope', { named_session_open: true, session_open: true }, { named_func_session_closed: true, session_closed: true }],
  ['test_regular_function_scope', '/regular-function-scope', { named_session_open: true, session_open: true }, { session_closed: true }]
]
for (const [name, url, seen, closedAfter] of handlerCases) {
  // ported from tests/test_dependency_yield_scope_websockets.py (as HTTP) test_function_scope, test_request_scope, test_two_scopes, test_sub, test_named_function_scope, test_regular_function_scope
  test(`${name} (websockets, as HTTP): the handler sees ${url.slice(1)} open; all of it is closed after the request`, async (t) => {
    const { app, closed } = await handlerApp(t)
    t.same(await json(app, url), { statusCode: 200, body: seen })
    await settle()
    t.same(closed, closedAfter)
  })
}

// ported from tests/test_dependency_yield_scope_websockets.py test_broken_scope (as HTTP)
test('test_broken_scope (websockets, as HTTP): the scope rule is checked for every route the same way', async (t) => {
  const { app, getNamedFuncSession } = await handlerApp(t)
  app.get('/broken-scope', { dependencies: [getNamedFuncSession] }, async () => 'unreachable')
  const err = await app.ready().then(() => null, (e: FastifyError) => e)
  t.equal(err?.code, 'FST_DEPENDS_SCOPE')
})

/** tests/test_ws_dependencies.py: each level appends its name to one per-request list. */
async function levelsApp (t: Test) {
  const dependencyList = depends((): string[] => [], { name: 'dependencyList' })
  const createDependency = (name: string) => depends({ deps: dependencyList }, ({ deps }) => { deps.push(name) }, { name })
  const handler = async (request: { deps: Record<string, unknown> }) => request.deps.deps
  const app = await build(t, { dependencies: [createDependency('app')] })
  app.get('/', { dependencies: { _: createDependency('index'), deps: dependencyList } }, handler)
  await app.register(async (included) => {
    included.addDependencies([createDependency('router2')])
    await included.register(async (router) => {
      router.addDependencies([createDependency('router')])
      router.get('/router', { dependencies: { _: createDependency('routerindex'), deps: dependencyList } }, handler)
    })
  })
  await app.register(async (included) => {
    included.addDependencies([createDependency('prefix_router2')])
    await included.register(async (prefixRouter) => {
      prefixRouter.addDependencies([createDependency('prefix_router')])
      prefixRouter.get('/', { dependencies: { _: createDependency('routerprefixindex'), deps: dependencyList } }, handler)
    })
  }, { prefix: '/prefix' })
  return app
}

// ported from tests/test_ws_dependencies.py test_index (as HTTP)
test('plugin-level dependencies run before the route\'s own', async (t) => {
  const app = await levelsApp(t)
  t.same(await json(app, '/'), { statusCode: 200, body: ['app', 'index'] })
})

// ported from tests/test_ws_dependencies.py test_routerindex (as HTTP)
test('context dependencies run outermost first, between the plugin\'s and the route\'s', async (t) => {
  const app = await levelsApp(t)
  t.same(await json(app, '/router'), { statusCode: 200, body: ['app', 'router2', 'router', 'routerindex'] })
})

// ported from tests/test_ws_dependencies.py test_routerprefixindex (as HTTP)
test('context dependencies of a prefixed context apply to its routes in the same order', async (t) => {
  const app = await levelsApp(t)
  t.same(await json(app, '/prefix/'), { statusCode: 200, body: ['app', 'prefix_router2', 'prefix_router', 'routerprefixindex'] })
})
