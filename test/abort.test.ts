import { test } from 'tap'
import http from 'node:http'
import type { AddressInfo } from 'node:net'
import { Readable } from 'node:stream'
import type { FastifyInstance } from 'fastify'
import { build, EventLog, settle, within } from './helpers'
import { depends } from '../lib/index'

/** A generator dependency that records how it was finalized: normally, or with the error it saw (by code). */
function recordingGenerator (events: EventLog, name: string, scope: 'request' | 'function') {
  return depends(async function * () {
    events.record(`${name}:enter`)
    try {
      yield name
      events.record(`${name}:exit`)
    } catch (err) {
      events.record(`${name}:saw ${(err as { code?: string }).code ?? (err as Error).message}`)
      throw err
    } finally {
      events.record(`${name}:done`)
    }
  }, { name, scope })
}

/** Starts `GET path` on a real loopback socket; the caller destroys it. */
async function open (app: FastifyInstance, path: string): Promise<http.ClientRequest> {
  await app.listen({ port: 0, host: '127.0.0.1' })
  const { port } = app.server.address() as AddressInfo
  const req = http.request({ host: '127.0.0.1', port, path, agent: false })
  req.on('error', () => {}) // "socket hang up" once we destroy it
  req.end()
  return req
}

test('a client that aborts while the handler awaits: every entered generator is finalized once, after the handler', async (t) => {
  const app = await build(t)
  const events = new EventLog()
  const fnScoped = recordingGenerator(events, 'function', 'function')
  const requestScoped = recordingGenerator(events, 'request', 'request')
  app.get('/slow', { dependencies: { f: fnScoped, r: requestScoped } }, async (request, reply) => {
    reply.raw.once('close', () => events.record('connection:closed'))
    events.record('handler:start')
    await within(events.until('connection:closed'), 'connection:closed')
    events.record('handler:end')
    return { f: request.deps.f, r: request.deps.r }
  })

  const req = await open(app, '/slow')
  await within(events.until('handler:start'), 'handler:start')
  req.destroy()
  await within(events.until('request:done'), 'request:done')
  await within(events.until('function:done'), 'function:done')
  await settle()
  t.same(events.list(), [
    'function:enter', 'request:enter', 'handler:start',
    'connection:closed', 'handler:end',
    'function:exit', 'function:done',
    'request:saw FST_DEPENDS_CLIENT_ABORTED', 'request:done'
  ])
})

test('a client that aborts mid-stream: the request-scoped generator sees FST_DEPENDS_CLIENT_ABORTED, once', async (t) => {
  const app = await build(t)
  const events = new EventLog()
  const fnScoped = recordingGenerator(events, 'function', 'function')
  const requestScoped = recordingGenerator(events, 'request', 'request')
  let body: Readable | undefined
  app.get('/stream', { dependencies: { f: fnScoped, r: requestScoped } }, async () => {
    events.record('handler')
    body = new Readable({ read () {} }) // pushes one chunk, then waits forever
    body.push('first chunk')
    return body
  })

  const req = await open(app, '/stream')
  const response = await within(new Promise<http.IncomingMessage>((resolve) => req.once('response', resolve)), 'response')
  const chunk = await within(new Promise<Buffer>((resolve) => response.once('data', resolve)), 'first chunk')
  events.record(`client:${chunk.toString()}`)
  req.destroy()
  await within(events.until('request:done'), 'request:done')
  await settle()
  t.equal(response.statusCode, 200)
  t.same(events.list(), [
    'function:enter', 'request:enter', 'handler',
    'function:exit', 'function:done', // closed normally, before the first byte
    'client:first chunk',
    'request:saw FST_DEPENDS_CLIENT_ABORTED', 'request:done'
  ])
  t.equal(body?.destroyed, true, 'the abandoned stream was destroyed')
})
