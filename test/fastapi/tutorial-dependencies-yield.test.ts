import { Type } from '@sinclair/typebox'
import type { FastifyError } from 'fastify'
import { test, type Test } from 'tap'
import { build, EventLog, logCollector, settle } from '../helpers'
import { depends, Depends, httpError, Path } from '../../lib/index'

// Ported from FastAPI's tests/test_tutorial/test_dependencies/ for the "dependencies with yield"
// tutorials: 007, 008, 008b, 008c, 008d, 008e and 010. FastAPI's mocked DBSession is a small
// class recording its calls; "the exception reaches the test client" is "the error handler
// receives it"; `{"detail": ...}` is `message`.

class DBSession {
  constructor (private readonly events: EventLog, readonly name = 'db') {}
  close (other?: DBSession): void {
    this.events.record(other === undefined ? `close ${this.name}` : `close ${this.name} with ${other.name}`)
  }

  toString (): string {
    return `DBSession(${this.name})`
  }
}

// ported from tests/test_tutorial/test_dependencies/test_tutorial007.py test_get_db
test('tutorial007: the generator\'s session is the value and is closed once, after the response', async (t) => {
  const app = await build(t)
  const events = new EventLog()
  const getDb = depends(async function * getDb () {
    const db = new DBSession(events)
    try {
      yield db
    } finally {
      db.close()
    }
  })
  app.get('/', { dependencies: { db: getDb } }, async (request) => ({ c: String(request.deps.db) }))
  t.same((await app.inject('/')).json(), { c: 'DBSession(db)' })
  await events.until('close db')
  t.same(events.list(), ['close db'])
})

// ported from tests/test_tutorial/test_dependencies/test_tutorial008.py test_get_db
test('tutorial008: a chain of generators is closed innermost first, each with the value it depends on', async (t) => {
  const app = await build(t)
  const events = new EventLog()
  const dependencyA = depends(async function * dependencyA () {
    const depA = new DBSession(events, 'a')
    try { yield depA } finally { depA.close() }
  })
  const dependencyB = depends({ depA: dependencyA }, async function * dependencyB ({ depA }) {
    const depB = new DBSession(events, 'b')
    try { yield depB } finally { depB.close(depA) }
  })
  const dependencyC = depends({ depB: dependencyB }, async function * dependencyC ({ depB }) {
    const depC = new DBSession(events, 'c')
    try { yield depC } finally { depC.close(depB) }
  })
  app.get('/', { dependencies: { c: dependencyC } }, async (request) => ({ c: String(request.deps.c) }))
  const res = await app.inject('/')
  t.equal(res.statusCode, 200)
  t.same(res.json(), { c: 'DBSession(c)' })
  await events.until('close a')
  t.same(events.list(), ['close c with b', 'close b with a', 'close a'])
})

class OwnerError extends Error {}
class InternalError extends Error {}

const data: Record<string, { description: string, owner: string }> = {
  plumbus: { description: 'Freshly pickled plumbus', owner: 'Morty' },
  'portal-gun': { description: 'Gun to create portals', owner: 'Rick' }
}

async function tutorial008b (t: Test) {
  const getUsername = depends(function * getUsername () {
    try {
      yield 'Rick'
    } catch (err) {
      if (err instanceof OwnerError) throw httpError(400, `Owner error: ${err.message}`)
      throw err
    }
  })
  const app = await build(t)
  app.get('/items/:item_id', { dependencies: { itemId: Path('item_id', Type.String()), username: getUsername } }, async (request) => {
    const { itemId, username } = request.deps as { itemId: string, username: string }
    if (!(itemId in data)) throw httpError(404, 'Item not found')
    const item = data[itemId]
    if (item.owner !== username) throw new OwnerError(username)
    return item
  })
  return app
}

// ported from tests/test_tutorial/test_dependencies/test_tutorial008b.py test_get_no_item
test('tutorial008b test_get_no_item: an httpError the generator does not handle answers as it is', async (t) => {
  const res = await (await tutorial008b(t)).inject('/items/foo')
  t.equal(res.statusCode, 404)
  t.same(res.json(), { statusCode: 404, error: 'Not Found', message: 'Item not found' })
})

// ported from tests/test_tutorial/test_dependencies/test_tutorial008b.py test_owner_error
test('tutorial008b test_owner_error: the generator turns the handler\'s error into a 400', async (t) => {
  const res = await (await tutorial008b(t)).inject('/items/plumbus')
  t.equal(res.statusCode, 400)
  t.same(res.json(), { statusCode: 400, error: 'Bad Request', message: 'Owner error: Rick' })
})

// ported from tests/test_tutorial/test_dependencies/test_tutorial008b.py test_get_item
test('tutorial008b test_get_item: without an error the item is served', async (t) => {
  const res = await (await tutorial008b(t)).inject('/items/portal-gun')
  t.equal(res.statusCode, 200)
  t.same(res.json(), { description: 'Gun to create portals', owner: 'Rick' })
})

/** Tutorials 008c (the generator swallows InternalError) and 008d (it re-throws it). */
async function tutorial008cd (t: Test, rethrow: boolean) {
  const log = logCollector()
  const handled: FastifyError[] = []
  const getUsername = depends(function * getUsername () {
    try {
      yield 'Rick'
    } catch (err) {
      if (!(err instanceof InternalError)) throw err
      if (rethrow) throw err
    }
  })
  const app = await build(t, {}, { logger: { level: 'error', stream: log.stream } })
  app.setErrorHandler((err: FastifyError, _request, reply) => {
    handled.push(err)
    reply.send(err)
  })
  app.get('/items/:item_id', { dependencies: { itemId: Path('item_id', Type.String()), username: getUsername } }, async (request) => {
    const { itemId, username } = request.deps as { itemId: string, username: string }
    if (itemId === 'portal-gun') throw new InternalError(`The portal gun is too dangerous to be owned by ${username}`)
    if (itemId !== 'plumbus') throw httpError(404, "Item not found, there's only a plumbus here")
    return itemId
  })
  return { app, log, handled }
}

for (const [file, rethrow] of [['tutorial008c', false], ['tutorial008d', true]] as const) {
  // ported from tests/test_tutorial/test_dependencies/test_tutorial008c.py / test_tutorial008d.py test_get_no_item
  test(`${file} test_get_no_item: an error the generator does not catch answers as it is`, async (t) => {
    const res = await (await tutorial008cd(t, rethrow)).app.inject('/items/foo')
    t.equal(res.statusCode, 404)
    t.same(res.json(), { statusCode: 404, error: 'Not Found', message: "Item not found, there's only a plumbus here" })
  })

  // ported from tests/test_tutorial/test_dependencies/test_tutorial008c.py / test_tutorial008d.py test_get
  test(`${file} test_get: the item is served`, async (t) => {
    const res = await (await tutorial008cd(t, rethrow)).app.inject('/items/plumbus')
    t.equal(res.statusCode, 200)
    t.equal(res.body, 'plumbus')
  })
}

// ported from tests/test_tutorial/test_dependencies/test_tutorial008c.py test_fastapi_error (deliberately different: coded error instead of FastAPIError)
test('tutorial008c test_fastapi_error: a swallowed error reaches the error handler as FST_DEPENDS_ERROR_SWALLOWED, logged with the original', async (t) => {
  const { app, log, handled } = await tutorial008cd(t, false)
  await app.inject('/items/portal-gun')
  t.equal(handled.length, 1)
  t.equal(handled[0].code, 'FST_DEPENDS_ERROR_SWALLOWED')
  t.match(handled[0].message, 'getUsername')
  const swallowed = log.lines.filter((line) => line.dependency === 'getUsername')
  t.equal(swallowed.length, 1)
  t.equal((swallowed[0].err as { message: string }).message, 'The portal gun is too dangerous to be owned by Rick')
})

// ported from tests/test_tutorial/test_dependencies/test_tutorial008c.py test_internal_server_error
test('tutorial008c test_internal_server_error: a swallowed error still fails the request with 500', async (t) => {
  const res = await (await tutorial008cd(t, false)).app.inject('/items/portal-gun')
  t.equal(res.statusCode, 500)
  t.equal(res.json().code, 'FST_DEPENDS_ERROR_SWALLOWED')
})

// ported from tests/test_tutorial/test_dependencies/test_tutorial008d.py test_internal_error
test('tutorial008d test_internal_error: a re-thrown error reaches the error handler unchanged', async (t) => {
  const { app, handled } = await tutorial008cd(t, true)
  await app.inject('/items/portal-gun')
  t.equal(handled.length, 1)
  t.ok(handled[0] instanceof InternalError)
  t.equal(handled[0].message, 'The portal gun is too dangerous to be owned by Rick')
})

// ported from tests/test_tutorial/test_dependencies/test_tutorial008d.py test_internal_server_error
test('tutorial008d test_internal_server_error: a re-thrown error answers 500', async (t) => {
  const res = await (await tutorial008cd(t, true)).app.inject('/items/portal-gun')
  t.equal(res.statusCode, 500)
  t.same(res.json(), { statusCode: 500, error: 'Internal Server Error', message: 'The portal gun is too dangerous to be owned by Rick' })
})

// ported from tests/test_tutorial/test_dependencies/test_tutorial008e.py test_get_users_me
test('tutorial008e: a function-scoped generator is cleaned up before the response is sent', async (t) => {
  const app = await build(t)
  const events = new EventLog()
  const getUsername = depends(function * getUsername () {
    try {
      yield 'Rick'
    } finally {
      events.record('cleanup')
    }
  })
  app.addHook('onRequest', async (_request, reply) => {
    const writeHead = reply.raw.writeHead
    reply.raw.writeHead = function (this: typeof reply.raw, ...args: Parameters<typeof writeHead>) {
      events.record('head written')
      return writeHead.apply(this, args)
    } as typeof writeHead
  })
  app.get('/users/me', { dependencies: { username: Depends(getUsername, { scope: 'function' }) } }, async (request) => request.deps.username)
  const res = await app.inject('/users/me')
  t.equal(res.statusCode, 200)
  t.equal(res.body, 'Rick')
  t.same(events.list(), ['cleanup', 'head written'], 'already done when the response starts')
})

// ported from tests/test_tutorial/test_dependencies/test_tutorial010.py test_get_db
test('tutorial010: a resource opened and closed around the yield (a context manager) is the value', async (t) => {
  const app = await build(t)
  const events = new EventLog()
  class MySuperContextManager {
    db = new DBSession(events)
    enter () { return this.db }
    exit () { this.db.close() }
  }
  const getDb = depends(async function * getDb () {
    const manager = new MySuperContextManager()
    try {
      yield manager.enter()
    } finally {
      manager.exit()
    }
  })
  app.get('/', { dependencies: { c: getDb } }, async (request) => ({ c: String(request.deps.c) }))
  const res = await app.inject('/')
  t.equal(res.statusCode, 200)
  t.same(res.json(), { c: 'DBSession(db)' })
  await settle()
  t.same(events.list(), ['close db'])
})
