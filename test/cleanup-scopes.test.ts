import { Readable } from 'node:stream'
import type { FastifyInstance } from 'fastify'
import { test } from 'tap'
import { build, EventLog, settle } from './helpers'
import { depends, Depends, type Dependency } from '../lib/index'

/** Records 'writeHead' when the status line is written and 'sent' on the raw 'finish' (registered before Fastify's own listener). */
function watchWire (app: FastifyInstance, events: EventLog): void {
  app.addHook('onRequest', (_request, reply, done) => {
    const raw = reply.raw
    const writeHead = raw.writeHead
    raw.writeHead = function (this: typeof raw, ...args: unknown[]) {
      events.record('writeHead')
      return (writeHead as (...a: unknown[]) => typeof raw).apply(this, args)
    } as typeof raw.writeHead
    raw.once('finish', () => events.record('sent'))
    done()
  })
}

/** A generator dependency that records enter/exit; its cleanup awaits, so an implementation that does not wait for it is caught. */
function tracked (name: string, events: EventLog, scope?: 'request' | 'function'): Dependency<{ open: boolean }> {
  return depends(async function * () {
    events.record(name + ':enter')
    const state = { open: true }
    yield state
    await settle()
    state.open = false
    events.record(name + ':exit')
  }, { name, scope })
}

test('function-scope cleanup runs after the handler and before the response is written; request-scope cleanup after it was sent', async (t) => {
  const app = await build(t)
  const events = new EventLog()
  watchWire(app, events)
  const A = tracked('A', events)
  const F = tracked('F', events, 'function')
  app.get('/', {
    dependencies: { a: A, f: F },
    onSend: (_request, _reply, payload, done) => {
      events.record('onSend')
      done(null, payload)
    }
  }, async () => {
    events.record('handler')
    return { ok: true }
  })

  const res = await app.inject('/')
  t.equal(res.statusCode, 200)
  t.same(res.json(), { ok: true })
  await events.until('A:exit')
  t.same(events.list(), ['A:enter', 'F:enter', 'handler', 'F:exit', 'onSend', 'writeHead', 'sent', 'A:exit'])
})

test('the response carries what the handler saw while function-scoped resources were still open', async (t) => {
  const app = await build(t)
  const events = new EventLog()
  const F = tracked('F', events, 'function')
  const A = tracked('A', events)
  app.get('/', { dependencies: { f: F, a: A } }, async (request) => {
    const { f, a } = request.deps as { f: { open: boolean }, a: { open: boolean } }
    return { f: f.open, a: a.open }
  })

  const res = await app.inject('/')
  t.same(res.json(), { f: true, a: true })
  await events.until('A:exit')
  t.same(events.list(), ['F:enter', 'A:enter', 'F:exit', 'A:exit'])
})

test('a dependency\'s cleanup runs before the cleanup of what it depends on, which is still open (B38)', async (t) => {
  const app = await build(t)
  const events = new EventLog()
  const a = tracked('a', events)
  const b = depends({ a }, async function * b ({ a }) {
    events.record('b:enter with a ' + (a.open ? 'open' : 'closed'))
    yield 'b'
    await settle()
    events.record('b:exit with a ' + (a.open ? 'open' : 'closed'))
  })
  app.get('/', { dependencies: { b } }, async (request) => request.deps)

  const res = await app.inject('/')
  t.same(res.json(), { b: 'b' })
  await events.until('a:exit')
  t.same(events.list(), ['a:enter', 'b:enter with a open', 'b:exit with a open', 'a:exit'])
})

test('function-scoped generators unwind LIFO among themselves, all before any request-scoped one', async (t) => {
  const app = await build(t)
  const events = new EventLog()
  watchWire(app, events)
  const R1 = tracked('R1', events)
  const F1 = tracked('F1', events, 'function')
  const R2 = tracked('R2', events)
  const F2 = tracked('F2', events, 'function')
  app.get('/', { dependencies: [R1, F1, R2, F2] }, async () => {
    events.record('handler')
    return 'ok'
  })

  const res = await app.inject('/')
  t.equal(res.body, 'ok')
  await events.until('R1:exit')
  t.same(events.list(), [
    'R1:enter', 'F1:enter', 'R2:enter', 'F2:enter', 'handler',
    'F2:exit', 'F1:exit', 'writeHead', 'sent', 'R2:exit', 'R1:exit'
  ])
})

test('Depends(dep, { scope: "function" }) closes a request-scoped generator before the response at that use site', async (t) => {
  const app = await build(t)
  const events = new EventLog()
  watchWire(app, events)
  const G = tracked('G', events)
  app.get('/', { dependencies: { g: Depends(G, { scope: 'function' }) } }, async () => {
    events.record('handler')
    return 'ok'
  })

  await app.inject('/')
  await events.until('sent')
  await settle()
  t.same(events.list(), ['G:enter', 'handler', 'G:exit', 'writeHead', 'sent'])
})

test('a streamed response keeps request-scoped generators open until the stream ended; function-scoped ones close before the first chunk (B40)', async (t) => {
  const app = await build(t)
  const events = new EventLog()
  watchWire(app, events)
  const A = tracked('A', events)
  const F = tracked('F', events, 'function')
  app.get('/', { dependencies: { a: A, f: F } }, async (request, reply) => {
    events.record('handler')
    const { a, f } = request.deps as { a: { open: boolean }, f: { open: boolean } }
    const stream = Readable.from((async function * () {
      for (const n of [1, 2]) {
        await settle()
        events.record('chunk' + n)
        yield `chunk${n} a=${a.open ? 'open' : 'closed'} f=${f.open ? 'open' : 'closed'}\n`
      }
    })())
    return reply.type('text/plain').send(stream)
  })
  await app.listen({ port: 0, host: '127.0.0.1' })

  const res = await fetch(`http://127.0.0.1:${(app.server.address() as { port: number }).port}/`)
  t.equal(res.status, 200)
  t.equal(await res.text(), 'chunk1 a=open f=closed\nchunk2 a=open f=closed\n')
  await events.until('A:exit')
  // Fastify writes the head of a streamed response with its first chunk
  t.same(events.list().filter((e) => e !== 'writeHead'), ['A:enter', 'F:enter', 'handler', 'F:exit', 'chunk1', 'chunk2', 'sent', 'A:exit'])
  t.ok(events.indexOf('F:exit') < events.indexOf('writeHead'), 'function scope closed before the head was written')
})

test('a streamed response over inject: request-scoped cleanup waits for the end of the stream', async (t) => {
  const app = await build(t)
  const events = new EventLog()
  const A = tracked('A', events)
  app.get('/', { dependencies: [A] }, async (_request, reply) => {
    const stream = Readable.from((async function * () {
      await settle()
      events.record('chunk1')
      yield 'one,'
      await settle()
      events.record('chunk2')
      yield 'two'
    })())
    return reply.send(stream)
  })

  const res = await app.inject('/')
  t.equal(res.body, 'one,two')
  await events.until('A:exit')
  t.same(events.list(), ['A:enter', 'chunk1', 'chunk2', 'A:exit'])
})

test('app-level (plugin option) and router-level (addDependencies) generators honour both scopes (B44)', async (t) => {
  const events = new EventLog()
  const appF = tracked('app:F', events, 'function')
  const appR = tracked('app:R', events)
  const app = await build(t, { dependencies: [appF, appR] })
  watchWire(app, events)
  const routerF = tracked('router:F', events, 'function')
  const routerR = tracked('router:R', events)
  const routeR = tracked('route:R', events)
  await app.register(async (router) => {
    router.addDependencies([routerF, routerR])
    router.get('/r', { dependencies: [routeR] }, async () => {
      events.record('handler')
      return 'ok'
    })
  })

  const res = await app.inject('/r')
  t.equal(res.statusCode, 200)
  t.equal(res.body, 'ok')
  await events.until('app:R:exit')
  t.same(events.list(), [
    'app:F:enter', 'app:R:enter', 'router:F:enter', 'router:R:enter', 'route:R:enter', 'handler',
    'router:F:exit', 'app:F:exit', 'writeHead', 'sent', 'route:R:exit', 'router:R:exit', 'app:R:exit'
  ])
})

test('a router-level request-scoped generator stays open through a streamed body, its function-scoped sibling does not', async (t) => {
  const app = await build(t)
  const events = new EventLog()
  const F = tracked('F', events, 'function')
  const R = tracked('R', events)
  await app.register(async (router) => {
    router.addDependencies({ f: F, r: R })
    router.get('/s', async (request, reply) => {
      const { f, r } = request.deps as { f: { open: boolean }, r: { open: boolean } }
      return reply.send(Readable.from((async function * () {
        await settle()
        events.record('chunk')
        yield `f=${f.open} r=${r.open}`
      })()))
    })
  })

  const res = await app.inject('/s')
  t.equal(res.body, 'f=false r=true')
  await events.until('R:exit')
  t.same(events.list(), ['F:enter', 'R:enter', 'F:exit', 'chunk', 'R:exit'])
})

test('routes without generators and sibling contexts are unaffected by another context\'s addDependencies', async (t) => {
  const app = await build(t)
  const events = new EventLog()
  const R = tracked('R', events)
  await app.register(async (router) => {
    router.addDependencies([R])
    router.get('/inside', async () => 'inside')
  })
  app.get('/outside', async () => 'outside')

  t.equal((await app.inject('/outside')).body, 'outside')
  await settle()
  t.same(events.list(), [])
  t.equal((await app.inject('/inside')).body, 'inside')
  await events.until('R:exit')
  t.same(events.list(), ['R:enter', 'R:exit'])
})
