import { once } from 'node:events'
import http from 'node:http'
import type { AddressInfo } from 'node:net'
import { Readable } from 'node:stream'
import { setTimeout as sleep, setImmediate as tick } from 'node:timers/promises'
import Fastify, { type FastifyInstance } from 'fastify'
import fp from 'fastify-plugin'
import { test } from 'tap'
import { bothScopes, EventLog, logCollector, recording, settle, watchProcess, within } from './helpers'
import fastifyDepends, { depends, type Dependency, type FastifyDependsOptions } from '../lib/index'

// The exit paths of issue 16, each over a real socket: a reply sent by a dependency, a handler
// timeout during resolution, the automatic HEAD route of a streaming GET, and app.close() with
// requests in flight. Each generator records `name:enter`, then `name:exit` or `name:saw <code>`.

async function app (t: { after: (fn: () => unknown) => void }, options: FastifyDependsOptions = {}, events?: EventLog, fastifyOptions = {}): Promise<FastifyInstance> {
  const instance = Fastify(fastifyOptions)
  t.after(() => instance.close())
  await instance.register(fastifyDepends, options)
  if (events !== undefined) {
    instance.addHook('onRequest', (_request, reply, done) => {
      // First of the 'finish' listeners: before Fastify's, which runs onResponse.
      reply.raw.prependOnceListener('finish', () => events.record('sent'))
      done()
    })
  }
  return instance
}

interface Answer { status: number, body: string, headers: http.IncomingHttpHeaders }

async function request (instance: FastifyInstance, path: string, method = 'GET'): Promise<Answer> {
  if (instance.server.address() === null) await instance.listen({ port: 0, host: '127.0.0.1' })
  const { port } = instance.server.address() as AddressInfo
  return await new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, path, method, agent: false }, (res) => {
      let body = ''
      res.setEncoding('utf8')
      res.on('data', (chunk: string) => { body += chunk })
      res.on('end', () => resolve({ status: res.statusCode as number, body, headers: res.headers }))
    })
    req.on('error', reject)
    req.end()
  })
}

test('a dependency that replies ends resolution: no later dependency and no handler run; what it entered is finalized once, function scope before the response, request scope after', async (t) => {
  const events = new EventLog()
  const instance = await app(t, {}, events)
  const { f, r } = bothScopes(events)
  const later = depends(() => { events.record('later:ran') }, { name: 'later' })
  const laterGenerator = recording(events, 'laterGenerator', 'request')
  const guards: Record<string, Dependency<unknown>> = {
    returned: depends((_inputs, { reply }) => reply.code(403).send({ denied: 'returned' }), { name: 'guard' }),
    'not returned': depends((_inputs, { reply }) => { reply.code(403).send({ denied: 'not returned' }) }, { name: 'guard' }),
    async: depends(async (_inputs, { reply }) => {
      await tick()
      return reply.code(403).send({ denied: 'async' })
    }, { name: 'guard' })
  }
  for (const [name, guard] of Object.entries(guards)) {
    instance.get(`/${name.replace(' ', '-')}`, { dependencies: { f, r, guard, later, laterGenerator } }, async () => {
      events.record('handler')
      return 'handler ran'
    })
  }
  for (const name of Object.keys(guards)) {
    events.length = 0
    const res = await request(instance, `/${name.replace(' ', '-')}`)
    t.equal(res.status, 403, name)
    t.same(JSON.parse(res.body), { denied: name }, name)
    await within(events.until('request:exit'), `${name}: request:exit`)
    await settle()
    t.same(events.list(), ['function:enter', 'request:enter', 'function:exit', 'sent', 'request:exit'], name)
  }
})

test('a generator that replies before its yield is entered after the reply and finalized once with its scope; parallel siblings that enter later too', async (t) => {
  const events = new EventLog()
  const instance = await app(t, { concurrency: 'parallel' }, events)
  const guard = (scope: 'function' | 'request'): Dependency<string> => depends(async function * (_inputs, { reply }) {
    events.record('guard:enter')
    reply.code(401).send('no')
    try {
      yield 'guard'
      events.record('guard:exit')
    } catch (err) {
      events.record(`guard:saw ${(err as { code?: string }).code ?? String(err)}`)
    }
  }, { name: 'guard', scope })
  const slowSibling = recording(events, 'sibling', 'request', 30)
  const afterGuard = (g: Dependency<string>): Dependency<void> => depends({ g }, () => { events.record('dependent:ran') }, { name: 'dependent' })
  const functionGuard = guard('function')
  const requestGuard = guard('request')
  instance.get('/function', { dependencies: { sibling: slowSibling, after: afterGuard(functionGuard) } }, async () => events.record('handler'))
  instance.get('/request', { dependencies: { sibling: slowSibling, after: afterGuard(requestGuard) } }, async () => events.record('handler'))

  for (const scope of ['function', 'request']) {
    events.length = 0
    const res = await request(instance, `/${scope}`)
    t.equal(res.status, 401)
    t.equal(res.body, 'no')
    await within(events.until('sibling:exit'), `${scope}: sibling:exit`)
    await settle()
    // The guard enters after its own reply: function scope, finalized at once; request scope, after
    // the response. The sibling enters after the response and is finalized at once.
    t.same(events.filter((e) => e !== 'sent'), ['guard:enter', 'guard:exit', 'sibling:enter', 'sibling:exit'], scope)
    if (scope === 'request') t.ok(events.indexOf('sent') < events.indexOf('guard:exit'), 'request scope: after the response')
    t.ok(events.indexOf('sent') < events.indexOf('sibling:enter'), 'the sibling entered after the response')
  }
})

test('a dependency that hijacks the reply: later dependencies do not run; each generator is finalized once after the response', async (t) => {
  const events = new EventLog()
  const instance = await app(t, {}, events)
  const { f, r } = bothScopes(events)
  const hijack = depends((_inputs, { reply }) => {
    reply.hijack()
    reply.raw.end('by hand')
  }, { name: 'hijack' })
  const later = depends(async () => { events.record('later:ran') }, { name: 'later' })
  instance.get('/', { dependencies: [f, r, hijack, later] }, async () => events.record('handler'))
  instance.get('/plain', { dependencies: [hijack, later] }, async () => events.record('handler'))
  const res = await request(instance, '/')
  t.equal(res.body, 'by hand')
  await within(events.until('request:exit'), 'request:exit')
  await settle()
  t.same(events.list(), ['function:enter', 'request:enter', 'function:exit', 'sent', 'request:exit'])

  events.length = 0
  t.equal((await request(instance, '/plain')).body, 'by hand', 'without generators')
  await settle()
  t.same(events.list(), ['sent'])
})

test('handlerTimeout during resolution: 503, resolution stops, every generator (also one entered after the timeout) sees the timeout once', async (t) => {
  const events = new EventLog()
  const log = logCollector()
  const instance = await app(t, {}, events, { logger: { level: 'warn', stream: log.stream } })
  const { f, r } = bothScopes(events)
  const slow = recording(events, 'slow', 'request', 150)
  const later = depends(() => { events.record('later:ran') }, { name: 'later' })
  const failsLate = depends(async () => {
    await sleep(150)
    throw new Error('too late to matter')
  }, { name: 'failsLate' })
  instance.get('/generator', { handlerTimeout: 50, dependencies: [f, r, slow, later] }, async () => events.record('handler'))
  instance.get('/failing', { handlerTimeout: 50, dependencies: [f, r, failsLate, later] }, async () => events.record('handler'))

  const res = await request(instance, '/generator')
  t.equal(res.status, 503)
  t.equal(JSON.parse(res.body).code, 'FST_ERR_HANDLER_TIMEOUT')
  await within(events.until('slow:saw FST_ERR_HANDLER_TIMEOUT'), 'slow finalized')
  await settle()
  t.same(events.list(), [
    'function:enter', 'request:enter',
    'function:saw FST_ERR_HANDLER_TIMEOUT', 'request:saw FST_ERR_HANDLER_TIMEOUT', 'sent',
    'slow:enter', 'slow:saw FST_ERR_HANDLER_TIMEOUT'
  ])

  events.length = 0
  const failing = await request(instance, '/failing')
  t.equal(failing.status, 503)
  await within(new Promise<void>((resolve) => {
    const poll = setInterval(() => {
      if (log.lines.some((l) => (l.err as { message?: string } | undefined)?.message === 'too late to matter')) resolve(clearInterval(poll))
    }, 10)
  }), 'the late failure is logged')
  t.same(events.list(), ['function:enter', 'request:enter', 'function:saw FST_ERR_HANDLER_TIMEOUT', 'request:saw FST_ERR_HANDLER_TIMEOUT', 'sent'])
  t.match(log.lines.find((l) => (l.err as { message?: string } | undefined)?.message === 'too late to matter'), { level: 40, msg: /failed after the response was decided/ })
})

test('the automatic HEAD route of a streaming GET: the request-scoped session stays open until the HEAD route drained the stream', async (t) => {
  const events = new EventLog()
  const instance = await app(t, {}, events)
  const session = depends(async function * () {
    const state = { open: true }
    events.record('session:open')
    try {
      yield state
    } finally {
      state.open = false
      events.record('session:closed')
    }
  }, { name: 'session' })
  instance.get('/rows', { dependencies: { session } }, async (request) => {
    let row = 0
    return new Readable({
      read () {
        // Each row is read from the session a little later, as a pg cursor would.
        setTimeout(() => {
          if (!request.deps.session.open) events.record('read after close')
          row++
          events.record(`row ${row}`)
          this.push(row <= 3 ? `row ${row}\n` : null)
        }, 5)
      }
    })
  })
  const head = await request(instance, '/rows', 'HEAD')
  t.equal(head.status, 200)
  t.equal(head.body, '')
  await within(events.until('session:closed'), 'HEAD: session closed')
  await settle()
  t.same(events.list().filter((e) => e !== 'sent'), ['session:open', 'row 1', 'row 2', 'row 3', 'row 4', 'session:closed'], 'HEAD')
  t.ok(events.indexOf('sent') < events.indexOf('row 4'), 'the HEAD response went out before the stream was drained')

  events.length = 0
  const get = await request(instance, '/rows')
  t.equal(get.body, 'row 1\nrow 2\nrow 3\n')
  await within(events.until('session:closed'), 'GET: session closed')
  await settle()
  t.same(events.list(), ['session:open', 'row 1', 'row 2', 'row 3', 'row 4', 'sent', 'session:closed'], 'GET')
})

test('HEAD of a route whose stream had already ended before it was sent: the request scope does not wait for an end that never comes', async (t) => {
  const events = new EventLog()
  const instance = await app(t, {}, events)
  const r = recording(events, 'request', 'request')
  instance.get('/ended', { exposeHeadRoute: false, dependencies: { r } }, async () => 'use HEAD')
  instance.head('/ended', { dependencies: { r } }, async (_request, reply) => {
    const stream = Readable.from(['gone'])
    stream.resume()
    await once(stream, 'end')
    return reply.send(stream)
  })
  const head = await request(instance, '/ended', 'HEAD')
  t.equal(head.status, 200)
  await within(events.until('request:exit'), 'request:exit')
  t.same(events.list(), ['request:enter', 'sent', 'request:exit'])
})

test('a stream the HEAD route drains fails: the request-scoped generators see its error', async (t) => {
  const events = new EventLog()
  const instance = await app(t, {}, events)
  const r = recording(events, 'request', 'request')
  instance.get('/broken', { dependencies: { r } }, async () => new Readable({
    read () { setTimeout(() => this.destroy(new Error('cursor broke')), 5) }
  }))
  const head = await request(instance, '/broken', 'HEAD')
  t.equal(head.status, 200)
  await within(events.until('request:saw cursor broke'), 'request scope saw the stream error')
  t.same(events.list(), ['request:enter', 'sent', 'request:saw cursor broke'])
})

test('app.close() with 50 requests in flight across both scopes: it resolves after every cleanup and before onClose hooks, wherever registered', async (t) => {
  const problems = watchProcess(t)
  const events: string[] = []
  let poolEnded = false
  let afterEnd = 0
  const instance = Fastify()
  // A pool registered before the plugin, one in a child context after it: both end after every COMMIT.
  instance.addHook('onClose', async () => { events.push('root pool.end'); poolEnded = true })
  await instance.register(fastifyDepends)
  const cleanup = (name: string): void => {
    if (poolEnded) afterEnd++
    events.push(name)
  }
  const tx = depends(async function * () {
    yield 'tx'
    await sleep(20)
    cleanup('COMMIT')
  }, { name: 'tx' })
  const span = depends(async function * () {
    yield 'span'
    await sleep(10)
    cleanup('span end')
  }, { name: 'span', scope: 'function' })
  let release!: () => void
  const gate = new Promise<void>((resolve) => { release = resolve })
  let handlers = 0
  let allIn!: () => void
  const allInFlight = new Promise<void>((resolve) => { allIn = resolve })
  const handler = async (): Promise<string> => {
    if (++handlers === 50) allIn()
    await gate
    return 'ok'
  }
  await instance.register(async (child) => {
    child.addHook('onClose', async () => { events.push('child pool.end'); poolEnded = true })
    child.get('/request', { dependencies: { tx } }, handler)
    child.get('/function', { dependencies: { span } }, handler)
  })
  await instance.listen({ port: 0, host: '127.0.0.1' })
  const { port } = instance.server.address() as AddressInfo
  const statuses: Array<Promise<number>> = []
  for (let i = 0; i < 50; i++) {
    statuses.push(new Promise((resolve, reject) => {
      const req = http.request({ host: '127.0.0.1', port, path: i % 2 === 0 ? '/request' : '/function', agent: false }, (res) => {
        res.resume()
        res.on('end', () => resolve(res.statusCode as number))
      })
      req.on('error', reject)
      req.end()
    }))
  }
  await within(allInFlight, '50 handlers running')
  const closed = instance.close().then(() => events.push('close() resolved'))
  await tick()
  release()
  t.same(await within(Promise.all(statuses), 'responses'), new Array(50).fill(200))
  await within(closed, 'close()')
  t.equal(afterEnd, 0, 'no cleanup ran after a pool ended')
  t.equal(events.filter((e) => e === 'COMMIT').length, 25)
  t.equal(events.filter((e) => e === 'span end').length, 25)
  t.same(events.slice(50), ['child pool.end', 'root pool.end', 'close() resolved'])
  t.same(problems, [])
})

test('app.close() with inject() requests in flight waits for their request-scoped cleanup too', async (t) => {
  const events: string[] = []
  const instance = Fastify()
  await instance.register(fastifyDepends)
  instance.addHook('onClose', async () => { events.push('pool.end') })
  const tx = depends(async function * () {
    events.push('BEGIN')
    yield 'tx'
    await sleep(30)
    events.push('COMMIT')
  }, { name: 'tx' })
  instance.get('/', { dependencies: { tx } }, async () => {
    await sleep(10)
    return 'ok'
  })
  await instance.ready()
  const response = instance.inject('/')
  await sleep(1)
  await instance.close()
  events.push('closed')
  t.equal((await response).statusCode, 200)
  t.same(events, ['BEGIN', 'COMMIT', 'pool.end', 'closed'])
})

test('a cleanup that hangs past closeTimeout is logged with its dependency name and abandoned; close() goes on', async (t) => {
  const log = logCollector()
  const events: string[] = []
  const instance = Fastify({ logger: { level: 'warn', stream: log.stream } })
  await instance.register(fastifyDepends, { closeTimeout: 100 })
  instance.addHook('onClose', async () => { events.push('pool.end') })
  const stuck = depends(async function * () {
    yield 'stuck'
    await new Promise(() => {})
  }, { name: 'stuck' })
  instance.get('/stuck', { dependencies: { stuck } }, async () => 'ok')
  t.equal((await instance.inject('/stuck')).body, 'ok')
  const started = Date.now()
  await within(instance.close(), 'close() despite the hanging cleanup', 3000)
  const waited = Date.now() - started
  t.ok(waited >= 90, `close() waited for closeTimeout first (${waited} ms)`)
  t.same(events, ['pool.end'])
  t.match(log.lines.filter((l) => l.level === 40), [{ dependency: 'stuck', route: 'GET /stuck', msg: /dependency "stuck" of GET \/stuck still running 100 ms after close\(\); abandoned/ }])
})

test('a request still resolving when closeTimeout passes is logged and abandoned too', async (t) => {
  const log = logCollector()
  const instance = Fastify({ logger: { level: 'warn', stream: log.stream } })
  await instance.register(fastifyDepends, { closeTimeout: 50 })
  const never = depends(() => new Promise<string>(() => {}), { name: 'never' })
  const tx = depends(function * () { yield 'tx' }, { name: 'tx' })
  instance.get('/', { dependencies: { tx, never } }, async () => 'unreachable')
  instance.get('/nothing-entered', { dependencies: { never, tx } }, async () => 'unreachable')
  await instance.ready()
  instance.inject('/').catch(() => {})
  instance.inject('/nothing-entered').catch(() => {})
  await sleep(5)
  await within(instance.close(), 'close()', 3000)
  const warnings = log.lines.filter((l) => l.level === 40).sort((a, b) => String(a.route).localeCompare(String(b.route)))
  t.match(warnings, [
    { dependency: 'tx', dependencies: ['tx'], route: 'GET /', msg: /dependency "tx" of GET \/ still running 50 ms after close\(\); abandoned/ },
    { dependencies: [], route: 'GET /nothing-entered', msg: /dependency resolution of GET \/nothing-entered still running/ }
  ])
})

test('closeTimeout must be a number of milliseconds', async (t) => {
  for (const closeTimeout of [-1, Number.NaN, Number.POSITIVE_INFINITY, '10s']) {
    const instance = Fastify()
    t.after(() => instance.close())
    await t.rejects(async () => { await instance.register(fastifyDepends, { closeTimeout: closeTimeout as number }) }, { code: 'FST_DEPENDS_INVALID', message: /closeTimeout must be a number of milliseconds/ }, String(closeTimeout))
  }
  const instance = Fastify()
  await instance.register(fastifyDepends, { closeTimeout: 0 })
  await instance.close()
})

test('preClose hooks registered after the plugin run after the in-flight cleanups, onClose hooks after both', async (t) => {
  // preClose hooks run in registration order; onClose hooks in reverse. The plugin waits in preClose,
  // so a preClose hook registered after it also runs after the cleanups.
  const events: string[] = []
  const instance = Fastify()
  await instance.register(fastifyDepends)
  instance.addHook('preClose', (done) => { events.push('later preClose'); done() })
  await instance.register(fp(async (child) => { child.addHook('onClose', async () => { events.push('onClose') }) }))
  const tx = depends(async function * () {
    yield 'tx'
    await sleep(20)
    events.push('COMMIT')
  }, { name: 'tx' })
  instance.get('/', { dependencies: { tx } }, async () => 'ok')
  await instance.ready()
  const response = instance.inject('/')
  await sleep(1)
  await instance.close()
  t.equal((await response).statusCode, 200)
  t.same(events, ['COMMIT', 'later preClose', 'onClose'])
})

test('a function-scoped generator entered while a reply sent by a dependency is still going out is finalized at once, after the cleanup already running', async (t) => {
  const events = new EventLog()
  const instance = await app(t, { concurrency: 'parallel' }, events)
  const slowCleanup = depends(async function * () {
    events.record('f:enter')
    yield 'f'
    await sleep(40)
    events.record('f:exit')
  }, { name: 'f', scope: 'function' })
  const guard = depends({ slowCleanup }, (_inputs, { reply }) => reply.code(403).send('denied'), { name: 'guard' })
  const sibling = recording(events, 'sibling', 'function', 10)
  instance.get('/', { dependencies: { guard, sibling } }, async () => events.record('handler'))
  const res = await request(instance, '/')
  t.equal(res.status, 403)
  t.equal(res.body, 'denied')
  await settle()
  t.same(events.list(), ['f:enter', 'sibling:enter', 'f:exit', 'sibling:exit', 'sent'])
})

test('a connection that closed before resolution started: request-scoped generators see FST_DEPENDS_CLIENT_ABORTED, each finalized once', async (t) => {
  const events = new EventLog()
  const instance = await app(t, {}, events)
  const { f, r } = bothScopes(events)
  let received!: () => void
  const arrived = new Promise<void>((resolve) => { received = resolve })
  instance.get('/', {
    preValidation: async (_request, reply) => {
      received()
      await once(reply.raw, 'close')
    },
    dependencies: { f, r }
  }, async () => {
    events.record('handler')
    return 'nobody reads this'
  })
  await instance.listen({ port: 0, host: '127.0.0.1' })
  const { port } = instance.server.address() as AddressInfo
  const req = http.request({ host: '127.0.0.1', port, path: '/', agent: false })
  req.on('error', () => {})
  req.end()
  await within(arrived, 'the request arrived')
  req.destroy()
  await within(events.until('request:saw FST_DEPENDS_CLIENT_ABORTED'), 'request scope finalized')
  await settle()
  t.same(events.list(), ['function:enter', 'request:enter', 'handler', 'function:exit', 'request:saw FST_DEPENDS_CLIENT_ABORTED'])
})

test('every kind of request leaves the in-flight list: close() does not wait for closeTimeout after they ended', async (t) => {
  const instance = Fastify()
  await instance.register(fastifyDepends, { closeTimeout: 5000, concurrency: 'sequential' })
  const tx = recording(new EventLog(), 'tx', 'request')
  const f = recording(new EventLog(), 'f', 'function')
  const guard = depends((_inputs, { reply }) => reply.code(403).send('no'), { name: 'guard' })
  const boom = depends(() => { throw new Error('boom') }, { name: 'boom' })
  instance.get('/guard-first', { dependencies: { guard, tx, f } }, async () => 'unreachable')
  instance.get('/guard-after', { dependencies: { tx, f, guard } }, async () => 'unreachable')
  instance.get('/fails-first', { dependencies: { boom, tx } }, async () => 'unreachable')
  instance.get('/ok', { dependencies: { tx, f } }, async () => 'ok')
  instance.get('/hijack', { dependencies: { tx } }, async (_request, reply) => {
    reply.hijack()
    reply.raw.end('by hand')
  })
  const statuses = []
  for (const path of ['/guard-first', '/guard-after', '/fails-first', '/ok', '/hijack']) {
    statuses.push((await request(instance, path)).status)
  }
  t.same(statuses, [403, 403, 500, 200, 200])
  await settle()
  const started = Date.now()
  await within(instance.close(), 'close()', 2000)
  t.ok(Date.now() - started < 1000, 'close() did not wait for closeTimeout')
})
