import http from 'node:http'
import type { AddressInfo } from 'node:net'
import { Readable } from 'node:stream'
import Fastify, { type FastifyInstance } from 'fastify'
import fp from 'fastify-plugin'
import { test } from 'tap'
import { bothScopes, build, EventLog, recording, settle, within } from './helpers'
import fastifyDepends, { depends, type Dependency } from '../lib/index'

/** Starts `GET path` on a loopback socket; the caller may destroy it. Resolves the response, if one comes. */
async function open (app: FastifyInstance, path: string): Promise<{ req: http.ClientRequest, response: Promise<http.IncomingMessage> }> {
  if (app.server.address() === null) await app.listen({ port: 0, host: '127.0.0.1' })
  const { port } = app.server.address() as AddressInfo
  const req = http.request({ host: '127.0.0.1', port, path, agent: false })
  req.on('error', () => {}) // "socket hang up" once it is destroyed
  const response = new Promise<http.IncomingMessage>((resolve) => req.once('response', resolve))
  req.end()
  return { req, response }
}

test('a hijacked reply: each generator is finalized once, function scope first, after the handler wrote and ended', async (t) => {
  const app = await build(t)
  const events = new EventLog()
  app.get('/now', { dependencies: bothScopes(events) }, async (_request, reply) => {
    reply.hijack()
    reply.raw.writeHead(200, { 'content-type': 'text/plain' })
    reply.raw.end('hijacked')
    await settle()
    events.record('handler:end')
  })
  app.get('/later', { dependencies: bothScopes(events) }, (_request, reply) => {
    reply.hijack()
    events.record('handler:returned')
    setTimeout(() => { events.record('raw:end'); reply.raw.end('later') }, 20)
  })

  const res = await app.inject('/now')
  t.equal(res.statusCode, 200)
  t.equal(res.body, 'hijacked')
  await within(events.until('request:exit'), 'request:exit')
  await settle()
  t.same(events.list(), ['function:enter', 'request:enter', 'handler:end', 'function:exit', 'request:exit'])

  events.length = 0
  const later = await app.inject('/later')
  t.equal(later.body, 'later')
  await within(events.until('request:exit'), 'request:exit')
  await settle()
  t.same(events.list(), ['function:enter', 'request:enter', 'handler:returned', 'raw:end', 'function:exit', 'request:exit'])
})

test('a hijacked reply whose client left before it was written: every generator is finalized once, request scope with FST_DEPENDS_CLIENT_ABORTED', async (t) => {
  const app = await build(t)
  const events = new EventLog()
  app.get('/async', { dependencies: bothScopes(events) }, async (_request, reply) => {
    reply.hijack()
    await within(new Promise((resolve) => reply.raw.once('close', resolve)), 'close')
    reply.raw.end('too late')
    events.record('handler:end')
  })
  app.get('/sync', { dependencies: bothScopes(events) }, (_request, reply) => {
    reply.hijack()
    events.record('handler:returned') // the reply is written by someone else, after the client left
    reply.raw.once('close', () => setImmediate(() => { events.record('raw:end'); reply.raw.end('too late') }))
  })

  for (const [path, handlerEvent] of [['/async', 'handler:end'], ['/sync', 'handler:returned']]) {
    events.length = 0
    const { req } = await open(app, path)
    await within(events.until('request:enter'), `${path} entered`)
    await settle()
    req.destroy()
    await within(events.until('request:saw FST_DEPENDS_CLIENT_ABORTED'), `${path}: request-scoped cleanup`, 1000).catch((err: Error) => t.fail(err.message))
    await settle()
    // The handler ended normally, but the response never completed: either resumption is right for the function scope.
    const functionEnd = events.find((e) => e === 'function:exit' || e === 'function:saw FST_DEPENDS_CLIENT_ABORTED')
    t.ok(functionEnd, `${path}: the function-scoped generator was finalized`)
    const list = events.list().filter((e) => e !== 'raw:end').map((e) => e === functionEnd ? 'function:end' : e)
    t.same(list, ['function:enter', 'request:enter', handlerEvent, 'function:end', 'request:saw FST_DEPENDS_CLIENT_ABORTED'], path)
  }
})

test('HEAD to a GET route: cleanup once in each scope, for a JSON body and for a stream the HEAD route discards', async (t) => {
  const app = await build(t)
  const events = new EventLog()
  app.get('/json', { dependencies: bothScopes(events) }, async () => {
    events.record('handler')
    return { big: 'x'.repeat(100) }
  })
  app.get('/stream', { dependencies: bothScopes(events) }, async () => {
    events.record('handler')
    return Readable.from(['a', 'b', 'c'])
  })
  for (const url of ['/json', '/stream']) {
    events.length = 0
    const res = await app.inject({ method: 'HEAD', url })
    t.equal(res.statusCode, 200)
    t.equal(res.body, '')
    await within(events.until('request:exit'), `${url} request:exit`)
    await settle()
    t.same(events.list(), ['function:enter', 'request:enter', 'handler', 'function:exit', 'request:exit'], url)
  }
})

test('404s, a method the route lacks, and a not-found handler answering 405 run no dependency, app-level generators included (B21)', async (t) => {
  const events = new EventLog()
  const app = await build(t, { dependencies: [recording(events, 'global', 'request'), recording(events, 'globalFn', 'function')] })
  app.get('/items', async () => 'items')
  app.setNotFoundHandler((request, reply) => {
    events.record('notFound')
    reply.code(request.url === '/items' ? 405 : 404).send({ method: request.method })
  })

  const { response } = await open(app, '/missing')
  t.equal((await within(response, 'response')).statusCode, 404)
  t.equal((await app.inject({ method: 'DELETE', url: '/items' })).statusCode, 405)
  t.equal((await app.inject({ method: 'POST', url: '/missing', payload: { a: 1 } })).statusCode, 404)
  await settle()
  t.same(events.list(), ['notFound', 'notFound', 'notFound'])

  const res = await app.inject('/items')
  t.equal(res.body, 'items')
  await within(events.until('global:exit'), 'global:exit')
  t.same(events.list().slice(3), ['global:enter', 'globalFn:enter', 'globalFn:exit', 'global:exit'], 'the same generators do run on a matched route')
})

test('connectionTimeout expiry destroys the socket under a waiting handler: cleanup once, after the handler; onTimeout hooks run', async (t) => {
  const app = await build(t, {}, { connectionTimeout: 100 })
  const events = new EventLog()
  const timeouts: string[] = []
  app.addHook('onTimeout', (request, _reply, done) => { timeouts.push(request.url); done() })
  app.get('/slow', { dependencies: bothScopes(events) }, async (_request, reply) => {
    events.record('handler:start')
    await within(new Promise((resolve) => reply.raw.once('close', resolve)), 'close')
    events.record('handler:end')
    return 'too late'
  })
  app.get('/idle-stream', { dependencies: bothScopes(events) }, async () => {
    events.record('handler')
    const body = new Readable({ read () {} })
    body.push('first')
    return body // never ends: the connection times out
  })

  await open(app, '/slow')
  await within(events.until('request:saw FST_DEPENDS_CLIENT_ABORTED'), 'request-scoped cleanup')
  await settle()
  t.same(events.list(), [
    'function:enter', 'request:enter', 'handler:start', 'handler:end',
    'function:exit', 'request:saw FST_DEPENDS_CLIENT_ABORTED'
  ])

  events.length = 0
  const { response } = await open(app, '/idle-stream')
  t.equal((await within(response, 'response')).statusCode, 200)
  await within(events.until('request:saw FST_DEPENDS_CLIENT_ABORTED'), 'request-scoped cleanup')
  await settle()
  t.same(events.list(), ['function:enter', 'request:enter', 'handler', 'function:exit', 'request:saw FST_DEPENDS_CLIENT_ABORTED'])
  t.same(timeouts, ['/slow', '/idle-stream'])
})

test('handlerTimeout: the client gets 503 while the handler runs; generators see the timeout once, only after the handler ended', async (t) => {
  const app = await build(t)
  const events = new EventLog()
  let release: () => void = () => {}
  const gate = new Promise<void>((resolve) => { release = resolve })
  app.get('/slow', { handlerTimeout: 30, dependencies: bothScopes(events) }, async (request) => {
    events.record('handler:start')
    await within(gate, 'gate')
    events.record(`handler:end signal.aborted=${request.signal.aborted}`)
    return 'too late'
  })

  const res = await app.inject('/slow')
  t.equal(res.statusCode, 503)
  t.equal(res.json().code, 'FST_ERR_HANDLER_TIMEOUT')
  await settle()
  t.same(events.list(), ['function:enter', 'request:enter', 'handler:start'], 'nothing finalized under the running handler')
  release()
  await within(events.until('request:saw FST_ERR_HANDLER_TIMEOUT'), 'request-scoped cleanup')
  await settle()
  t.same(events.list(), [
    'function:enter', 'request:enter', 'handler:start', 'handler:end signal.aborted=true',
    'function:saw FST_ERR_HANDLER_TIMEOUT', 'request:saw FST_ERR_HANDLER_TIMEOUT'
  ])
})

test('handlers that return reply after reply.send(): function scope before the response, request scope after, once each', async (t) => {
  const app = await build(t)
  const events = new EventLog()
  app.addHook('onRequest', (_request, reply, done) => {
    reply.raw.once('finish', () => events.record('sent'))
    done()
  })
  app.post('/items', { dependencies: bothScopes(events) }, async (_request, reply) => {
    events.record('handler')
    reply.code(201).header('x-deps', 'seen').send({ created: true })
    return reply
  })
  const res = await app.inject({ method: 'POST', url: '/items' })
  t.equal(res.statusCode, 201)
  t.equal(res.headers['x-deps'], 'seen')
  t.same(res.json(), { created: true })
  await within(events.until('request:exit'), 'request:exit')
  await settle()
  t.same(events.list(), ['function:enter', 'request:enter', 'handler', 'function:exit', 'sent', 'request:exit'])
})

test('handlers that call reply.send() without returning (sync, async, later from a timer): cleanup once each, in scope order', async (t) => {
  const app = await build(t)
  const events = new EventLog()
  app.get('/sync', { dependencies: bothScopes(events) }, (_request, reply) => { reply.send('sync') })
  app.get('/async', { dependencies: bothScopes(events) }, async (_request, reply) => { reply.send('async') })
  app.get('/timer', { dependencies: bothScopes(events) }, (_request, reply) => {
    setTimeout(() => { events.record('send'); reply.send('timer') }, 20)
  })
  app.get('/async-timer', { dependencies: bothScopes(events) }, async (_request, reply) => {
    setTimeout(() => { events.record('send'); reply.send('async-timer') }, 20)
    return reply
  })
  for (const name of ['sync', 'async', 'timer', 'async-timer']) {
    events.length = 0
    const res = await app.inject(`/${name}`)
    t.equal(res.body, name)
    await within(events.until('request:exit'), `${name} request:exit`)
    await settle()
    const sent = name.includes('timer') ? ['send'] : []
    t.same(events.list(), ['function:enter', 'request:enter', ...sent, 'function:exit', 'request:exit'], name)
  }
})

test('an onSend hook of another plugin that throws: generators see its error once, before the error response', async (t) => {
  const thrower = fp(async (instance) => {
    instance.addHook('onSend', async (_request, _reply, payload) => {
      if (payload === 'handler payload') throw Object.assign(new Error('onSend broke'), { statusCode: 502 })
      return payload
    })
  })

  // Registered before or after fastify-depends: instance-level onSend hooks run before the route's,
  // where the plugin finalizes the function scope, so both scopes see the error.
  for (const order of ['plugin first', 'thrower first'] as const) {
    const app = Fastify()
    t.after(() => app.close())
    if (order === 'plugin first') {
      await app.register(fastifyDepends)
      await app.register(thrower)
    } else {
      await app.register(thrower)
      await app.register(fastifyDepends)
    }
    const events = new EventLog()
    app.get('/', { dependencies: bothScopes(events) }, async () => 'handler payload')
    const res = await app.inject('/')
    t.equal(res.statusCode, 502, order)
    t.equal(res.json().message, 'onSend broke', order)
    await within(events.until('request:saw onSend broke'), 'request-scoped cleanup')
    await settle()
    t.same(events.list(), ['function:enter', 'request:enter', 'function:saw onSend broke', 'request:saw onSend broke'], order)
  }
})

test('a client that leaves during an async function-scoped cleanup: the unwind stays LIFO and the request scope waits for the function scope', async (t) => {
  const app = await build(t)
  const events = new EventLog()
  const r = recording(events, 'request', 'request')
  const inner = depends({ r }, async function * () {
    events.record('inner:enter')
    try {
      yield 'inner'
      events.record('inner:exit')
    } catch (err) {
      events.record(`inner:saw ${(err as { code?: string }).code}`)
      throw err
    }
  }, { name: 'inner', scope: 'function' })
  const outer = depends({ r, inner }, async function * (_inputs, { reply }) {
    events.record('outer:enter')
    yield 'outer'
    events.record('outer:cleanup')
    await within(new Promise((resolve) => reply.raw.once('close', resolve)), 'close') // still uses r and inner
    events.record('outer:exit')
  }, { name: 'outer', scope: 'function' })
  app.get('/x', { dependencies: [outer] }, async () => 'ok')

  const { req } = await open(app, '/x')
  await within(events.until('outer:cleanup'), 'outer:cleanup')
  req.destroy()
  await within(events.until('request:saw FST_DEPENDS_CLIENT_ABORTED'), 'request-scoped cleanup')
  await settle()
  t.same(events.list(), [
    'request:enter', 'inner:enter', 'outer:enter', 'outer:cleanup',
    'outer:exit', 'inner:exit', // the function scope finishes first, newest first
    'request:saw FST_DEPENDS_CLIENT_ABORTED'
  ])
})

test('handlerTimeout, then the handler throws: each generator sees one error, one at a time, newest first', async (t) => {
  const app = await build(t)
  const events = new EventLog()
  const slowly = (name: string, scope: 'request' | 'function'): Dependency<string> => depends(async function * () {
    events.record(`${name}:enter`)
    try {
      yield name
    } catch (err) {
      events.record(`${name}:saw ${(err as { code?: string }).code ?? (err as Error).message}`)
      await settle()
      events.record(`${name}:done`)
      throw err
    }
  }, { name, scope })
  const deps = [slowly('r1', 'request'), slowly('r2', 'request'), slowly('f1', 'function'), slowly('f2', 'function')]
  app.get('/x', { handlerTimeout: 20, dependencies: deps }, async () => {
    await new Promise((resolve) => setTimeout(resolve, 60))
    events.record('handler:throw')
    throw new Error('handler failed late')
  })

  const res = await app.inject('/x')
  t.equal(res.statusCode, 503)
  await within(events.until('r1:done'), 'r1:done')
  await settle()
  const seen = new Set(events.filter((e) => e.includes(':saw ')).map((e) => e.slice(e.indexOf(':saw ') + 5)))
  t.equal(seen.size, 1, `one error for every generator: ${[...seen].join(', ')}`)
  const error = [...seen][0]
  t.ok(['FST_ERR_HANDLER_TIMEOUT', 'handler failed late'].includes(error), 'the timeout, or the handler\'s own error')
  t.same(events.list(), [
    'r1:enter', 'r2:enter', 'f1:enter', 'f2:enter', 'handler:throw',
    `f2:saw ${error}`, 'f2:done', `f1:saw ${error}`, 'f1:done', `r2:saw ${error}`, 'r2:done', `r1:saw ${error}`, 'r1:done'
  ])
})
