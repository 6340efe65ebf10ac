import { Readable } from 'node:stream'
import { Type } from '@sinclair/typebox'
import type { FastifyError } from 'fastify'
import { test, type Test } from 'tap'
import { build, EventLog, logCollector, settle } from '../helpers'
import { depends, httpError, Path, Body, type DependencyValue } from '../../lib/index'

// Ported from FastAPI's tests/test_dependency_after_yield_raise.py,
// tests/test_dependency_after_yield_streaming.py, tests/test_dependency_after_yield_websockets.py
// (as HTTP: the websocket handler becomes a streamed response) and
// tests/test_dependency_yield_except_httpexception.py.

class CustomError extends Error {}

/** A session whose iteration fails once it is closed, like the one in FastAPI's tests. */
class Session {
  data = ['foo', 'bar', 'baz']
  open = true;
  * [Symbol.iterator] (): Generator<string> {
    for (const item of this.data) {
      if (!this.open) throw new Error('Session closed')
      yield item
    }
  }
}

const depSession = depends(function * depSession () {
  const session = new Session()
  try {
    yield session
  } finally {
    session.open = false
  }
})

const brokenDepSession = depends(function * brokenDepSession () {
  const session = new Session()
  session.open = false
  try {
    yield session
  } finally {
    session.open = false
  }
})

async function afterYieldApp (t: Test) {
  const log = logCollector()
  const handled: unknown[] = []
  const app = await build(t, {}, { logger: { level: 'error', stream: log.stream } })
  app.setErrorHandler((err: FastifyError, _request, reply) => {
    handled.push(err)
    reply.send(err)
  })
  const catchingDep = depends(function * catchingDep () {
    try {
      yield 's'
    } catch (err) {
      if (err instanceof CustomError) throw httpError(418, 'Session error')
      throw err
    }
  })
  const brokenDep = depends(function * brokenDep () {
    yield 's'
    throw new Error('Broken after yield')
  })
  app.get('/catching', { dependencies: { d: catchingDep } }, async () => { throw new CustomError('Simulated error during streaming') })
  app.get('/broken', { dependencies: { d: brokenDep } }, async () => ({ message: 'all good?' }))

  const session = (request: { deps: Record<string, unknown> }) => request.deps.session as DependencyValue<typeof depSession>
  app.get('/data', { dependencies: { session: depSession } }, async (request) => [...session(request)])
  app.get('/stream-simple', { dependencies: { session: depSession } }, async (_request, reply) => reply.send(Readable.from(['x', 'y', 'z'])))
  app.get('/stream-session', { dependencies: { session: depSession } }, async (request, reply) => reply.send(Readable.from(session(request))))
  app.get('/broken-session-data', { dependencies: { session: brokenDepSession } }, async (request) => [...session(request)])
  app.get('/broken-session-stream', { dependencies: { session: brokenDepSession } }, async (request, reply) => reply.send(Readable.from(session(request))))
  // the websocket endpoints as HTTP: one line per item, written as the session yields them
  const lines = (items: Iterable<string>) => Readable.from((function * () { for (const item of items) yield `${item}\n` })())
  app.get('/ws', { dependencies: { session: depSession } }, async (request, reply) => reply.send(lines(session(request))))
  app.get('/ws-broken', { dependencies: { session: brokenDepSession } }, async (request, reply) => {
    const items = [...session(request)]
    return reply.send(lines(items))
  })
  await app.ready()
  return { app, log, handled }
}

// ported from tests/test_dependency_after_yield_raise.py test_catching
test('a generator that catches the handler error and throws an httpError answers with it', async (t) => {
  const { app, handled } = await afterYieldApp(t)
  const res = await app.inject('/catching')
  t.equal(res.statusCode, 418)
  t.same(res.json(), { statusCode: 418, error: "I'm a Teapot", message: 'Session error' })
  t.equal((handled[0] as FastifyError).statusCode, 418, 'the replacement, not the original, reaches the error handler')
})

// ported from tests/test_dependency_after_yield_raise.py test_broken_raise
test('an error thrown after yield on the success path is logged with the dependency name', async (t) => {
  const { app, log } = await afterYieldApp(t)
  await app.inject('/broken')
  await settle()
  const errors = log.lines.filter((line) => line.dependency === 'brokenDep')
  t.equal(errors.length, 1)
  t.equal((errors[0].err as { message: string }).message, 'Broken after yield')
})

// ported from tests/test_dependency_after_yield_raise.py test_broken_no_raise
test('an error thrown after yield by a request-scoped generator does not change the response already sent', async (t) => {
  const { app, handled } = await afterYieldApp(t)
  const res = await app.inject('/broken')
  t.equal(res.statusCode, 200)
  t.same(res.json(), { message: 'all good?' })
  await settle()
  t.same(handled, [], 'the error handler never sees it')
})

// ported from tests/test_dependency_after_yield_raise.py test_broken_return_finishes
test('a request after a broken cleanup is served normally', async (t) => {
  const { app } = await afterYieldApp(t)
  await app.inject('/broken')
  await settle()
  const res = await app.inject('/broken')
  t.equal(res.statusCode, 200)
  t.same(res.json(), { message: 'all good?' })
})

// ported from tests/test_dependency_after_yield_streaming.py test_regular_no_stream
test('the handler reads an open request-scoped session', async (t) => {
  const { app } = await afterYieldApp(t)
  t.same((await app.inject('/data')).json(), ['foo', 'bar', 'baz'])
})

// ported from tests/test_dependency_after_yield_streaming.py test_stream_simple
test('a streamed response unrelated to the session is sent whole', async (t) => {
  const { app } = await afterYieldApp(t)
  t.equal((await app.inject('/stream-simple')).body, 'xyz')
})

// ported from tests/test_dependency_after_yield_streaming.py test_stream_session
test('a request-scoped session stays open while the response streams from it', async (t) => {
  const { app } = await afterYieldApp(t)
  const res = await app.inject('/stream-session')
  t.equal(res.statusCode, 200)
  t.equal(res.body, 'foobarbaz')
})

// ported from tests/test_dependency_after_yield_streaming.py test_broken_session_data
test('a handler error from a closed session reaches the error handler', async (t) => {
  const { app, handled } = await afterYieldApp(t)
  await app.inject('/broken-session-data')
  t.equal(handled.length, 1)
  t.equal((handled[0] as Error).message, 'Session closed')
})

// ported from tests/test_dependency_after_yield_streaming.py test_broken_session_data_no_raise
test('a handler error from a closed session answers 500', async (t) => {
  const { app } = await afterYieldApp(t)
  const res = await app.inject('/broken-session-data')
  t.equal(res.statusCode, 500)
  t.same(res.json(), { statusCode: 500, error: 'Internal Server Error', message: 'Session closed' })
})

// ported from tests/test_dependency_after_yield_streaming.py test_broken_session_stream_raise
test('a stream that fails before its first byte sends its error to the error handler', async (t) => {
  const { app, handled } = await afterYieldApp(t)
  await app.inject('/broken-session-stream')
  t.equal(handled.length, 1)
  t.equal((handled[0] as Error).message, 'Session closed')
})

// ported from tests/test_dependency_after_yield_streaming.py test_broken_session_stream_no_raise (deliberately different)
test('a stream that fails before its first byte answers 500 (FastAPI has already sent 200)', async (t) => {
  const { app } = await afterYieldApp(t)
  const res = await app.inject('/broken-session-stream')
  t.equal(res.statusCode, 500)
  t.same(res.json(), { statusCode: 500, error: 'Internal Server Error', message: 'Session closed' })
})

// FastAPI's case proper: the status line is out when the stream fails
test('a stream that fails after its first chunk ends the response and finalizes the generator with an error', async (t) => {
  const app = await build(t)
  const events = new EventLog()
  const session = depends(function * session () {
    try {
      yield 'session'
      events.record('next')
    } catch (err) {
      events.record(`throw ${(err as FastifyError).message}`)
    }
    events.record('closed')
  })
  app.get('/', { dependencies: { session } }, async (_request, reply) => reply.send(Readable.from((async function * () {
    yield 'first'
    await settle()
    throw new Error('Session closed')
  })())))
  await t.rejects(app.inject('/'), 'the response is cut short')
  await events.until('closed')
  // The generator sees the stream's own error, as in FastAPI (B52), not a client abort
  t.same(events.list(), ['throw Session closed', 'closed'])
})

// ported from tests/test_dependency_after_yield_websockets.py test_websocket_dependency_after_yield
test('a request-scoped session stays open while a handler writes its items one by one', async (t) => {
  const { app } = await afterYieldApp(t)
  const res = await app.inject('/ws')
  t.equal(res.statusCode, 200)
  t.same(res.body.split('\n'), ['foo', 'bar', 'baz', ''])
})

// ported from tests/test_dependency_after_yield_websockets.py test_websocket_dependency_after_yield_broken
test('reading a closed session in the handler fails the request with the session error', async (t) => {
  const { app, handled } = await afterYieldApp(t)
  const res = await app.inject('/ws-broken')
  t.equal(res.statusCode, 500)
  t.equal((handled[0] as Error).message, 'Session closed')
})

/** tests/test_dependency_yield_except_httpexception.py: a copy of the database committed only on success. */
async function databaseApp (t: Test) {
  const fakeDatabase: Record<string, string> = { rick: 'Rick Sanchez' }
  const state = { except: false, finally: false }
  const getDatabase = depends(async function * getDatabase () {
    const tempDatabase = { ...fakeDatabase }
    try {
      yield tempDatabase
      Object.assign(fakeDatabase, tempDatabase)
    } catch (err) {
      if ((err as { statusCode?: number }).statusCode !== undefined) state.except = true
      throw err
    } finally {
      state.finally = true
    }
  })
  const app = await build(t)
  const deps = { userId: Path('user_id', Type.String()), name: Body(Type.String()), db: getDatabase }
  app.put('/invalid-user/:user_id', { dependencies: deps }, async (request) => {
    const { userId, name, db } = request.deps as { userId: string, name: string, db: Record<string, string> }
    db[userId] = name
    throw httpError(400, 'Invalid user')
  })
  app.put('/user/:user_id', { dependencies: deps }, async (request) => {
    const { userId, name, db } = request.deps as { userId: string, name: string, db: Record<string, string> }
    db[userId] = name
    return { message: 'OK' }
  })
  return { app, fakeDatabase, state }
}

// ported from tests/test_dependency_yield_except_httpexception.py test_dependency_gets_exception
test('a generator sees the httpError the handler threw, before the 400 is answered, and commits nothing', async (t) => {
  const { app, fakeDatabase, state } = await databaseApp(t)
  const res = await app.inject({ method: 'PUT', url: '/invalid-user/rick', payload: '"Morty"', headers: { 'content-type': 'application/json' } })
  t.equal(res.statusCode, 400)
  t.same(res.json(), { statusCode: 400, error: 'Bad Request', message: 'Invalid user' })
  t.same(state, { except: true, finally: true }, 'finalized before the response')
  t.equal(fakeDatabase.rick, 'Rick Sanchez')
})

// ported from tests/test_dependency_yield_except_httpexception.py test_dependency_no_exception
test('on success the generator commits after the response and sees no error', async (t) => {
  const { app, fakeDatabase, state } = await databaseApp(t)
  const res = await app.inject({ method: 'PUT', url: '/user/rick', payload: '"Morty"', headers: { 'content-type': 'application/json' } })
  t.equal(res.statusCode, 200)
  t.same(res.json(), { message: 'OK' })
  await settle()
  t.same(state, { except: false, finally: true })
  t.equal(fakeDatabase.rick, 'Morty')
})
