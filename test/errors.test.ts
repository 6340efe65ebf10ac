import type { FastifyInstance } from 'fastify'
import { test, type Test } from 'tap'
import { build, EventLog, settle, logCollector } from './helpers'
import { depends, httpError, type Dependency } from '../lib/index'

/** How a generator reacts to an error thrown into it. */
type OnError = 'rethrow' | 'swallow' | ((err: unknown) => unknown)

interface WatchedOptions {
  scope?: 'request' | 'function'
  onError?: OnError
  /** Thrown by the cleanup on the success path (after its `finally`). */
  fail?: unknown
}

/** '401' for an HTTP error, the code for a coded error, else the message. */
function describe (err: unknown): string {
  const e = err as { statusCode?: number, code?: string, message: string }
  if (e.code !== undefined) return e.code
  if (e.statusCode !== undefined) return String(e.statusCode)
  return e.message
}

/** An async generator dependency that records entry, the error it sees, and its exit. */
function watched (name: string, events: EventLog, options: WatchedOptions = {}): Dependency<string> {
  const { scope, onError = 'rethrow', fail } = options
  return depends(async function * () {
    events.record(name + ':enter')
    try {
      yield name
    } catch (err) {
      await settle()
      events.record(name + ':saw ' + describe(err))
      if (onError === 'swallow') return
      if (typeof onError === 'function') throw onError(err)
      throw err
    } finally {
      events.record(name + ':exit')
    }
    if (fail !== undefined) {
      events.record(name + ':throws')
      throw fail
    }
  }, { name, scope })
}

/** A route-level onSend (it runs after the plugin's own) that records the status being sent. */
function recordSend (events: EventLog) {
  return (_request: unknown, reply: { statusCode: number }, payload: unknown, done: (err: null, payload: unknown) => void): void => {
    events.record('onSend ' + reply.statusCode)
    done(null, payload)
  }
}

function marker (name: string, events: EventLog): Dependency<string> {
  return depends(() => {
    events.record(name)
    return name
  }, { name })
}

test('a dependency error is thrown into entered generators, function scope first, before the response; later siblings and the handler do not run (B17)', async (t) => {
  const app = await build(t)
  const events = new EventLog()
  const A = watched('A', events)
  const F = watched('F', events, { scope: 'function' })
  const raiser = depends(() => {
    events.record('raiser')
    throw httpError(401, 'Not authenticated', { 'www-authenticate': 'Bearer' })
  }, { name: 'raiser' })
  app.get('/', { dependencies: [A, F, raiser, marker('later', events)], onSend: recordSend(events) }, async () => {
    events.record('handler')
    return 'no'
  })

  const res = await app.inject('/')
  t.equal(res.statusCode, 401)
  t.equal(res.headers['www-authenticate'], 'Bearer')
  t.equal(res.json().message, 'Not authenticated')
  await settle()
  t.same(events.list(), ['A:enter', 'F:enter', 'raiser', 'F:saw 401', 'F:exit', 'A:saw 401', 'A:exit', 'onSend 401'])
})

test('a handler error is thrown into entered generators, LIFO per scope, before the response', async (t) => {
  const app = await build(t)
  const events = new EventLog()
  const R1 = watched('R1', events)
  const F1 = watched('F1', events, { scope: 'function' })
  const R2 = watched('R2', events)
  const F2 = watched('F2', events, { scope: 'function' })
  app.get('/', { dependencies: [R1, F1, R2, F2], onSend: recordSend(events) }, async () => {
    events.record('handler')
    throw new Error('handler broke')
  })

  const res = await app.inject('/')
  t.equal(res.statusCode, 500)
  t.equal(res.json().message, 'handler broke')
  await settle()
  t.same(events.list(), [
    'R1:enter', 'F1:enter', 'R2:enter', 'F2:enter', 'handler',
    'F2:saw handler broke', 'F2:exit', 'F1:saw handler broke', 'F1:exit',
    'R2:saw handler broke', 'R2:exit', 'R1:saw handler broke', 'R1:exit',
    'onSend 500'
  ])
})

test('a synchronous handler throw reaches the generators too and re-throwing keeps its status', async (t) => {
  const app = await build(t)
  const events = new EventLog()
  const A = watched('A', events)
  app.get('/', { dependencies: [A], onSend: recordSend(events) }, () => {
    throw httpError(409, 'Conflict here')
  })

  const res = await app.inject('/')
  t.equal(res.statusCode, 409)
  t.equal(res.json().message, 'Conflict here')
  await settle()
  t.same(events.list(), ['A:enter', 'A:saw 409', 'A:exit', 'onSend 409'])
})

test('a generator that throws a different error replaces it for outer generators and the response (B47)', async (t) => {
  const app = await build(t)
  const events = new EventLog()
  const A = watched('A', events)
  const S = watched('S', events, { onError: () => httpError(418, 'Session error') })
  app.get('/', { dependencies: [A, S], onSend: recordSend(events) }, async () => {
    throw httpError(400, 'Bad owner')
  })

  const res = await app.inject('/')
  t.equal(res.statusCode, 418)
  t.equal(res.json().message, 'Session error')
  await settle()
  t.same(events.list(), ['A:enter', 'S:enter', 'S:saw 400', 'S:exit', 'A:saw 418', 'A:exit', 'onSend 418'])
})

test('a function-scoped generator that replaces the error passes the new one to request-scoped generators', async (t) => {
  const app = await build(t)
  const events = new EventLog()
  const A = watched('A', events)
  const F = watched('F', events, { scope: 'function', onError: () => httpError(422, 'Converted') })
  app.get('/', { dependencies: [A, F] }, async () => {
    throw new Error('raw')
  })

  const res = await app.inject('/')
  t.equal(res.statusCode, 422)
  t.equal(res.json().message, 'Converted')
  await settle()
  t.same(events.list(), ['A:enter', 'F:enter', 'F:saw raw', 'F:exit', 'A:saw 422', 'A:exit'])
})

test('a generator that swallows the error: outer generators finish normally, 500 FST_DEPENDS_ERROR_SWALLOWED, logged with its name and the original error (B48)', async (t) => {
  const log = logCollector()
  const app = await build(t, {}, { logger: { level: 'error', stream: log.stream } })
  const events = new EventLog()
  const A = watched('A', events)
  const S = watched('swallower', events, { onError: 'swallow' })
  app.get('/', { dependencies: [A, S], onSend: recordSend(events) }, async () => {
    throw httpError(401, 'original failure')
  })

  const res = await app.inject('/')
  t.equal(res.statusCode, 500)
  t.equal(res.json().code, 'FST_DEPENDS_ERROR_SWALLOWED')
  t.match(res.json().message, /"swallower"/)
  await settle()
  t.same(events.list(), ['A:enter', 'swallower:enter', 'swallower:saw 401', 'swallower:exit', 'A:exit', 'onSend 500'])
  const line = log.lines.find((l) => l.dependency === 'swallower')
  t.ok(line, 'a log line names the swallowing dependency')
  const err = line?.err as { message?: string, statusCode?: number } | undefined
  t.equal(err?.message, 'original failure')
  t.equal(err?.statusCode, 401)
})

test('a function-scoped generator that swallows the error fails the request the same way', async (t) => {
  const log = logCollector()
  const app = await build(t, {}, { logger: { level: 'error', stream: log.stream } })
  const events = new EventLog()
  const A = watched('A', events)
  const F = watched('fnSwallower', events, { scope: 'function', onError: 'swallow' })
  app.get('/', { dependencies: [A, F] }, async () => {
    throw new Error('lost')
  })

  const res = await app.inject('/')
  t.equal(res.statusCode, 500)
  t.equal(res.json().code, 'FST_DEPENDS_ERROR_SWALLOWED')
  await settle()
  t.same(events.list(), ['A:enter', 'fnSwallower:enter', 'fnSwallower:saw lost', 'fnSwallower:exit', 'A:exit'])
  const line = log.lines.find((l) => l.dependency === 'fnSwallower')
  t.equal((line?.err as { message?: string } | undefined)?.message, 'lost')
})

test('a function-scoped cleanup error on the success path becomes the response and request-scoped generators see it (B50)', async (t) => {
  const app = await build(t)
  const events = new EventLog()
  const A = watched('A', events)
  const F = watched('F', events, { scope: 'function', fail: httpError(503, 'Exception after yield') })
  app.get('/', { dependencies: [A, F], onSend: recordSend(events) }, async () => {
    events.record('handler')
    return { ok: true }
  })

  const res = await app.inject('/')
  t.equal(res.statusCode, 503)
  t.equal(res.json().message, 'Exception after yield')
  await settle()
  t.same(events.list(), ['A:enter', 'F:enter', 'handler', 'F:exit', 'F:throws', 'A:saw 503', 'A:exit', 'onSend 503'])
})

async function scopedCleanupApp (t: Test, level: 'plugin' | 'router', fail: Dependency<string>, others: Dependency<string>[], log = logCollector()): Promise<FastifyInstance> {
  const app = await build(t, level === 'plugin' ? { dependencies: [...others, fail] } : {}, { logger: { level: 'error', stream: log.stream } })
  await app.register(async (router) => {
    if (level === 'router') router.addDependencies([...others, fail])
    router.get('/', async () => ({ message: 'all good?' }))
  })
  return app
}

for (const level of ['plugin', 'router'] as const) {
  const where = level === 'plugin' ? 'plugin options' : 'addDependencies'

  test(`a function-scoped generator from ${where} whose cleanup throws turns the response into its error (B44)`, async (t) => {
    const events = new EventLog()
    const outer = watched('outer', events)
    const F = watched('F', events, { scope: 'function', fail: httpError(503, 'Exception after yield') })
    const app = await scopedCleanupApp(t, level, F, [outer])

    const res = await app.inject('/')
    t.equal(res.statusCode, 503)
    t.equal(res.json().message, 'Exception after yield')
    await settle()
    t.same(events.list(), ['outer:enter', 'F:enter', 'F:exit', 'F:throws', 'outer:saw 503', 'outer:exit'])
  })

  test(`a request-scoped generator from ${where} whose cleanup throws leaves the 200, is logged with its name, and earlier ones see it (B44, B51)`, async (t) => {
    const log = logCollector()
    const events = new EventLog()
    const outer = watched('outer', events)
    const R = watched('lateFailer', events, { fail: httpError(503, 'Exception after yield') })
    const app = await scopedCleanupApp(t, level, R, [outer], log)

    const res = await app.inject('/')
    t.equal(res.statusCode, 200)
    t.same(res.json(), { message: 'all good?' })
    await events.until('outer:exit')
    await settle()
    t.same(events.list(), ['outer:enter', 'lateFailer:enter', 'lateFailer:exit', 'lateFailer:throws', 'outer:saw 503', 'outer:exit'])
    const line = log.lines.find((l) => l.dependency === 'lateFailer')
    t.ok(line, 'the cleanup error is logged with the dependency name')
    t.equal((line?.err as { message?: string } | undefined)?.message, 'Exception after yield')
  })
}

test('a route request-scoped cleanup error after the response: earlier-entered generators see it, later ones finished normally (B51)', async (t) => {
  const log = logCollector()
  const app = await build(t, {}, { logger: { level: 'error', stream: log.stream } })
  const events = new EventLog()
  const first = watched('first', events)
  const broken = watched('broken', events, { fail: new Error('cleanup failed') })
  const last = watched('last', events)
  app.get('/', { dependencies: [first, broken, last] }, async () => 'sent')

  const res = await app.inject('/')
  t.equal(res.statusCode, 200)
  t.equal(res.body, 'sent')
  await events.until('first:exit')
  await settle()
  t.same(events.list(), [
    'first:enter', 'broken:enter', 'last:enter',
    'last:exit', 'broken:exit', 'broken:throws', 'first:saw cleanup failed', 'first:exit'
  ])
  const lines = log.lines.filter((l) => l.dependency !== undefined)
  t.equal(lines.length, 1)
  t.equal(lines[0].dependency, 'broken')
})

test('a plain dependency error with no generators entered answers with its own status and headers', async (t) => {
  const app = await build(t)
  let handlerRan = false
  const guard = depends(async () => {
    throw httpError(403, 'Forbidden here', { 'x-reason': 'nope' })
  }, { name: 'guard' })
  app.get('/', { dependencies: { guard } }, async () => {
    handlerRan = true
    return 'no'
  })
  app.get('/plain', { dependencies: [depends(() => { throw new Error('plain failure') })] }, async () => 'no')

  const res = await app.inject('/')
  t.equal(res.statusCode, 403)
  t.equal(res.headers['x-reason'], 'nope')
  t.same(res.json(), { statusCode: 403, error: 'Forbidden', message: 'Forbidden here' })
  t.equal(handlerRan, false)
  const plain = await app.inject('/plain')
  t.equal(plain.statusCode, 500)
  t.equal(plain.json().message, 'plain failure')
})

test('with parallel resolution a failing dependency is still thrown into every generator entered before cleanup', async (t) => {
  const app = await build(t, { concurrency: 'parallel' })
  const events = new EventLog()
  const A = watched('A', events)
  const slow = depends(async function * slow () {
    await settle()
    events.record('slow:enter')
    try {
      yield 'slow'
    } catch (err) {
      events.record('slow:saw ' + describe(err))
      throw err
    }
  }, { name: 'slow' })
  const raiser = depends(async () => {
    events.record('raiser')
    throw httpError(401, 'nope')
  })
  app.get('/', { dependencies: [A, slow, raiser] }, async () => 'no')

  const res = await app.inject('/')
  t.equal(res.statusCode, 401)
  await settle()
  t.same(events.list(), ['A:enter', 'raiser', 'slow:enter', 'slow:saw 401', 'A:saw 401', 'A:exit'])
})
