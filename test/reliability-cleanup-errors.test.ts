import http from 'node:http'
import type { AddressInfo } from 'node:net'
import type { FastifyInstance } from 'fastify'
import { test } from 'tap'
import { build, EventLog, logCollector, settle, watchProcess, within } from './helpers'
import { depends, httpError } from '../lib/index'

/** GET over a real loopback socket; resolves `status body`. */
async function get (app: FastifyInstance, path: string, agent: http.Agent | false = false): Promise<string> {
  if (app.server.address() === null) await app.listen({ port: 0, host: '127.0.0.1' })
  const { port } = app.server.address() as AddressInfo
  return await within(new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, path, agent }, (res) => {
      let body = ''
      res.setEncoding('utf8')
      res.on('data', (chunk: string) => { body += chunk })
      res.on('end', () => resolve(`${res.statusCode} ${body}`))
    })
    req.on('error', reject)
    req.end()
  }), `GET ${path}`)
}

const errorLines = (lines: Array<Record<string, unknown>>): Array<Record<string, unknown>> => lines.filter((l) => l.level === 50)

test('a request-scoped cleanup error is logged with the dependency name and the request id; the response is unchanged', async (t) => {
  const problems = watchProcess(t)
  const log = logCollector()
  const app = await build(t, {}, { logger: { level: 'error', stream: log.stream } })
  const releaseConnection = depends(async function * (_inputs, { request }) {
    yield 'conn'
    throw new Error(`release failed for ${request.id}`)
  }, { name: 'releaseConnection' })
  const syncRelease = depends(function * (_inputs, { request }) {
    yield 'lock'
    throw httpError(500, `unlock failed for ${request.id}`)
  }, { name: 'syncRelease' })
  app.get('/async', { dependencies: [releaseConnection] }, async (request) => ({ id: request.id }))
  app.get('/sync', { dependencies: [syncRelease] }, async (request) => ({ id: request.id }))

  const responses = await Promise.all(Array.from({ length: 8 }, (_v, i) => app.inject(i % 2 === 0 ? '/async' : '/sync')))
  await settle()
  t.same(responses.map((r) => r.statusCode), [200, 200, 200, 200, 200, 200, 200, 200], 'every response is unchanged')
  const lines = errorLines(log.lines)
  t.equal(lines.length, 8, 'one error line per request')
  for (const [i, res] of responses.entries()) {
    const id = res.json().id as string
    const line = lines.find((l) => l.reqId === id)
    const dependency = i % 2 === 0 ? 'releaseConnection' : 'syncRelease'
    t.match(line, {
      reqId: id,
      dependency,
      err: { message: i % 2 === 0 ? `release failed for ${id}` : `unlock failed for ${id}` },
      msg: `cleanup of dependency "${dependency}" failed after the response was sent`
    }, `request ${id}`)
  }
  t.equal((await app.inject('/async')).statusCode, 200, 'the app still answers')
  t.same(problems, [])
})

test('a cleanup that throws another error when the client left is logged with its name and request id', async (t) => {
  const problems = watchProcess(t)
  const log = logCollector()
  const app = await build(t, {}, { logger: { level: 'error', stream: log.stream } })
  const events = new EventLog()
  const rollback = depends(async function * () {
    try {
      yield 'tx'
    } catch (err) {
      events.record(`saw ${(err as { code: string }).code}`)
      throw new Error('rollback failed')
    }
  }, { name: 'rollback' })
  let id = ''
  app.get('/slow', { dependencies: [rollback] }, async (request, reply) => {
    id = request.id
    events.record('handler')
    await within(new Promise((resolve) => reply.raw.once('close', resolve)), 'close')
    return 'too late'
  })
  await app.listen({ port: 0, host: '127.0.0.1' })
  const req = http.request({ host: '127.0.0.1', port: (app.server.address() as AddressInfo).port, path: '/slow', agent: false })
  req.on('error', () => {})
  req.end()
  await within(events.until('handler'), 'handler')
  req.destroy()
  await within(events.until('saw FST_DEPENDS_CLIENT_ABORTED'), 'cleanup')
  await settle()
  t.same(events.list(), ['handler', 'saw FST_DEPENDS_CLIENT_ABORTED'])
  t.match(errorLines(log.lines).filter((l) => l.dependency !== undefined), [{ reqId: id, dependency: 'rollback', err: { message: 'rollback failed' } }])
  t.same(problems, [])
})

test('cleanups that throw non-Error values after the response are logged and crash nothing', async (t) => {
  const problems = watchProcess(t)
  const log = logCollector()
  const app = await build(t, {}, { logger: { level: 'error', stream: log.stream } })
  const values: Record<string, unknown> = { null: null, string: 'a string', number: 42, undefined }
  for (const [name, value] of Object.entries(values)) {
    const thrower = depends(async function * () {
      yield name
      throw value
    }, { name: `throws-${name}` })
    app.get(`/${name}`, { dependencies: [thrower] }, async (request) => request.id)
  }
  for (const name of Object.keys(values)) {
    const res = await within(app.inject(`/${name}`), name)
    t.equal(res.statusCode, 200, `${name}: the response is unchanged`)
    await settle()
    const line = log.lines.find((l) => l.reqId === res.body && l.level === 50)
    t.match(line, { dependency: `throws-${name}` }, `${name}: logged with the dependency name and the request id`)
  }
  t.same(problems, [])
})

test('a generator that answers an error by throwing undefined still ends the request with a 500, crashing nothing', async (t) => {
  const problems = watchProcess(t)
  const app = await build(t)
  const events = new EventLog()
  const outer = depends(async function * () {
    try {
      yield 'outer'
      events.record('outer:exit')
    } catch (err) {
      events.record('outer:saw error')
      throw err
    }
  }, { name: 'outer' })
  const asyncReplacer = depends({ outer }, async function * () {
    try { yield 'inner' } catch { throw undefined } // eslint-disable-line no-throw-literal
  }, { name: 'asyncReplacer' })
  const syncReplacer = depends({ outer }, function * () {
    try { yield 'inner' } catch { throw undefined } // eslint-disable-line no-throw-literal
  }, { name: 'syncReplacer' })
  app.get('/async', { dependencies: [asyncReplacer] }, async () => { throw new Error('handler failed') })
  app.get('/sync', { dependencies: [syncReplacer] }, () => { throw new Error('handler failed') })

  for (const url of ['/async', '/sync']) {
    const res = await within(app.inject(url), `${url} response`, 1000).catch((err: Error) => err)
    t.equal((res as { statusCode?: number }).statusCode, 500, `${url}: answered 500`)
  }
  await settle()
  t.equal(events.filter((e) => e.startsWith('outer:')).length, 2, 'the outer generator was finalized once per request')
  t.same(problems, [], 'no unhandled rejection')
})

test('a request-scoped cleanup that hangs blocks neither its connection nor other requests to the same or other routes', async (t) => {
  const problems = watchProcess(t)
  const app = await build(t)
  const events = new EventLog()
  let release: () => void = () => {}
  const never = new Promise<void>((resolve) => { release = resolve })
  t.teardown(() => release())
  let count = 0
  const stuck = depends(async function * () {
    const n = ++count
    yield n
    events.record(`stuck ${n}:waiting`)
    await never
    events.record(`stuck ${n}:exit`)
  }, { name: 'stuck' })
  const healthy = depends(async function * () {
    yield 'ok'
    events.record('healthy:exit')
  }, { name: 'healthy' })
  app.get('/stuck', { dependencies: { n: stuck } }, async (request) => `stuck ${request.deps.n}`)
  app.get('/other', { dependencies: { h: healthy } }, async () => 'other')

  const oneSocket = new http.Agent({ keepAlive: true, maxSockets: 1 })
  t.teardown(() => oneSocket.destroy())
  t.equal(await get(app, '/stuck', oneSocket), '200 stuck 1')
  await within(events.until('stuck 1:waiting'), 'stuck 1')
  t.equal(await get(app, '/stuck', oneSocket), '200 stuck 2', 'the same keep-alive connection serves the next request')
  t.equal(await get(app, '/other', oneSocket), '200 other')
  t.same(await Promise.all([get(app, '/stuck'), get(app, '/other'), get(app, '/other')]), ['200 stuck 3', '200 other', '200 other'], 'new connections too')
  await within(events.until('stuck 3:waiting'), 'stuck 3')
  t.equal(events.filter((e) => e === 'healthy:exit').length, 3, 'other routes finish their cleanup')
  t.notOk(events.some((e) => e.endsWith(':exit') && e.startsWith('stuck')), 'the stuck cleanups are still waiting')

  release()
  await within(events.until('stuck 3:exit'), 'stuck exits')
  await settle()
  t.same(events.filter((e) => e.startsWith('stuck')).sort(), ['stuck 1:exit', 'stuck 1:waiting', 'stuck 2:exit', 'stuck 2:waiting', 'stuck 3:exit', 'stuck 3:waiting'])
  t.same(problems, [])
})

test('a function-scoped cleanup that hangs holds back only its own response', async (t) => {
  const app = await build(t)
  const events = new EventLog()
  let release: () => void = () => {}
  const gate = new Promise<void>((resolve) => { release = resolve })
  t.teardown(() => release())
  const slowClose = depends(async function * () {
    yield 'f'
    events.record('slowClose:waiting')
    await gate
    events.record('slowClose:exit')
  }, { name: 'slowClose', scope: 'function' })
  app.get('/held', { dependencies: [slowClose] }, async () => 'held')
  app.get('/free', { dependencies: [slowClose] }, async () => 'free')
  app.get('/plain', async () => 'plain')

  let heldAnswer: string | undefined
  const held = get(app, '/held').then((answer) => { heldAnswer = answer })
  await within(events.until('slowClose:waiting'), 'held cleanup')
  t.equal(await get(app, '/plain'), '200 plain')
  t.equal(heldAnswer, undefined, 'the held response waits for its function-scoped cleanup')
  release()
  await held
  t.equal(heldAnswer, '200 held')
  t.equal(await get(app, '/free'), '200 free')
})
