import { setImmediate as tick } from 'node:timers/promises'
import { test } from 'tap'
import { build } from './helpers'
import {
  depends, Depends, Security, httpError, isDependency,
  type DependencyContext, type DependencyValue, type SecurityScopes
} from '../lib/index'

type Equal<A, B> = (<T>() => T extends A ? 1 : 2) extends (<T>() => T extends B ? 1 : 2) ? true : false
/** Type-checks only when A and B are the same type. */
function expectType<A, B> (_proof: Equal<A, B>): void {}

test('depends(fn) defines a dependency whose value lands on request.deps', async (t) => {
  const app = await build(t)
  const requestId = depends((_, { request }) => request.id)
  expectType<DependencyValue<typeof requestId>, string>(true)
  let id: string | undefined
  app.get('/', { dependencies: { id: requestId } }, async (request) => {
    id = request.id
    return request.deps
  })
  const res = await app.inject('/')
  t.equal(res.statusCode, 200)
  t.type(id, 'string')
  t.same(res.json(), { id })
})

test('plain, async, generator and async generator functions each provide their value', async (t) => {
  const app = await build(t)
  const base = depends(() => 10)
  const plain = depends({ base }, ({ base }) => base + 1, { name: 'plain' })
  const asyncFn = depends({ base }, async ({ base }) => {
    await tick()
    return base + 2
  }, { name: 'asyncFn' })
  const generator = depends({ base }, function * ({ base }) {
    yield base + 3
  }, { name: 'generator' })
  const asyncGenerator = depends({ base }, async function * ({ base }) {
    await tick()
    yield base + 4
  }, { name: 'asyncGenerator' })
  expectType<DependencyValue<typeof plain>, number>(true)
  expectType<DependencyValue<typeof asyncFn>, number>(true)
  expectType<DependencyValue<typeof generator>, number>(true)
  expectType<DependencyValue<typeof asyncGenerator>, number>(true)
  app.get('/', { dependencies: { plain, asyncFn, generator, asyncGenerator } }, async (request) => request.deps)
  const res = await app.inject('/')
  t.equal(res.statusCode, 200)
  t.same(res.json(), { plain: 11, asyncFn: 12, generator: 13, asyncGenerator: 14 })
})

test('inputs arrive typed and with the values of their dependencies', async (t) => {
  const app = await build(t)
  const count = depends(async () => 3)
  const label = depends(function * () {
    yield 'items'
  })
  const user = depends(async function * () {
    yield { id: 7, roles: ['admin'] as string[] }
  })
  let received: unknown
  const summary = depends({ count, label: Depends(label), user: Security(user, ['me']) }, (inputs) => {
    expectType<typeof inputs.count, number>(true)
    expectType<typeof inputs.label, string>(true)
    expectType<typeof inputs.user, { id: number, roles: string[] }>(true)
    // @ts-expect-error count is a number, not a string
    expectType<typeof inputs.count, string>(true)
    received = inputs
    return `${inputs.count} ${inputs.label} for user ${inputs.user.id}`
  })
  app.get('/', { dependencies: { summary } }, async (request) => request.deps)
  const res = await app.inject('/')
  t.equal(res.statusCode, 200)
  t.same(received, { count: 3, label: 'items', user: { id: 7, roles: ['admin'] } })
  t.same(res.json(), { summary: '3 items for user 7' })
})

test('ctx holds the request and reply of the current request', async (t) => {
  const app = await build(t)
  let ctx: DependencyContext | undefined
  const capture = depends((_, context) => {
    ctx = context
    return 'ok'
  })
  let same = false
  app.get('/', { dependencies: { capture } }, async (request, reply) => {
    same = ctx?.request === request && ctx?.reply === reply
    return 'done'
  })
  const res = await app.inject('/')
  t.equal(res.statusCode, 200)
  t.equal(res.body, 'done')
  t.ok(same, 'ctx.request and ctx.reply are the handler\'s request and reply')
})

test('a dependency sets a response header through ctx.reply', async (t) => {
  const app = await build(t)
  const plain = depends((_, { reply }) => {
    reply.header('x-plain', 'one')
    return 1
  })
  const session = depends(async function * (_, { reply }) {
    reply.header('x-session', 'two')
    yield 2
  })
  app.get('/', { dependencies: [plain, session] }, async () => 'ok')
  const res = await app.inject('/')
  t.equal(res.statusCode, 200)
  t.equal(res.headers['x-plain'], 'one')
  t.equal(res.headers['x-session'], 'two')
  t.equal(res.body, 'ok')
})

test('ctx.securityScopes is empty by default and holds the scopes declared with Security()', async (t) => {
  const app = await build(t)
  const seen: Record<string, SecurityScopes> = {}
  const reader = (key: string) => depends((_, { securityScopes }) => {
    seen[key] = securityScopes
    return key
  }, { name: key })
  const leaf = reader('leaf')
  const inner = depends({ leaf }, ({ leaf }) => leaf, { name: 'inner' })
  const outer = depends({ inner: Security(inner, ['a', 'b']) }, ({ inner }) => inner, { name: 'outer' })
  app.get('/', {
    dependencies: {
      plain: reader('plain'),
      bare: Security(reader('bare')),
      scoped: Security(reader('scoped'), ['a', 'b']),
      nested: Security(outer, ['a'])
    }
  }, async () => 'ok')
  const res = await app.inject('/')
  t.equal(res.statusCode, 200)
  t.same(seen.plain, { scopes: [], scopeStr: '' })
  t.same(seen.bare, { scopes: [], scopeStr: '' })
  t.same(seen.scoped, { scopes: ['a', 'b'], scopeStr: 'a b' })
  // scopes flow down the path without duplicates: ['a'] then ['a', 'b'] gives ['a', 'b']
  t.same(seen.leaf, { scopes: ['a', 'b'], scopeStr: 'a b' })
})

test('name defaults to the function name and is set by the name option', async (t) => {
  function loadUser (): number {
    return 1
  }
  const getDb = (): number => 2
  t.equal(depends(loadUser).name, 'loadUser')
  t.equal(depends(getDb).name, 'getDb')
  t.equal(depends(async function * openSession () { yield 1 }).name, 'openSession')
  t.equal(depends(loadUser, { name: 'currentUser' }).name, 'currentUser')
  t.equal(depends({ db: depends(getDb) }, loadUser, { name: 'withDb' }).name, 'withDb')
  t.throws(() => depends({ db: 42 } as never, loadUser, { name: 'currentUser' }), { code: 'FST_DEPENDS_INVALID', message: /currentUser/ })
  t.throws(() => depends(loadUser, { name: 42 } as never), { code: 'FST_DEPENDS_INVALID' })

  const app = await build(t)
  const broken = depends(function * neverYields () {}, { name: 'brokenSession' })
  app.get('/', { dependencies: [broken] }, async () => 'unreachable')
  const res = await app.inject('/')
  t.equal(res.statusCode, 500)
  t.equal(res.json().code, 'FST_DEPENDS_GENERATOR')
  t.match(res.json().message, /brokenSession/)
})

test('a non-function fn throws FST_DEPENDS_INVALID at definition', async (t) => {
  const dep = depends(() => 1)
  t.throws(() => depends(42 as never), { code: 'FST_DEPENDS_INVALID' })
  t.throws(() => depends(undefined as never), { code: 'FST_DEPENDS_INVALID' })
  t.throws(() => depends({ dep }, 'handler' as never), { code: 'FST_DEPENDS_INVALID' })
  t.throws(() => depends({ dep }, undefined as never), { code: 'FST_DEPENDS_INVALID' })
})

test('an input that is not a dependency throws FST_DEPENDS_INVALID at definition', async (t) => {
  const getDb = depends(() => ({ query: () => 'rows' }))
  const fn = (): number => 1
  // depends({ db: getDb() }) style mistakes: a value, a number, a bare function
  t.throws(() => depends({ db: { query: () => 'rows' } } as never, fn), { code: 'FST_DEPENDS_INVALID', message: /"db"/ })
  t.throws(() => depends({ db: getDb, limit: 10 } as never, fn), { code: 'FST_DEPENDS_INVALID', message: /"limit"/ })
  t.throws(() => depends({ db: fn } as never, fn), { code: 'FST_DEPENDS_INVALID' })
  t.throws(() => depends({ db: null } as never, fn), { code: 'FST_DEPENDS_INVALID' })
})

test('inputs that are not a record throw FST_DEPENDS_INVALID at definition', async (t) => {
  const dep = depends(() => 1)
  const fn = (): number => 1
  t.throws(() => depends(42 as never, fn), { code: 'FST_DEPENDS_INVALID' })
  t.throws(() => depends('dep' as never, fn), { code: 'FST_DEPENDS_INVALID' })
  t.throws(() => depends(null as never, fn), { code: 'FST_DEPENDS_INVALID' })
  t.throws(() => depends([dep] as never, fn), { code: 'FST_DEPENDS_INVALID' })
})

test('bad scope, useCache and options values throw FST_DEPENDS_INVALID at definition', async (t) => {
  const dep = depends(() => 1)
  const fn = (): number => 1
  t.throws(() => depends(fn, { scope: 'session' } as never), { code: 'FST_DEPENDS_INVALID' })
  t.throws(() => Depends(dep, { scope: 'session' } as never), { code: 'FST_DEPENDS_INVALID' })
  t.throws(() => Security(dep, [], { scope: 42 } as never), { code: 'FST_DEPENDS_INVALID' })
  t.throws(() => depends(fn, { useCache: 'no' } as never), { code: 'FST_DEPENDS_INVALID' })
  t.throws(() => Depends(dep, { useCache: 0 } as never), { code: 'FST_DEPENDS_INVALID' })
  t.throws(() => Security(dep, ['a'], { useCache: 'false' } as never), { code: 'FST_DEPENDS_INVALID' })
  t.throws(() => depends(fn, 'options' as never), { code: 'FST_DEPENDS_INVALID' })
  t.throws(() => depends(fn, [] as never), { code: 'FST_DEPENDS_INVALID' })
  t.throws(() => depends({ dep }, fn, 5 as never), { code: 'FST_DEPENDS_INVALID' })
  t.throws(() => Depends(dep, 5 as never), { code: 'FST_DEPENDS_INVALID' })
  t.throws(() => Security(dep, ['a'], 'options' as never), { code: 'FST_DEPENDS_INVALID' })
  t.throws(() => depends(fn, { usesScopes: 'yes' } as never), { code: 'FST_DEPENDS_INVALID' })
  t.throws(() => depends(fn, { responses: 401 } as never), { code: 'FST_DEPENDS_INVALID' })
  // valid values pass
  t.doesNotThrow(() => Depends(dep, { scope: 'function', useCache: false }))
  t.doesNotThrow(() => depends(fn, { scope: 'request', useCache: true, usesScopes: true }))
})

test('Depends() and Security() of something that is not a dependency throw FST_DEPENDS_INVALID', async (t) => {
  const fn = (): number => 1
  t.throws(() => Depends(fn as never), { code: 'FST_DEPENDS_INVALID' })
  t.throws(() => Depends({ name: 'fake' } as never), { code: 'FST_DEPENDS_INVALID' })
  t.throws(() => Depends(undefined as never), { code: 'FST_DEPENDS_INVALID' })
  t.throws(() => Security(fn as never, ['a']), { code: 'FST_DEPENDS_INVALID' })
  t.throws(() => Security(42 as never), { code: 'FST_DEPENDS_INVALID' })
})

test('Security() with scopes that are not an array of strings throws FST_DEPENDS_INVALID', async (t) => {
  const dep = depends(() => 1)
  t.throws(() => Security(dep, 'a b' as never), { code: 'FST_DEPENDS_INVALID' })
  t.throws(() => Security(dep, [1] as never), { code: 'FST_DEPENDS_INVALID' })
  t.throws(() => Security(dep, { scopes: ['a'] } as never), { code: 'FST_DEPENDS_INVALID' })
  t.doesNotThrow(() => Security(dep, ['a', 'b']))
  t.doesNotThrow(() => Security(dep))
})

test('isDependency recognizes what depends() returns and nothing else', async (t) => {
  const fn = (): number => 1
  t.equal(isDependency(depends(fn)), true)
  t.equal(isDependency(depends(async function * () { yield 1 })), true)
  t.equal(isDependency(fn), false)
  t.equal(isDependency({ name: 'fn' }), false)
  t.equal(isDependency(null), false)
  t.equal(isDependency(undefined), false)
  t.equal(isDependency(1), false)
})

test('httpError thrown by a dependency answers with its status and headers', async (t) => {
  const app = await build(t)
  let handlerRan = false
  const teapot = depends(() => {
    throw httpError(418, 'teapot', { 'x-a': 'b' })
  })
  app.get('/', { dependencies: [teapot] }, async () => {
    handlerRan = true
    return 'unreachable'
  })
  const res = await app.inject('/')
  t.equal(res.statusCode, 418)
  t.equal(res.headers['x-a'], 'b')
  t.same(res.json(), { statusCode: 418, error: 'I\'m a Teapot', message: 'teapot' })
  t.equal(handlerRan, false)

  const err = httpError(401, 'nope')
  t.equal(err.statusCode, 401)
  t.equal(err.message, 'nope')
  t.equal(err.headers, undefined)
})
