import { test } from 'tap'
import { build, EventLog } from './helpers'
import { depends, Depends, Security, type SecurityScopes } from '../lib/index'

/** A plain dependency that counts its calls and provides the count. */
function counter (name = 'counter', options: { useCache?: boolean, usesScopes?: boolean } = {}) {
  let calls = 0
  const dep = depends(() => ++calls, { name, ...options })
  return { dep, calls: () => calls }
}

test('a dependency needed in several places runs once per request and every place gets the same value', async (t) => {
  const app = await build(t)
  let calls = 0
  const db = depends(() => ({ connection: ++calls }))
  const users = depends({ db }, ({ db }) => db)
  const items = depends({ db, alsoDb: Depends(db) }, ({ db, alsoDb }) => ({ db, alsoDb }))
  let same = false
  app.get('/', { dependencies: { db, users, items } }, async (request) => {
    const deps = request.deps as { db: object, users: object, items: { db: object, alsoDb: object } }
    same = deps.users === deps.db && deps.items.db === deps.db && deps.items.alsoDb === deps.db
    return deps
  })
  const res = await app.inject('/')
  t.equal(res.statusCode, 200)
  t.equal(calls, 1)
  t.ok(same, 'every place holds the very same object')
  t.same(res.json(), { db: { connection: 1 }, users: { connection: 1 }, items: { db: { connection: 1 }, alsoDb: { connection: 1 } } })
})

test('a dependency shared by the plugin, context and route lists runs once', async (t) => {
  const { dep, calls } = counter()
  const app = await build(t, { dependencies: [dep] })
  app.addDependencies({ fromContext: dep })
  app.get('/', { dependencies: { fromRoute: dep } }, async (request) => request.deps)
  const res = await app.inject('/')
  t.same(res.json(), { fromContext: 1, fromRoute: 1 })
  t.equal(calls(), 1)
})

test('each request gets a fresh cache (FastAPI B22)', async (t) => {
  const app = await build(t)
  const { dep } = counter()
  app.get('/', { dependencies: { counter: dep } }, async (request) => request.deps)
  t.same((await app.inject('/')).json(), { counter: 1 })
  t.same((await app.inject('/')).json(), { counter: 2 })
})

test('useCache: false at a use site runs again and still fills the cache (FastAPI B26)', async (t) => {
  const app = await build(t)
  const { dep } = counter('p')
  app.get('/', {
    dependencies: { a: Depends(dep, { useCache: false }), b: dep, c: Depends(dep, { useCache: false }) }
  }, async (request) => request.deps)
  t.same((await app.inject('/')).json(), { a: 1, b: 1, c: 2 })
})

test('useCache: false on a sub-dependency runs it again while the cached parent keeps its value (FastAPI test_sub_counter_no_cache)', async (t) => {
  const app = await build(t)
  const { dep, calls } = counter()
  const superDep = depends({ count: dep }, ({ count }) => count)
  app.get('/', {
    dependencies: { subcounter: superDep, counter: Depends(dep, { useCache: false }) }
  }, async (request) => request.deps)
  t.same((await app.inject('/')).json(), { subcounter: 1, counter: 2 })
  t.equal(calls(), 2)
})

test('useCache: false on the definition runs it at every use site; a use site can opt back in', async (t) => {
  const app = await build(t)
  const { dep, calls } = counter('fresh', { useCache: false })
  app.get('/', {
    dependencies: { a: dep, b: dep, c: Depends(dep, { useCache: true }) }
  }, async (request) => request.deps)
  t.same((await app.inject('/')).json(), { a: 1, b: 2, c: 1 })
  t.equal(calls(), 2)
})

test('the scope is part of the cache key of a plain dependency (FastAPI B27)', async (t) => {
  const app = await build(t)
  const { dep, calls } = counter('f')
  app.get('/', {
    dependencies: {
      plain: Depends(dep),
      request: Depends(dep, { scope: 'request' }),
      function: Depends(dep, { scope: 'function' }),
      again: dep
    }
  }, async (request) => request.deps)
  t.same((await app.inject('/')).json(), { plain: 1, request: 2, function: 3, again: 1 })
  t.equal(calls(), 3)
})

test('a generator shares its instance between default and request scope; function scope is a second instance (FastAPI B27)', async (t) => {
  const app = await build(t)
  const events = new EventLog()
  let instances = 0
  const g = depends(function * () {
    const id = ++instances
    events.record(`g#${id}:enter`)
    yield id
    events.record(`g#${id}:exit`)
  }, { name: 'g' })
  app.get('/', {
    dependencies: { a: Depends(g), b: Depends(g, { scope: 'request' }), c: Depends(g, { scope: 'function' }) }
  }, async (request) => {
    events.record('handler')
    return request.deps
  })
  const res = await app.inject('/')
  t.same(res.json(), { a: 1, b: 1, c: 2 })
  await events.until('g#1:exit')
  t.same(events.list(), ['g#1:enter', 'g#2:enter', 'handler', 'g#2:exit', 'g#1:exit'])
})

test('Security scopes split the cache of a dependency used with scopes (FastAPI B28)', async (t) => {
  const app = await build(t)
  const { dep, calls } = counter()
  app.get('/', {
    dependencies: {
      counter: Security(dep),
      scopeCounter1: Security(dep, ['scope']),
      scopeCounter2: Security(dep, ['scope'])
    }
  }, async (request) => request.deps)
  t.same((await app.inject('/')).json(), { counter: 1, scopeCounter1: 2, scopeCounter2: 2 })
  t.equal(calls(), 2)
})

test('a plain sub-dependency reached under different scope sets runs once (FastAPI B28)', async (t) => {
  const app = await build(t)
  const db = counter('db')
  const seen: SecurityScopes[] = []
  const user = depends({ db: db.dep }, ({ db }, { securityScopes }) => {
    seen.push(securityScopes)
    return { db, scopes: securityScopes.scopeStr }
  }, { name: 'user', usesScopes: true })
  app.get('/', {
    dependencies: { me: Security(user, ['me']), items: Security(user, ['items']) }
  }, async (request) => request.deps)
  const res = await app.inject('/')
  t.same(res.json(), { me: { db: 1, scopes: 'me' }, items: { db: 1, scopes: 'items' } })
  t.equal(db.calls(), 1)
  t.same(seen, [{ scopes: ['me'], scopeStr: 'me' }, { scopes: ['items'], scopeStr: 'items' }])
})

test('a dependency that uses scopes runs once per distinct set of scopes, in any order', async (t) => {
  const app = await build(t)
  const reader = counter('reader', { usesScopes: true })
  const plain = counter('plain')
  const viaReader = depends({ r: reader.dep }, ({ r }) => r, { name: 'viaReader' })
  const viaPlain = depends({ p: plain.dep }, ({ p }) => p, { name: 'viaPlain' })
  app.get('/', {
    dependencies: {
      ab: Security(viaReader, ['a', 'b']),
      ba: Security(viaReader, ['b', 'a']),
      c: Security(viaReader, ['c']),
      plainA: Security(viaPlain, ['a']),
      plainC: Security(viaPlain, ['c'])
    }
  }, async (request) => request.deps)
  const res = await app.inject('/')
  // viaReader uses scopes through its input: its key, and reader's, include the sorted scope set
  t.same(res.json(), { ab: 1, ba: 1, c: 2, plainA: 1, plainC: 1 })
  t.equal(reader.calls(), 2)
  t.equal(plain.calls(), 1)
})

test('a cache hit does not re-run the cached dependency\'s inputs (documented difference from FastAPI B25)', async (t) => {
  const app = await build(t)
  const events = new EventLog()
  let innerCalls = 0
  const inner = depends(() => {
    events.record('inner')
    return ++innerCalls
  }, { name: 'inner' })
  const a = depends({ x: Depends(inner, { useCache: false }) }, ({ x }) => {
    events.record('a')
    return x
  }, { name: 'a' })
  app.get('/', { dependencies: { first: a, second: a } }, async (request) => {
    events.record('handler')
    return request.deps
  })
  const res = await app.inject('/')
  t.same(res.json(), { first: 1, second: 1 })
  t.same(events.list(), ['inner', 'a', 'handler'])
})

test('a cached generator is entered and finalized once however many places need it', async (t) => {
  const app = await build(t)
  const events = new EventLog()
  const session = depends(async function * () {
    events.record('session:enter')
    yield 'session'
    events.record('session:exit')
  }, { name: 'session' })
  const repo = depends({ session }, ({ session }) => `repo(${session})`)
  app.get('/', { dependencies: { session, repo, again: Depends(session) } }, async (request) => {
    events.record('handler')
    return request.deps
  })
  const res = await app.inject('/')
  t.same(res.json(), { session: 'session', repo: 'repo(session)', again: 'session' })
  await events.until('session:exit')
  t.same(events.list(), ['session:enter', 'handler', 'session:exit'])
})
