import { test } from 'tap'
import { build, EventLog, settle, logCollector } from './helpers'
import { depends, Depends } from '../lib/index'

test('a sync generator dependency provides its first yield', async (t) => {
  const app = await build(t)
  const events = new EventLog()
  const conn = depends(function * conn () {
    events.record('conn:enter')
    yield { id: 7 }
    events.record('conn:exit')
  })
  app.get('/', { dependencies: { conn } }, async (request) => {
    events.record('handler')
    return request.deps
  })

  const res = await app.inject('/')
  t.equal(res.statusCode, 200)
  t.same(res.json(), { conn: { id: 7 } })
  await events.until('conn:exit')
  t.same(events.list(), ['conn:enter', 'handler', 'conn:exit'])
})

test('an async generator dependency provides its first yield, awaited before the handler', async (t) => {
  const app = await build(t)
  const events = new EventLog()
  const conn = depends(async function * conn () {
    await settle()
    events.record('conn:enter')
    yield 'async-value'
    await settle()
    events.record('conn:exit')
  })
  const upper = depends({ conn }, ({ conn }) => conn.toUpperCase())
  app.get('/', { dependencies: { conn, upper } }, async (request) => {
    events.record('handler')
    return request.deps
  })

  const res = await app.inject('/')
  t.equal(res.statusCode, 200)
  t.same(res.json(), { conn: 'async-value', upper: 'ASYNC-VALUE' })
  await events.until('conn:exit')
  t.same(events.list(), ['conn:enter', 'handler', 'conn:exit'])
})

function captureErrors (app: Awaited<ReturnType<typeof build>>): Array<{ code: unknown, message: string }> {
  const seen: Array<{ code: unknown, message: string }> = []
  app.setErrorHandler((err: Error & { code?: string }, _request, reply) => {
    seen.push({ code: err.code, message: err.message })
    reply.code(500).send({ code: err.code })
  })
  return seen
}

test('a sync generator that never yields fails the request with FST_DEPENDS_GENERATOR naming it', async (t) => {
  const app = await build(t)
  const seen = captureErrors(app)
  let handlerRan = false
  const neverYields = depends(function * neverYields () {
    return 1
  })
  app.get('/', { dependencies: [neverYields] }, async () => {
    handlerRan = true
    return 'no'
  })

  const res = await app.inject('/')
  t.equal(res.statusCode, 500)
  t.same(res.json(), { code: 'FST_DEPENDS_GENERATOR' })
  t.equal(seen.length, 1)
  t.equal(seen[0].code, 'FST_DEPENDS_GENERATOR')
  t.match(seen[0].message, /"neverYields"/)
  t.equal(handlerRan, false)
})

test('an async generator that never yields answers 500 with code FST_DEPENDS_GENERATOR', async (t) => {
  const app = await build(t)
  const events = new EventLog()
  const outer = depends(function * outer () {
    events.record('outer:enter')
    try {
      yield 'o'
      events.record('outer:exit')
    } catch (err) {
      events.record('outer:saw ' + (err as { code: string }).code)
      throw err
    }
  }, { name: 'outer' })
  const emptyStream = depends(async function * () {
    events.record('empty:enter')
  }, { name: 'emptyStream' })
  app.get('/', { dependencies: [outer, emptyStream] }, async () => {
    events.record('handler')
    return 'no'
  })

  const res = await app.inject('/')
  t.equal(res.statusCode, 500)
  t.equal(res.json().code, 'FST_DEPENDS_GENERATOR')
  t.match(res.json().message, /"emptyStream"/)
  // the entered generator sees the error; the handler never runs
  t.same(events.list(), ['outer:enter', 'empty:enter', 'outer:saw FST_DEPENDS_GENERATOR'])
})

test('a function-scoped generator that yields twice fails with FST_DEPENDS_GENERATOR and its finally block runs', async (t) => {
  const app = await build(t)
  const seen = captureErrors(app)
  const events = new EventLog()
  const twice = depends(function * twice () {
    try {
      events.record('twice:enter')
      yield 1
      events.record('twice:after first')
      yield 2
      events.record('twice:after second')
    } finally {
      events.record('twice:finally')
    }
  }, { scope: 'function' })
  app.get('/', { dependencies: [twice] }, async () => {
    events.record('handler')
    return 'ok'
  })

  const res = await app.inject('/')
  t.equal(res.statusCode, 500)
  t.same(res.json(), { code: 'FST_DEPENDS_GENERATOR' })
  t.equal(seen[0].code, 'FST_DEPENDS_GENERATOR')
  t.match(seen[0].message, /"twice"/)
  await events.until('twice:finally')
  t.same(events.list(), ['twice:enter', 'handler', 'twice:after first', 'twice:finally'])
})

test('a request-scoped async generator that yields twice is closed, its finally runs, and the error is logged with its name', async (t) => {
  const log = logCollector()
  const app = await build(t, {}, { logger: { level: 'error', stream: log.stream } })
  const events = new EventLog()
  const twice = depends(async function * twice () {
    try {
      yield 1
      events.record('twice:after first')
      yield 2
      events.record('twice:after second')
    } finally {
      events.record('twice:finally')
    }
  })
  app.get('/', { dependencies: [twice] }, async () => 'ok')

  const res = await app.inject('/')
  // the response was already sent when request-scoped cleanup ran
  t.equal(res.statusCode, 200)
  t.equal(res.body, 'ok')
  await events.until('twice:finally')
  await settle()
  t.same(events.list(), ['twice:after first', 'twice:finally'])
  const line = log.lines.find((l) => l.dependency === 'twice')
  t.ok(line, 'a log line names the dependency')
  t.equal((line?.err as { code?: string } | undefined)?.code, 'FST_DEPENDS_GENERATOR')
})

test('cleanup runs in reverse order of entry and each generator is finalized exactly once per request', async (t) => {
  const app = await build(t)
  const events = new EventLog()
  const finalized = { a: 0, b: 0, c: 0 }
  function generator (name: 'a' | 'b' | 'c') {
    return async function * () {
      events.record(name + ':enter')
      try {
        yield name
      } finally {
        finalized[name]++
        events.record(name + ':exit')
      }
    }
  }
  const a = depends(generator('a'), { name: 'a' })
  const b = depends({ a }, generator('b'), { name: 'b' })
  const c = depends(function * c () {
    events.record('c:enter')
    try {
      yield 'c'
    } finally {
      finalized.c++
      events.record('c:exit')
    }
  })
  app.get('/', { dependencies: { b, c } }, async (request) => {
    events.record('handler')
    return request.deps
  })

  for (let i = 0; i < 3; i++) {
    events.length = 0
    const res = await app.inject('/')
    t.equal(res.statusCode, 200)
    t.same(res.json(), { b: 'b', c: 'c' })
    await events.until('a:exit')
    t.same(events.list(), ['a:enter', 'b:enter', 'c:enter', 'handler', 'c:exit', 'b:exit', 'a:exit'], `request ${i + 1}`)
  }
  await settle()
  t.same(finalized, { a: 3, b: 3, c: 3 })
})

test('each generator is finalized exactly once on the error path too', async (t) => {
  const app = await build(t)
  const events = new EventLog()
  const counts = { fn: 0, req: 0 }
  const req = depends(function * req () {
    try {
      yield 1
    } finally {
      counts.req++
      events.record('req:finally')
    }
  })
  const fn = depends(async function * fn () {
    try {
      yield 2
    } finally {
      counts.fn++
      events.record('fn:finally')
    }
  }, { scope: 'function' })
  app.get('/', { dependencies: [req, fn] }, async () => {
    throw new Error('handler failed')
  })

  for (let i = 0; i < 3; i++) {
    events.length = 0
    const res = await app.inject('/')
    t.equal(res.statusCode, 500)
    t.equal(res.json().message, 'handler failed')
    // both were finalized before the response: nothing is left for onResponse
    t.same(events.list(), ['fn:finally', 'req:finally'])
  }
  await settle()
  t.same(counts, { fn: 3, req: 3 })
})

test('a cached generator used in several places is entered once and finalized once', async (t) => {
  const app = await build(t)
  const events = new EventLog()
  let entered = 0
  let finalized = 0
  const session = depends(async function * session () {
    entered++
    events.record('session:enter')
    try {
      yield { n: entered }
    } finally {
      finalized++
      events.record('session:exit')
    }
  })
  const users = depends({ session }, ({ session }) => 'users@' + session.n)
  const items = depends({ s: session, again: Depends(session) }, ({ s, again }) => ({ same: s === again, n: s.n }))
  app.get('/', { dependencies: { users, items, session } }, async (request) => {
    events.record('handler')
    return request.deps
  })

  const res = await app.inject('/')
  t.equal(res.statusCode, 200)
  t.same(res.json(), { users: 'users@1', items: { same: true, n: 1 }, session: { n: 1 } })
  await events.until('session:exit')
  await settle()
  t.same(events.list(), ['session:enter', 'handler', 'session:exit'])
  t.equal(entered, 1)
  t.equal(finalized, 1)
})

test('useCache: false enters the generator again and each entry is finalized once, newest first', async (t) => {
  const app = await build(t)
  const events = new EventLog()
  let n = 0
  const counter = depends(function * counter () {
    const id = ++n
    events.record('enter ' + id)
    try {
      yield id
    } finally {
      events.record('exit ' + id)
    }
  })
  app.get('/', { dependencies: { first: counter, second: Depends(counter, { useCache: false }) } }, async (request) => request.deps)

  const res = await app.inject('/')
  t.same(res.json(), { first: 1, second: 2 })
  await events.until('exit 1')
  await settle()
  t.same(events.list(), ['enter 1', 'enter 2', 'exit 2', 'exit 1'])
})
