import { test } from 'tap'
import http from 'node:http'
import type { AddressInfo } from 'node:net'
import { build, EventLog, logCollector, within } from './helpers'
import { depends, Depends, Security, httpError } from '../lib/index'

test('a generator entered after the client already left is finalized with FST_DEPENDS_CLIENT_ABORTED once the handler answered', async (t) => {
  const app = await build(t)
  const events = new EventLog()
  const waitForClose = depends(async (_inputs, { reply }) => {
    events.record('waiting')
    if (!reply.raw.closed) await new Promise((resolve) => reply.raw.once('close', resolve))
    events.record('closed')
  }, { name: 'waitForClose' })
  const late = depends({ closed: waitForClose }, async function * late () {
    events.record('late:enter')
    try {
      yield 'late'
      events.record('late:exit')
    } catch (err) {
      events.record(`late:saw ${(err as { code: string }).code}`)
    }
  })
  app.get('/late', { dependencies: { late } }, async () => {
    events.record('handler')
    return 'ok'
  })
  await app.listen({ port: 0, host: '127.0.0.1' })
  const { port } = app.server.address() as AddressInfo
  const req = http.request({ host: '127.0.0.1', port, path: '/late', agent: false })
  req.on('error', () => {})
  req.end()
  await within(events.until('waiting'), 'waiting')
  req.destroy()
  await within(events.until('late:saw FST_DEPENDS_CLIENT_ABORTED'), 'late cleanup')
  t.same(events.list(), ['waiting', 'closed', 'late:enter', 'handler', 'late:saw FST_DEPENDS_CLIENT_ABORTED'])
})

test('reply.send(error) from the handler: generators see the error before the error response, and cannot replace it', async (t) => {
  const log = logCollector()
  const app = await build(t, {}, { logger: { level: 'error', stream: log.stream } })
  const events: string[] = []
  const observer = depends(function * observer () {
    try {
      yield 1
      events.push('observer:exit')
    } catch (err) {
      events.push(`observer:saw ${(err as Error).message}`)
      throw err
    }
  })
  const replacer = depends(function * replacer () {
    try {
      yield 1
    } catch {
      throw httpError(418, 'too late to replace')
    }
  })
  app.get('/sent-error', { dependencies: [observer] }, (_request, reply) => {
    reply.send(httpError(409, 'conflict'))
  })
  app.get('/replace', { dependencies: [observer, replacer] }, (_request, reply) => {
    reply.send(httpError(409, 'conflict'))
  })

  const res = await app.inject('/sent-error')
  t.equal(res.statusCode, 409)
  t.same(events, ['observer:saw conflict'])

  events.length = 0
  const replaced = await app.inject('/replace')
  t.equal(replaced.statusCode, 409, 'the response was already decided')
  t.same(events, ['observer:saw too late to replace'])
  const line = log.lines.find((l) => String(l.msg).includes('after the error response was decided'))
  t.equal((line?.err as { message: string }).message, 'too late to replace')
})

test('parallel: after a failure, a dependency whose inputs arrive later is not started', async (t) => {
  const app = await build(t, { concurrency: 'parallel' })
  const events: string[] = []
  let release: () => void = () => {}
  const slow = depends(() => new Promise<void>((resolve) => { release = resolve }).then(() => events.push('slow:end')), { name: 'slow' })
  const fails = depends(async () => {
    await new Promise((resolve) => setImmediate(resolve))
    events.push('fails')
    setImmediate(() => release())
    throw httpError(400, 'bad')
  }, { name: 'fails' })
  const after = depends({ slow }, () => { events.push('after') }, { name: 'after' })
  app.get('/', { dependencies: [fails, after] }, async () => 'unreachable')
  const res = await app.inject('/')
  t.equal(res.statusCode, 400)
  t.same(events, ['fails', 'slow:end'])
})

test('definition edge cases: __proto__ names, responses and usesScopes values', async (t) => {
  const one = depends(() => 1)
  t.throws(() => depends({ ['__proto__']: one } as never, () => 1), { code: 'FST_DEPENDS_INVALID' })
  t.throws(() => depends(() => 1, { responses: 'nope' as never }), { code: 'FST_DEPENDS_INVALID' })
  t.throws(() => depends(() => 1, { usesScopes: 'yes' as never }), { code: 'FST_DEPENDS_INVALID' })

  const app = await build(t)
  app.get('/proto', { dependencies: { ['__proto__']: one } as never }, async () => 'never')
  await t.rejects((async () => { await app.ready() })(), { code: 'FST_DEPENDS_INVALID' })
})

test('a usesScopes dependency is keyed by its scopes', async (t) => {
  const app = await build(t)
  const calls: string[][] = []
  const one = depends(() => 1)
  const reader = depends({ one }, (_i, { securityScopes }) => { calls.push([...securityScopes.scopes]) }, { usesScopes: true })
  const a = depends({ reader: Security(reader, ['a']) }, () => 'a')
  const b = depends({ reader: Depends(reader) }, () => 'b')
  const c = depends({ reader }, () => 'c')
  app.get('/', { dependencies: [a, b, c] }, async () => 'ok')
  await app.inject('/')
  t.same(calls, [['a'], []], 'run once per distinct scope set')
})

test('addDependencies with something that is not a dependency rejects ready()', async (t) => {
  const app = await build(t)
  app.addDependencies([42 as never])
  await t.rejects((async () => { await app.ready() })(), { code: 'FST_DEPENDS_INVALID' })
})

test('httpError defaults its message to the status text', async (t) => {
  t.equal(httpError(404).message, 'Not Found')
  t.equal(httpError(599).message, 'HTTP 599')
  t.equal(httpError(404).headers, undefined)
})

test('a generator that yields twice and whose finally throws still gives FST_DEPENDS_GENERATOR', async (t) => {
  const app = await build(t)
  const twice = depends(function * twice () {
    try {
      yield 1
      yield 2
    } finally {
      // eslint-disable-next-line no-unsafe-finally
      throw new Error('finally failed')
    }
  }, { scope: 'function' })
  app.get('/', { dependencies: [twice] }, async () => 'ok')
  const res = await app.inject('/')
  t.equal(res.statusCode, 500)
  t.equal(res.json().code, 'FST_DEPENDS_GENERATOR')
})

test('responses must be an object', async (t) => {
  t.throws(() => depends(() => 1, { responses: null as never }), { code: 'FST_DEPENDS_INVALID' })
})

test('routes with several methods and a single existing preHandler are wired', async (t) => {
  const app = await build(t)
  const events: string[] = []
  const one = depends(() => { events.push('one'); return 1 })
  app.route({
    method: ['GET', 'POST'],
    url: '/multi',
    dependencies: { one },
    preHandler: (request, _reply, done) => { events.push(`preHandler sees ${JSON.stringify(request.deps)}`); done() },
    handler: async (request) => request.deps
  })
  const get = await app.inject('/multi')
  const post = await app.inject({ method: 'POST', url: '/multi' })
  t.same([get.json(), post.json()], [{ one: 1 }, { one: 1 }])
  t.same(events, ['one', 'preHandler sees {"one":1}', 'one', 'preHandler sees {"one":1}'])
})

test('a registration error names a multi-method route', async (t) => {
  const app = await build(t)
  const fn = depends(function * fn () { yield 1 }, { scope: 'function' })
  const req = depends({ fn }, function * req () { yield 2 })
  app.route({ method: ['GET', 'POST'], url: '/m', dependencies: [req], handler: async () => 'x' })
  await t.rejects((async () => { await app.ready() })(), { code: 'FST_DEPENDS_SCOPE', message: /GET,POST \/m/ })
})

test('a synchronous handler throw: with no generator it goes straight on, with one the generator sees it first', async (t) => {
  const app = await build(t)
  const events: string[] = []
  const plain = depends(() => 1)
  const gen = depends(function * gen () {
    try {
      yield 1
    } catch (err) {
      events.push(`gen:saw ${(err as Error).message}`)
      throw err
    }
  })
  app.get('/plain', { dependencies: [plain] }, () => { throw httpError(409, 'sync conflict') })
  app.get('/gen', { dependencies: [gen] }, () => { throw httpError(409, 'sync conflict') })
  const a = await app.inject('/plain')
  const b = await app.inject('/gen')
  t.same([a.statusCode, b.statusCode], [409, 409])
  t.same(events, ['gen:saw sync conflict'])
})

test('thenables that are not promises, even ones that call back at once, are awaited like promises, in order', async (t) => {
  const app = await build(t)
  const events = new EventLog()
  // Calls its callback inside then(): resolution must not go on before it returned.
  const eager = (value: unknown) => ({ then (resolve: (value: unknown) => void) { events.record(`then ${String(value)}`); resolve(value) } })
  const session = depends(function * session () {
    events.record('session:enter')
    yield 'session'
    events.record('session:exit')
  })
  const first = depends(() => eager(1), { name: 'first' })
  const second = depends({ first, session }, ({ first }) => {
    events.record(`second sees ${String(first)}`)
    return eager(2)
  }, { name: 'second' })
  app.get('/', { dependencies: { first, second } }, (request) => {
    events.record('handler')
    return eager({ deps: request.deps })
  })
  const res = await app.inject('/')
  t.equal(res.statusCode, 200)
  t.same(res.json(), { deps: { first: 1, second: 2 } })
  await events.until('session:exit')
  t.same(events.list(), ['then 1', 'session:enter', 'second sees 1', 'then 2', 'handler', 'then [object Object]', 'session:exit'])
})
