import { Type } from '@sinclair/typebox'
import Fastify, { type FastifyInstance } from 'fastify'
import { test } from 'tap'
import { build, readyError, type CodedError } from './helpers'
import fastifyDepends, {
  Body, depends, Depends, Path, Query, Security,
  DependencyCycleError, DependencyInvalidError, DependencyParamConflictError, DependencyScopeError
} from '../lib/index'

interface Case {
  /** The misconfiguration class. */
  label: string
  code: string
  type: Function
  setup: (app: FastifyInstance, ran: string[]) => void | Promise<void>
  /** What the message must name: the route (method and URL) and the dependencies involved. */
  mentions: string[]
}

/** A plain dependency that records it ran (nothing may run to find a registration error). */
function plain (name: string, ran: string[]) {
  return depends(() => { ran.push(name); return name }, { name })
}

const cases: Case[] = [
  {
    label: 'scope violation: a request-scoped generator needs a function-scoped one',
    code: 'FST_DEPENDS_SCOPE',
    type: DependencyScopeError,
    setup (app, ran) {
      const getConnection = depends(function * () { ran.push('getConnection'); yield 'conn' }, { name: 'getConnection', scope: 'function' })
      const getSession = depends({ conn: getConnection }, function * ({ conn }) { ran.push('getSession'); yield conn }, { name: 'getSession' })
      app.get('/healthy', { dependencies: [plain('healthy', ran)] }, async () => 'ok')
      app.get('/orders', { dependencies: { session: getSession } }, async () => 'unreachable')
    },
    mentions: ['GET /orders', '"getSession"', '"getConnection"', 'has a scope of "request", it cannot depend on dependencies with scope "function"']
  },
  {
    label: 'cycle through an override (a dependency replaced by one that needs it)',
    code: 'FST_DEPENDS_CYCLE',
    type: DependencyCycleError,
    setup (app, ran) {
      const settings = plain('settings', ran)
      const tenant = depends({ settings }, ({ settings }) => { ran.push('tenant'); return settings }, { name: 'tenant' })
      app.dependencyOverrides.set(settings, tenant)
      app.get('/tenants', { dependencies: { tenant } }, async () => 'unreachable')
    },
    mentions: ['GET /tenants', '"settings" (overridden by "tenant")', '"tenant"']
  },
  {
    label: 'cycle through an override that wraps the dependency it replaces',
    code: 'FST_DEPENDS_CYCLE',
    type: DependencyCycleError,
    setup (app, ran) {
      const clock = plain('clock', ran)
      app.dependencyOverrides.set(clock, depends({ clock }, ({ clock }) => `fake ${clock}`, { name: 'fakeClock' }))
      app.post('/events', { dependencies: [Depends(clock)] }, async () => 'unreachable')
    },
    mentions: ['POST /events', '"clock" (overridden by "fakeClock")']
  },
  {
    label: 'param conflict: one query parameter declared with two schemas',
    code: 'FST_DEPENDS_PARAM_CONFLICT',
    type: DependencyParamConflictError,
    setup (app, ran) {
      const pagination = depends({ limit: Query('limit', Type.Integer()) }, () => { ran.push('pagination') }, { name: 'pagination' })
      const legacyPaging = depends({ limit: Query('limit', Type.String()) }, () => { ran.push('legacyPaging') }, { name: 'legacyPaging' })
      app.get('/items', { dependencies: [pagination, Security(legacyPaging, ['items'])] }, async () => 'unreachable')
    },
    mentions: ['GET /items', '"pagination"', '"legacyPaging"', '"limit"']
  },
  {
    label: 'param conflict: a path parameter against the route\'s own schema',
    code: 'FST_DEPENDS_PARAM_CONFLICT',
    type: DependencyParamConflictError,
    setup (app, ran) {
      const item = depends({ id: Path('id', Type.String()) }, () => { ran.push('item') }, { name: 'item' })
      app.get('/items/:id', { schema: { params: Type.Object({ id: Type.Integer() }) }, dependencies: { item } }, async () => 'unreachable')
    },
    mentions: ['GET /items/:id', '"item"', '"id"']
  },
  {
    label: 'a route dependency that is not a dependency (the function, not depends(fn))',
    code: 'FST_DEPENDS_INVALID',
    type: DependencyInvalidError,
    setup (app, ran) {
      function currentUser (): string { ran.push('currentUser'); return 'user' }
      app.get('/me', { dependencies: { user: currentUser } as never }, async () => 'unreachable')
    },
    mentions: ['GET /me', '"user"', 'function currentUser', 'not a dependency']
  },
  {
    label: 'Path() without the parameter in the URL',
    code: 'FST_DEPENDS_INVALID',
    type: DependencyInvalidError,
    setup (app, ran) {
      const item = depends({ id: Path('id', Type.Integer()) }, () => { ran.push('item') }, { name: 'item' })
      app.get('/items/:itemId', { dependencies: { item } }, async () => 'unreachable')
    },
    mentions: ['GET /items/:itemId', '"item"', ':id']
  },
  {
    label: 'Body() on a GET route',
    code: 'FST_DEPENDS_INVALID',
    type: DependencyInvalidError,
    setup (app, ran) {
      const filter = depends({ q: Body('q', Type.String()) }, () => { ran.push('filter') }, { name: 'filter' })
      app.get('/search', { dependencies: [filter] }, async () => 'unreachable')
    },
    mentions: ['GET /search', '"filter"', 'body']
  },
  {
    label: 'two root dependencies with one name (context and route)',
    code: 'FST_DEPENDS_INVALID',
    type: DependencyInvalidError,
    async setup (app, ran) {
      await app.register(async (child) => {
        child.addDependencies({ user: plain('contextUser', ran) })
        child.get('/profile', { dependencies: { user: plain('routeUser', ran) } }, async () => 'unreachable')
      })
    },
    mentions: ['GET /profile', '"user"']
  },
  {
    label: 'addDependencies after the context declared its routes',
    code: 'FST_DEPENDS_INVALID',
    type: DependencyInvalidError,
    async setup (app, ran) {
      await app.register(async (child) => {
        child.get('/early', async () => 'early')
        child.addDependencies([plain('tenantGuard', ran)])
      })
    },
    mentions: ['addDependencies()', 'GET /early', '"tenantGuard"']
  },
  {
    label: 'addDependencies with something that is not a dependency',
    code: 'FST_DEPENDS_INVALID',
    type: DependencyInvalidError,
    async setup (app) {
      await app.register(async (child) => {
        child.addDependencies([{ name: 'looksLikeOne' } as never])
        child.get('/later', async () => 'later')
      })
    },
    mentions: ['addDependencies()', '[0]', 'not a dependency']
  },
  {
    label: 'the plugin registered twice',
    code: 'FST_DEPENDS_INVALID',
    type: DependencyInvalidError,
    async setup (app) {
      app.register(fastifyDepends)
    },
    mentions: ['fastify-depends', 'already registered', 'once']
  }
]

for (const c of cases) {
  test(`${c.label}: ready() rejects with ${c.code}, a message naming what is involved, and nothing ran`, async (t) => {
    const app = await build(t)
    const ran: string[] = []
    await c.setup(app, ran)
    const err = await readyError(app)
    t.ok(err instanceof c.type, `an instance of ${c.type.name}`)
    t.equal(err?.code, c.code)
    for (const part of c.mentions) t.ok(err?.message.includes(part), `the message names ${part}: ${err?.message}`)
    t.same(ran, [], 'no dependency ran to find the error')
  })
}

test('a registration error also rejects listen(), and the server does not start listening', async (t) => {
  const app = await build(t)
  const ran: string[] = []
  await cases[0].setup(app, ran)
  await t.rejects(app.listen({ port: 0, host: '127.0.0.1' }), { code: 'FST_DEPENDS_SCOPE', message: /GET \/orders/ })
  t.equal(app.server.listening, false)
  t.same(ran, [])
})

test('an input that is not a dependency throws FST_DEPENDS_INVALID from depends() itself, naming the dependency and the input', async (t) => {
  const getUser = depends(() => ({ id: 1 }), { name: 'getUser' })
  const calledByMistake = (getUser as unknown as { name: string }).name // a value, not the dependency
  const attempts: Array<[string, () => unknown, string[]]> = [
    ['a string', () => depends({ user: calledByMistake } as never, () => 1, { name: 'currentUser' }), ['"currentUser"', '"user"', 'string getUser']],
    ['a promise', () => depends({ user: Promise.resolve(1) } as never, () => 1, { name: 'currentUser' }), ['"currentUser"', '"user"', 'an object']],
    ['a bare function', () => depends({ user: () => 1 } as never, () => 1, { name: 'currentUser' }), ['"currentUser"', '"user"', 'function']],
    ['undefined', () => depends({ user: undefined } as never, () => 1, { name: 'currentUser' }), ['"currentUser"', '"user"', 'undefined']]
  ]
  for (const [label, attempt, mentions] of attempts) {
    let err: CodedError | undefined
    try {
      attempt()
    } catch (e) {
      err = e as CodedError
    }
    t.ok(err instanceof DependencyInvalidError, `${label}: DependencyInvalidError`)
    t.equal(err?.code, 'FST_DEPENDS_INVALID', label)
    for (const part of [...mentions, 'not a dependency']) t.ok(err?.message.includes(part), `${label}: the message names ${part}: ${err?.message}`)
  }
  t.throws(() => Depends((() => 1) as never), { code: 'FST_DEPENDS_INVALID' }, 'Depends() of a plain function')
  t.throws(() => Security({} as never), { code: 'FST_DEPENDS_INVALID' }, 'Security() of an object')
})

test('a plain function where a dependency belongs: the message says to wrap it with depends()', async (t) => {
  function currentUser (): string { return 'user' }
  function getDb (): string { return 'db' }
  const routes: Array<[string, unknown, string]> = [
    ['/me', { user: currentUser }, 'Route GET /me: dependency "user" is a plain function (function currentUser), not a dependency; wrap it with depends(): depends(currentUser)'],
    ['/list', [currentUser], 'Route GET /list: dependency [0] is a plain function (function currentUser), not a dependency; wrap it with depends(): depends(currentUser)'],
    ['/anonymous', [(() => () => 'x')()], 'Route GET /anonymous: dependency [0] is a plain function (function (anonymous)), not a dependency; wrap it with depends(): depends(fn)']
  ]
  for (const [url, dependencies, message] of routes) {
    const app = await build(t)
    app.get(url, { dependencies: dependencies as never }, async () => 'unreachable')
    const err = await readyError(app)
    t.ok(err instanceof DependencyInvalidError, url)
    t.equal(err?.code, 'FST_DEPENDS_INVALID', url)
    t.equal(err?.message, message)
  }
  let err: CodedError | undefined
  try {
    depends({ db: getDb } as never, () => 1, { name: 'repository' })
  } catch (e) {
    err = e as CodedError
  }
  t.ok(err instanceof DependencyInvalidError)
  t.equal(err?.code, 'FST_DEPENDS_INVALID')
  t.equal(err?.message, 'dependency "repository": input "db" is a plain function (function getDb), not a dependency; wrap it with depends(): depends(getDb)')
  t.throws(() => depends({ db: () => 1 } as never, () => 1, { name: 'repository' }), {
    code: 'FST_DEPENDS_INVALID',
    message: 'dependency "repository": input "db" is a plain function (function db), not a dependency; wrap it with depends(): depends(db)'
  }, 'an arrow function takes its property\'s name')
  t.throws(() => depends({ db: (() => () => 1)() } as never, () => 1, { name: 'repository' }), {
    code: 'FST_DEPENDS_INVALID',
    message: 'dependency "repository": input "db" is a plain function (function (anonymous)), not a dependency; wrap it with depends(): depends(fn)'
  })
  t.throws(() => depends({ db: 'getDb' } as never, () => 1, { name: 'repository' }), {
    code: 'FST_DEPENDS_INVALID',
    message: 'dependency "repository": input "db" is not a dependency, got string getDb; pass the dependency itself, not the result of calling it'
  }, 'a value keeps the "result of calling it" hint')
})

test('one dependency where a record or an array belongs: the message says to write { name } or [name]', async (t) => {
  const currentUser = depends(() => 'user', { name: 'currentUser' })
  function currentUserFn (): string { return 'user' }
  const cases: Array<[string, (app: FastifyInstance) => void, string]> = [
    ['a dependency', (app) => { app.get('/me', { dependencies: currentUser as never }, async () => 'unreachable') },
      'Route GET /me: dependencies must be a record or an array of dependencies, got the dependency "currentUser" itself; write { currentUser } or [currentUser]'],
    ['Depends(dependency)', (app) => { app.get('/me', { dependencies: Depends(currentUser) as never }, async () => 'unreachable') },
      'Route GET /me: dependencies must be a record or an array of dependencies, got the dependency "currentUser" itself; write { currentUser } or [currentUser]'],
    ['a plain function', (app) => { app.get('/me', { dependencies: currentUserFn as never }, async () => 'unreachable') },
      'Route GET /me: dependencies must be a record or an array of dependencies, got function currentUserFn, a plain function; wrap it with depends() and list it: [depends(currentUserFn)]'],
    ['an anonymous function', (app) => { app.get('/me', { dependencies: (() => () => 1)() as never }, async () => 'unreachable') },
      'Route GET /me: dependencies must be a record or an array of dependencies, got function (anonymous), a plain function; wrap it with depends() and list it: [depends(fn)]'],
    ['a string', (app) => { app.get('/me', { dependencies: 'currentUser' as never }, async () => 'unreachable') },
      'Route GET /me: dependencies must be a record or an array of dependencies, got string currentUser'],
    ['addDependencies(dependency)', (app) => { app.addDependencies(currentUser as never) },
      'addDependencies(): dependencies must be a record or an array of dependencies, got the dependency "currentUser" itself; write { currentUser } or [currentUser]']
  ]
  for (const [label, setup, message] of cases) {
    const app = await build(t)
    setup(app)
    const err = await readyError(app)
    t.ok(err instanceof DependencyInvalidError, label)
    t.equal(err?.code, 'FST_DEPENDS_INVALID', label)
    t.equal(err?.message, message, label)
  }
  const withOptions = Fastify()
  t.after(() => withOptions.close())
  withOptions.register(fastifyDepends, { dependencies: currentUser as never })
  const pluginErr = await readyError(withOptions)
  t.equal(pluginErr?.code, 'FST_DEPENDS_INVALID')
  t.equal(pluginErr?.message, 'fastify-depends options: dependencies must be a record or an array of dependencies, got the dependency "currentUser" itself; write { currentUser } or [currentUser]')
  t.throws(() => depends(currentUser as never, () => 1, { name: 'profile' }), {
    code: 'FST_DEPENDS_INVALID',
    message: 'dependency "profile": inputs must be a record of dependencies, got the dependency "currentUser" itself; write depends({ currentUser }, fn)'
  })
})
