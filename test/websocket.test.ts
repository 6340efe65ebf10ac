import { once } from 'node:events'
import type { AddressInfo } from 'node:net'
import net from 'node:net'
import { setTimeout as sleep } from 'node:timers/promises'
import websocket from '@fastify/websocket'
import Fastify, { type FastifyInstance } from 'fastify'
import { test } from 'tap'
import WebSocket from 'ws'
import { Type } from '@sinclair/typebox'
import { bothScopes, EventLog, logCollector, recording, settle, watchProcess, within } from './helpers'
import fastifyDepends, { APIKeyCookie, APIKeyQuery, depends, OAuth2PasswordBearer, Query, type FastifyDependsOptions } from '../lib/index'

// WebSocket routes (DESIGN §14), over real sockets with the `ws` client. Each generator records
// `name:enter`, then `name:exit` or `name:saw <code>`; `handler`/`message` mark the socket handler.

type Order = 'websocket first' | 'fastify-depends first'
const ORDERS: Order[] = ['websocket first', 'fastify-depends first']

async function app (t: { after: (fn: () => unknown) => void }, order: Order = 'websocket first', options: FastifyDependsOptions = {}, fastifyOptions = {}): Promise<FastifyInstance> {
  const instance = Fastify(fastifyOptions)
  t.after(() => instance.close())
  if (order === 'websocket first') {
    await instance.register(websocket)
    await instance.register(fastifyDepends, options)
  } else {
    await instance.register(fastifyDepends, options)
    await instance.register(websocket)
  }
  return instance
}

async function listen (instance: FastifyInstance): Promise<string> {
  if (instance.server.address() === null) await instance.listen({ port: 0, host: '127.0.0.1' })
  return `ws://127.0.0.1:${(instance.server.address() as AddressInfo).port}`
}

// Messages are kept from the start: one sent as the socket opens may arrive with the 101 response.
const inboxes = new WeakMap<WebSocket, { messages: string[], waiting: Array<(message: string) => void> }>()

function open (url: string, headers: Record<string, string> = {}): WebSocket {
  return keepMessages(new WebSocket(url, { headers }))
}

function keepMessages (client: WebSocket): WebSocket {
  const inbox = { messages: [] as string[], waiting: [] as Array<(message: string) => void> }
  inboxes.set(client, inbox)
  client.on('message', (data) => {
    const waiter = inbox.waiting.shift()
    if (waiter !== undefined) waiter(String(data))
    else inbox.messages.push(String(data))
  })
  return client
}

async function connect (instance: FastifyInstance, path: string, headers: Record<string, string> = {}): Promise<WebSocket> {
  const client = open(`${await listen(instance)}${path}`, headers)
  await once(client, 'open')
  return client
}

interface Refused { status: number, headers: Record<string, string | string[] | undefined>, body: string }

/** The upgrade is answered with an HTTP response: no socket opens. */
async function refused (instance: FastifyInstance, path: string, headers: Record<string, string> = {}): Promise<Refused> {
  const client = new WebSocket(`${await listen(instance)}${path}`, { headers })
  return await new Promise((resolve, reject) => {
    client.on('open', () => reject(new Error('the socket opened')))
    client.on('error', () => {})
    client.on('unexpected-response', (_req, res) => {
      let body = ''
      res.setEncoding('utf8')
      res.on('data', (chunk: string) => { body += chunk })
      res.on('end', () => resolve({ status: res.statusCode as number, headers: res.headers, body }))
    })
  })
}

async function nextMessage (client: WebSocket): Promise<string> {
  const inbox = inboxes.get(client) as { messages: string[], waiting: Array<(message: string) => void> }
  const message = inbox.messages.shift()
  if (message !== undefined) return message
  return await within(new Promise((resolve) => inbox.waiting.push(resolve)), 'a message')
}

async function closed (client: WebSocket): Promise<number> {
  if (client.readyState === WebSocket.CLOSED) throw new Error('already closed')
  const [code] = await within(once(client, 'close'), 'the socket to close')
  return code as number
}

/** An echo route: each message is answered with `${message} ${request.deps.f} ${request.deps.r}`. */
function echoRoute (instance: FastifyInstance, events: EventLog, path = '/echo'): void {
  const { f, r } = bothScopes(events)
  instance.get(path, { websocket: true, dependencies: { f, r } }, (socket, request) => {
    events.record('handler')
    socket.on('message', (data) => {
      events.record(`message ${String(data)}`)
      socket.send(`${String(data)} ${request.deps.f as string} ${request.deps.r as string}`)
    })
  })
}

for (const order of ORDERS) {
  test(`${order}: request.deps is there in the socket handler; function scope ends when it returns, request scope when the client closes with 1000`, async (t) => {
    const events = new EventLog()
    const instance = await app(t, order)
    echoRoute(instance, events)
    const client = await connect(instance, '/echo')
    client.send('hello')
    t.equal(await nextMessage(client), 'hello function request')
    client.close(1000)
    await within(events.until('request:exit'), 'request:exit')
    await settle()
    t.same(events.list(), ['function:enter', 'request:enter', 'handler', 'function:exit', 'message hello', 'request:exit'])
  })

  test(`${order}: app.close() with sockets open closes them (1001) and throws FST_DEPENDS_CLIENT_ABORTED into their request scope before onClose hooks`, async (t) => {
    const events = new EventLog()
    const instance = await app(t, order)
    instance.addHook('onClose', (_instance, done) => { events.record('onClose'); done() })
    echoRoute(instance, events)
    const clients = [await connect(instance, '/echo'), await connect(instance, '/echo')]
    const codes = clients.map((client) => closed(client))
    await within(instance.close(), 'close()')
    events.record('closed')
    t.same(events.list(), [
      'function:enter', 'request:enter', 'handler', 'function:exit',
      'function:enter', 'request:enter', 'handler', 'function:exit',
      'request:saw FST_DEPENDS_CLIENT_ABORTED', 'request:saw FST_DEPENDS_CLIENT_ABORTED', 'onClose', 'closed'
    ])
    const received = await Promise.all(codes)
    // @fastify/websocket's own preClose closes without a code when it runs first.
    t.ok(received.every((code) => code === 1001 || code === 1005), `close codes ${received.join(', ')}`)
  })

  test(`${order}: a route with handler and wsHandler: an HTTP request goes through the handler, an upgrade through the socket handler, both with request.deps`, async (t) => {
    const events = new EventLog()
    const instance = await app(t, order)
    const { f, r } = bothScopes(events)
    instance.route({
      method: 'GET',
      url: '/both',
      dependencies: { f, r },
      handler: async (request) => {
        events.record('http handler')
        return { f: request.deps.f, r: request.deps.r }
      },
      wsHandler: (socket, request) => {
        events.record('socket handler')
        socket.send(`${request.deps.f as string} ${request.deps.r as string}`)
      }
    })
    const url = await listen(instance)
    const res = await fetch(url.replace('ws:', 'http:') + '/both')
    t.same(await res.json(), { f: 'function', r: 'request' })
    await within(events.until('request:exit'), 'request:exit (HTTP)')
    events.length = 0
    const client = await connect(instance, '/both')
    t.equal(await nextMessage(client), 'function request')
    client.close()
    await within(events.until('request:exit'), 'request:exit (socket)')
    t.same(events.list(), ['function:enter', 'request:enter', 'socket handler', 'function:exit', 'request:exit'])
  })
}

test('schemes answer the upgrade request with 401 and WWW-Authenticate, parameters with 400: no socket opens, nothing is entered', async (t) => {
  const events = new EventLog()
  const instance = await app(t)
  const token = OAuth2PasswordBearer({ tokenUrl: '/token' })
  const room = Query('room', Type.Integer({ minimum: 1 }))
  const session = recording(events, 'session', 'request')
  instance.get('/live', { websocket: true, dependencies: { token, room, session } }, (socket, request) => {
    socket.send(`${request.deps.token as string} in room ${request.deps.room as number}`)
  })
  const unauthorized = await refused(instance, '/live?room=1')
  t.equal(unauthorized.status, 401)
  t.equal(unauthorized.headers['www-authenticate'], 'Bearer')
  t.same(JSON.parse(unauthorized.body), { statusCode: 401, error: 'Unauthorized', message: 'Not authenticated' })
  const invalid = await refused(instance, '/live?room=zero', { authorization: 'Bearer abc' })
  t.equal(invalid.status, 400)
  t.match(JSON.parse(invalid.body), { statusCode: 400, code: 'FST_ERR_VALIDATION' })
  t.same(events.list(), [])
  t.equal(instance.websocketServer.clients.size, 0)
  const client = await connect(instance, '/live?room=7', { authorization: 'Bearer abc' })
  t.equal(await nextMessage(client), 'abc in room 7')
  client.close()
  await within(events.until('session:exit'), 'session:exit')
})

test('APIKeyQuery and APIKeyCookie, the schemes a browser can send with a WebSocket, work on the upgrade', async (t) => {
  const instance = await app(t)
  const queryKey = APIKeyQuery({ name: 'api_key' })
  const cookieKey = APIKeyCookie({ name: 'session' })
  instance.get('/query', { websocket: true, dependencies: { key: queryKey } }, (socket, request) => { socket.send(`key ${request.deps.key as string}`) })
  instance.get('/cookie', { websocket: true, dependencies: { key: cookieKey } }, (socket, request) => { socket.send(`key ${request.deps.key as string}`) })
  t.equal((await refused(instance, '/query')).status, 401)
  t.equal((await refused(instance, '/cookie')).status, 401)
  const byQuery = await connect(instance, '/query?api_key=k1')
  t.equal(await nextMessage(byQuery), 'key k1')
  const byCookie = await connect(instance, '/cookie', { cookie: 'other=x; session=k2' })
  t.equal(await nextMessage(byCookie), 'key k2')
  byQuery.close()
  byCookie.close()
})

test('the success path: closes with 1000 or 1001 by the client, and close() by the server with or without a code', async (t) => {
  const events = new EventLog()
  const instance = await app(t)
  const { f, r } = bothScopes(events)
  instance.get('/close', { websocket: true, dependencies: { f, r } }, (socket, request) => {
    const { code } = request.query as { code?: string }
    socket.on('message', () => {
      if (code === 'none') socket.close()
      else socket.close(Number(code))
    })
  })
  for (const [who, code] of [['client', 1000], ['client', 1001], ['client', undefined], ['server', 1000], ['server', 'none']] as const) {
    events.length = 0
    const client = await connect(instance, `/close?code=${String(code)}`)
    const label = `${who} ${String(code)}`
    if (who === 'client') client.close(code)
    else client.send('close please')
    await closed(client)
    await within(events.until('request:exit'), label)
    t.same(events.list(), ['function:enter', 'request:enter', 'function:exit', 'request:exit'], label)
  }
})

test('an abnormal end throws FST_DEPENDS_CLIENT_ABORTED into the request scope: terminate() (1006), an application code, a socket destroyed', async (t) => {
  const events = new EventLog()
  const instance = await app(t)
  const seen: unknown[] = []
  const r = depends(async function * () {
    events.record('request:enter')
    try {
      yield 'request'
      events.record('request:exit')
    } catch (err) {
      seen.push(err)
      events.record(`request:saw ${(err as { code: string }).code}`)
      throw err
    }
  }, { name: 'r', scope: 'request' })
  instance.get('/abort', { websocket: true, dependencies: { r } }, () => { events.record('handler') })
  for (const end of ['terminate', 'code 4000', 'destroy'] as const) {
    events.length = 0
    const client = await connect(instance, '/abort')
    await events.until('handler')
    if (end === 'terminate') client.terminate()
    else if (end === 'code 4000') client.close(4000, 'bye')
    else (client as unknown as { _socket: net.Socket })._socket.destroy()
    await within(events.until('request:saw FST_DEPENDS_CLIENT_ABORTED'), end)
    t.same(events.list(), ['request:enter', 'handler', 'request:saw FST_DEPENDS_CLIENT_ABORTED'], end)
  }
  t.match((seen[0] as Error).message, /code 1006/)
  t.match((seen[1] as Error).message, /code 4000/)
})

test('a socket handler that throws or rejects: its error goes through the generators, function scope first, then is logged and the socket closed with 1011', async (t) => {
  const events = new EventLog()
  const logs = logCollector()
  const instance = await app(t, 'websocket first', {}, { logger: { level: 'error', stream: logs.stream } })
  const { f, r } = bothScopes(events)
  instance.get('/throws', { websocket: true, dependencies: { f, r } }, () => { throw Object.assign(new Error('boom'), { code: 'BOOM' }) })
  instance.get('/rejects', { websocket: true, dependencies: { f, r } }, async () => {
    await sleep(5)
    throw Object.assign(new Error('late boom'), { code: 'LATE_BOOM' })
  })
  instance.get('/no-generators', { websocket: true, dependencies: { plain: depends(() => 1) } }, () => { throw new Error('plain boom') })
  for (const [path, code] of [['/throws', 'BOOM'], ['/rejects', 'LATE_BOOM']]) {
    events.length = 0
    const client = new WebSocket(`${await listen(instance)}${path}`)
    t.equal(await closed(client), 1011, path)
    await within(events.until(`request:saw ${code}`), path)
    t.same(events.list(), ['function:enter', 'request:enter', `function:saw ${code}`, `request:saw ${code}`], path)
  }
  const plain = new WebSocket(`${await listen(instance)}/no-generators`)
  t.equal(await closed(plain), 1011)
  await settle()
  t.same(logs.lines.filter((line) => line.level === 50).map((line) => [line.msg, (line.err as { message: string }).message]), [
    ['fastify-depends: the WebSocket handler failed', 'boom'],
    ['fastify-depends: the WebSocket handler failed', 'late boom'],
    ['fastify-depends: the WebSocket handler failed', 'plain boom']
  ])
})

test('a function-scoped cleanup that throws is the error path too: the request scope sees its error, the socket closes with 1011', async (t) => {
  const events = new EventLog()
  const instance = await app(t)
  const r = recording(events, 'request', 'request')
  const f = depends(function * () {
    events.record('function:enter')
    yield 'f'
    throw Object.assign(new Error('cleanup failed'), { code: 'CLEANUP' })
  }, { name: 'f', scope: 'function' })
  instance.get('/cleanup', { websocket: true, dependencies: { r, f } }, () => { events.record('handler') })
  const client = new WebSocket(`${await listen(instance)}/cleanup`)
  t.equal(await closed(client), 1011)
  await within(events.until('request:saw CLEANUP'), 'request:saw CLEANUP')
  t.same(events.list(), ['request:enter', 'function:enter', 'handler', 'request:saw CLEANUP'])
})

test('an async socket handler still running when the client closes: the request scope waits for it, then ends with the close', async (t) => {
  const events = new EventLog()
  const instance = await app(t)
  const { f, r } = bothScopes(events)
  instance.get('/long', { websocket: true, dependencies: { f, r } }, async (socket) => {
    events.record('handler')
    await once(socket, 'close')
    events.record('handler saw close')
    await sleep(20)
    events.record('handler returns')
  })
  for (const end of ['close', 'terminate'] as const) {
    events.length = 0
    const client = await connect(instance, '/long')
    await events.until('handler')
    client[end]()
    const last = end === 'close' ? 'request:exit' : 'request:saw FST_DEPENDS_CLIENT_ABORTED'
    await within(events.until(last), last)
    t.same(events.list(), ['function:enter', 'request:enter', 'handler', 'handler saw close', 'handler returns', 'function:exit', last], end)
  }
})

test('app.close() while a socket handler still runs after a normal close: close() waits for it, and its request scope ends with next()', async (t) => {
  const events = new EventLog()
  const instance = await app(t, 'fastify-depends first')
  const { f, r } = bothScopes(events)
  instance.get('/long', { websocket: true, dependencies: { f, r } }, async (socket) => {
    await once(socket, 'close')
    events.record('handler saw close')
    await sleep(30)
    events.record('handler returns')
  })
  const client = await connect(instance, '/long')
  client.close(1000)
  await events.until('handler saw close')
  await within(instance.close(), 'close()')
  events.record('closed')
  t.same(events.list(), ['function:enter', 'request:enter', 'handler saw close', 'handler returns', 'function:exit', 'request:exit', 'closed'])
})

test('the connection closed while dependencies resolve: no socket opens, every entered generator sees FST_DEPENDS_CLIENT_ABORTED', async (t) => {
  const events = new EventLog()
  const instance = await app(t)
  const r = recording(events, 'request', 'request')
  const slow = depends(async () => { events.record('slow:start'); await sleep(50); events.record('slow:end') }, { name: 'slow' })
  let handled = 0
  instance.get('/slow', { websocket: true, dependencies: { r, slow } }, () => { handled++ })
  const { port } = new URL(await listen(instance))
  const socket = net.connect(Number(port), '127.0.0.1')
  await once(socket, 'connect')
  socket.write('GET /slow HTTP/1.1\r\nHost: localhost\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n' +
    'Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n')
  await events.until('slow:start')
  socket.destroy()
  await within(events.until('request:saw FST_DEPENDS_CLIENT_ABORTED'), 'abort')
  await settle()
  t.same(events.list(), ['request:enter', 'slow:start', 'slow:end', 'request:saw FST_DEPENDS_CLIENT_ABORTED'])
  t.equal(handled, 0)
})

test('an HTTP request to a websocket route gets @fastify/websocket\'s 404, with its dependencies finalized', async (t) => {
  const events = new EventLog()
  const instance = await app(t)
  echoRoute(instance, events)
  const res = await instance.inject('/echo')
  t.equal(res.statusCode, 404)
  await settle()
  t.same(events.list(), ['function:enter', 'request:enter', 'function:exit', 'request:exit'])
})

test('injectWS works on a route with dependencies', async (t) => {
  const events = new EventLog()
  const instance = await app(t)
  echoRoute(instance, events)
  await instance.ready()
  const client = await instance.injectWS('/echo', {}, { onInit: keepMessages })
  client.send('injected')
  t.equal(await nextMessage(client), 'injected function request')
  client.terminate()
  await within(events.until('request:saw FST_DEPENDS_CLIENT_ABORTED'), 'request scope')
})

test('websocket routes without dependencies are left as they are, with and without the plugin', async (t) => {
  for (const withPlugin of [true, false]) {
    const instance = Fastify()
    t.after(() => instance.close())
    await instance.register(websocket)
    if (withPlugin) await instance.register(fastifyDepends)
    instance.get('/plain', { websocket: true }, (socket) => {
      socket.on('message', (data) => socket.send(`echo ${String(data)}`))
    })
    instance.get('/fails', { websocket: true }, () => { throw new Error('plain failure') })
    const client = await connect(instance, '/plain')
    client.send('x')
    t.equal(await nextMessage(client), 'echo x')
    client.close()
    // @fastify/websocket's own error handler: the socket is terminated.
    t.equal(await closed(new WebSocket(`${await listen(instance)}/fails`)), 1006)
  }
})

test('200 sockets opened and ended at random (close, terminate, server close, handler failure): every entered generator is finalized exactly once', async (t) => {
  const problems = watchProcess(t)
  const instance = await app(t, 'fastify-depends first', { concurrency: 'parallel' }, { logger: false })
  let entered = 0
  let finalized = 0
  const outcomes = new Map<string, number>()
  const counted = (scope: 'request' | 'function', delay: number) => depends(async function * () {
    if (delay > 0) await sleep(delay)
    entered++
    try {
      yield scope
      outcomes.set(`${scope} ok`, (outcomes.get(`${scope} ok`) ?? 0) + 1)
    } catch (err) {
      const key = `${scope} ${(err as { code?: string }).code ?? 'error'}`
      outcomes.set(key, (outcomes.get(key) ?? 0) + 1)
      throw err
    } finally {
      finalized++
    }
  }, { name: `${scope}-${delay}`, scope })
  const deps = { a: counted('request', 0), b: counted('request', 2), c: counted('function', 1), d: counted('function', 0) }
  instance.get('/random', { websocket: true, dependencies: deps }, async (socket, request) => {
    const { end } = request.query as { end: string }
    if (end === 'fail') throw Object.assign(new Error('handler failed'), { code: 'FAILED' })
    socket.on('message', () => { socket.close(1000) })
    if (end === 'slow') await sleep(5)
  })
  const ends = ['close', 'terminate', 'server', 'fail', 'slow', 'early']
  await Promise.all(Array.from({ length: 200 }, async (_, i) => {
    const end = ends[i % ends.length]
    await sleep(Math.floor(Math.random() * 20))
    const client = new WebSocket(`${await listen(instance)}/random?end=${end}`)
    client.on('error', () => {})
    if (end === 'early') {
      // Gone before the upgrade finished: the dependencies may still be resolving.
      await sleep(Math.floor(Math.random() * 4))
      client.terminate()
      return
    }
    if (end !== 'fail') await once(client, 'open')
    if (end === 'close' || end === 'slow') client.close(1000)
    else if (end === 'terminate') client.terminate()
    else if (end === 'server') client.send('close')
    if (client.readyState !== WebSocket.CLOSED) await once(client, 'close')
  }))
  const allFinalized = async (): Promise<void> => { if (finalized < entered) { await sleep(10); await allFinalized() } }
  await within(allFinalized(), 'every generator finalized')
  await settle()
  t.equal(finalized, entered, `${entered} generators entered, ${finalized} finalized`)
  t.ok(entered > 600, `${entered} entered`)
  t.ok((outcomes.get('request FST_DEPENDS_CLIENT_ABORTED') ?? 0) > 0 && (outcomes.get('request FAILED') ?? 0) > 0 && (outcomes.get('request ok') ?? 0) > 0, JSON.stringify([...outcomes]))
  t.same(problems, [])
  t.comment(JSON.stringify(Object.fromEntries(outcomes)))
})
