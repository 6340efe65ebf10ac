import { test } from 'tap'
import { build, EventLog, readyError, type CodedError } from './helpers'
import { depends, Depends, DependencyScopeError, type Dependency, type DependencyLike } from '../lib/index'

const SCOPE_MESSAGE = 'The dependency "getSession" has a scope of "request", it cannot depend on dependencies with scope "function".'

/** A request-scoped generator named getSession that needs `input`. */
function sessionNeeding (events: EventLog, input: DependencyLike<unknown>): Dependency<string> {
  return depends({ input }, function * ({ input }) {
    events.record('getSession:enter')
    yield `session(${String(input)})`
    events.record('getSession:exit')
  }, { name: 'getSession' })
}

function functionScopedGenerator (events: EventLog): Dependency<string> {
  return depends(function * () {
    events.record('getConnection:enter')
    yield 'conn'
    events.record('getConnection:exit')
  }, { name: 'getConnection', scope: 'function' })
}

test('a request-scoped generator depending on a function-scoped generator fails ready() with FST_DEPENDS_SCOPE', async (t) => {
  const app = await build(t)
  const events = new EventLog()
  const getSession = sessionNeeding(events, functionScopedGenerator(events))
  app.get('/x', { dependencies: { session: getSession } }, async () => { events.record('handler') })

  const err = await readyError(app)
  t.ok(err instanceof DependencyScopeError)
  t.equal(err?.code, 'FST_DEPENDS_SCOPE')
  t.match(err?.message, SCOPE_MESSAGE)
  t.match(err?.message, 'GET /x')
  t.same(events.list(), [], 'nothing ran to find the error')
})

test('an explicit scope: "request" generator depending on a plain dependency with scope "function" fails ready()', async (t) => {
  const app = await build(t)
  const events = new EventLog()
  const plainFunctionScoped = depends(() => { events.record('plain'); return 'p' }, { name: 'plainFunctionScoped', scope: 'function' })
  const getSession = depends({ p: plainFunctionScoped }, function * ({ p }) { yield p }, { name: 'getSession', scope: 'request' })
  app.get('/x', { dependencies: { session: getSession } }, async () => 'unreachable')

  const err = await readyError(app)
  t.ok(err instanceof DependencyScopeError)
  t.equal(err?.code, 'FST_DEPENDS_SCOPE')
  t.match(err?.message, SCOPE_MESSAGE)
  t.match(err?.message, 'GET /x')
  t.same(events.list(), [])
})

test('Depends(dep, { scope: "function" }) as an input of a request-scoped generator fails ready()', async (t) => {
  const app = await build(t)
  const events = new EventLog()
  const getConnection = depends(function * () { yield 'conn' }, { name: 'getConnection' })
  const getSession = sessionNeeding(events, Depends(getConnection, { scope: 'function' }))
  app.get('/x', { dependencies: { session: getSession } }, async () => 'unreachable')

  const err = await readyError(app)
  t.equal(err?.code, 'FST_DEPENDS_SCOPE')
  t.match(err?.message, SCOPE_MESSAGE)
  t.match(err?.message, 'GET /x')
})

test('a request-scoped generator reaching a function-scoped one through a plain dependency fails ready()', async (t) => {
  const app = await build(t)
  const events = new EventLog()
  const middle = depends({ conn: functionScopedGenerator(events) }, ({ conn }) => `middle(${conn})`, { name: 'middle' })
  const getSession = sessionNeeding(events, middle)
  app.get('/x', { dependencies: { session: getSession } }, async () => 'unreachable')

  const err = await readyError(app)
  t.ok(err instanceof DependencyScopeError)
  t.equal(err?.code, 'FST_DEPENDS_SCOPE')
  t.match(err?.message, SCOPE_MESSAGE)
  t.match(err?.message, 'GET /x')
  t.same(events.list(), [])
})

test('a scope violation in addDependencies or plugin-option dependencies names the route and fails ready()', async (t) => {
  const events = new EventLog()
  const getSession = sessionNeeding(events, functionScopedGenerator(events))

  const app = await build(t, { dependencies: [getSession] })
  app.get('/x', async () => 'unreachable')
  const err = await readyError(app)
  t.equal(err?.code, 'FST_DEPENDS_SCOPE')
  t.match(err?.message, 'GET /x')

  const other = await build(t)
  await other.register(async (child) => {
    child.addDependencies([getSession])
    child.post('/items', async () => 'unreachable')
  })
  const otherErr = await readyError(other)
  t.equal(otherErr?.code, 'FST_DEPENDS_SCOPE')
  t.match(otherErr?.message, 'POST /items')
  t.same(events.list(), [])
})

test('allowed scope combinations register and run: function -> request, function -> function, plain -> function', async (t) => {
  const app = await build(t)
  const events = new EventLog()
  const requestScoped = depends(function * () {
    events.record('request:enter')
    yield 'r'
    events.record('request:exit')
  }, { name: 'requestScoped' })
  const innerFunction = depends(function * () {
    events.record('innerFunction:enter')
    yield 'f'
    events.record('innerFunction:exit')
  }, { name: 'innerFunction', scope: 'function' })
  const outerFunction = depends({ r: requestScoped, f: innerFunction }, function * ({ r, f }) {
    events.record('outerFunction:enter')
    yield `outer(${r},${f})`
    events.record('outerFunction:exit')
  }, { name: 'outerFunction', scope: 'function' })
  const plain = depends({ f: innerFunction }, ({ f }) => `plain(${f})`, { name: 'plain' })
  app.get('/x', { dependencies: { outer: outerFunction, plain } }, async (request) => {
    events.record('handler')
    return request.deps
  })
  await app.ready()

  const res = await app.inject('/x')
  t.equal(res.statusCode, 200)
  t.same(res.json(), { outer: 'outer(r,f)', plain: 'plain(f)' })
  await events.until('request:exit')
  t.same(events.list(), [
    'request:enter', 'innerFunction:enter', 'outerFunction:enter', 'handler',
    'outerFunction:exit', 'innerFunction:exit', // function scope, LIFO, before the response
    'request:exit' // request scope, after the response
  ])
})

test('a route whose dependencies failed to register never runs without them, even on requests after ready() failed', async (t) => {
  const app = await build(t)
  const events = new EventLog()
  app.get('/x', { dependencies: { session: sessionNeeding(events, functionScopedGenerator(events)) } }, async () => {
    events.record('handler')
    return 'handler ran without its dependencies'
  })

  await t.rejects(app.inject('/x'), { code: 'FST_DEPENDS_SCOPE' })
  // Fastify counts the app as started once its plugins loaded, so a second inject() skips ready().
  const code = await app.inject('/x').then(
    (res) => res.statusCode === 500 ? res.json().code : `answered ${res.statusCode}: ${res.body}`,
    (err: CodedError) => err.code
  )
  t.equal(code, 'FST_DEPENDS_SCOPE', 'rejected, or answered with the registration error')
  t.same(events.list(), [])
})

test('an override introducing a scope violation after ready() throws FST_DEPENDS_SCOPE from set(), not from a request', async (t) => {
  const app = await build(t)
  const events = new EventLog()
  const getConnection = depends(() => 'conn', { name: 'getConnection' })
  const getSession = sessionNeeding(events, getConnection)
  app.get('/x', { dependencies: { session: getSession } }, async (request) => ({ session: request.deps.session }))
  await app.ready()

  const replacement = depends({ c: functionScopedGenerator(events) }, ({ c }) => `pooled(${c})`)
  t.throws(() => app.dependencyOverrides.set(getConnection, replacement), { code: 'FST_DEPENDS_SCOPE', message: /GET \/x/ })
  t.equal(app.dependencyOverrides.size, 0)
  const res = await app.inject('/x')
  t.equal(res.statusCode, 200)
  t.same(res.json(), { session: 'session(conn)' })
  await events.until('getSession:exit')
  t.same(events.list(), ['getSession:enter', 'getSession:exit'])
})

test('a function-scoped generator replacing an input of a request-scoped generator never closes before it', async (t) => {
  const app = await build(t)
  const events = new EventLog()
  const getConnection = depends(() => 'conn', { name: 'getConnection' })
  app.get('/x', { dependencies: { session: sessionNeeding(events, getConnection) } }, async () => { events.record('handler') })
  await app.ready()

  // Either the override is refused like any scope violation, or it runs in the original's (request) scope.
  try {
    app.dependencyOverrides.set(getConnection, functionScopedGenerator(events))
  } catch (err) {
    t.equal((err as CodedError).code, 'FST_DEPENDS_SCOPE')
    return
  }
  const res = await app.inject('/x')
  t.equal(res.statusCode, 200)
  await events.until('getConnection:exit')
  await events.until('getSession:exit')
  t.same(events.list(), ['getConnection:enter', 'getSession:enter', 'handler', 'getSession:exit', 'getConnection:exit'])
})
