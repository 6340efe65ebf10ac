import http from 'node:http'
import type { AddressInfo } from 'node:net'
import { Readable } from 'node:stream'
import { gunzipSync } from 'node:zlib'
import compress from '@fastify/compress'
import cors from '@fastify/cors'
import Fastify, { type FastifyInstance } from 'fastify'
import { test } from 'tap'
import { bothScopes, EventLog, settle, within } from './helpers'
import fastifyDepends, { depends } from '../lib/index'

// The lifecycle next to the plugins services register with it: @fastify/compress (an onSend hook
// that replaces the payload with a stream) and @fastify/cors (an onRequest hook), before and after
// fastify-depends. Over a real socket, with gzip asked for.

const big = 'x'.repeat(4096)

async function server (t: { after: (fn: () => unknown) => void }, order: 'plugins first' | 'plugin first', events: EventLog): Promise<FastifyInstance> {
  const app = Fastify()
  t.after(() => app.close())
  const others = async (): Promise<void> => {
    await app.register(compress, { threshold: 1024 })
    await app.register(cors, { origin: '*' })
  }
  if (order === 'plugins first') await others()
  await app.register(fastifyDepends)
  if (order === 'plugin first') await others()
  app.addHook('onRequest', (_request, reply, done) => {
    reply.raw.prependOnceListener('finish', () => events.record('sent'))
    done()
  })
  const { f, r } = bothScopes(events)
  const guard = depends((_inputs, { reply }) => reply.code(403).send({ denied: big }), { name: 'guard' })
  const later = depends(() => { events.record('later:ran') }, { name: 'later' })
  app.get('/json', { dependencies: { f, r } }, async () => ({ big }))
  app.get('/denied', { dependencies: { f, r, guard, later } }, async () => 'unreachable')
  app.get('/stream', { dependencies: { f, r } }, async () => Readable.from([big, big, big]))
  await app.listen({ port: 0, host: '127.0.0.1' })
  return app
}

async function get (app: FastifyInstance, path: string, method = 'GET'): Promise<{ status: number, headers: http.IncomingHttpHeaders, body: Buffer }> {
  const { port } = app.server.address() as AddressInfo
  return await new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, path, method, agent: false, headers: { 'accept-encoding': 'gzip', origin: 'http://example.test' } }, (res) => {
      const chunks: Buffer[] = []
      res.on('data', (chunk: Buffer) => chunks.push(chunk))
      res.on('end', () => resolve({ status: res.statusCode as number, headers: res.headers, body: Buffer.concat(chunks) }))
    })
    req.on('error', reject)
    req.end()
  })
}

for (const order of ['plugins first', 'plugin first'] as const) {
  test(`beside @fastify/compress and @fastify/cors (${order}): function scope before the bytes, request scope after them, once each`, async (t) => {
    const events = new EventLog()
    const app = await server(t, order, events)

    const json = await get(app, '/json')
    t.equal(json.status, 200)
    t.equal(json.headers['content-encoding'], 'gzip')
    t.equal(json.headers['access-control-allow-origin'], '*')
    t.same(JSON.parse(gunzipSync(json.body).toString()), { big })
    await within(events.until('request:exit'), 'json: request:exit')
    await settle()
    t.same(events.list(), ['function:enter', 'request:enter', 'function:exit', 'sent', 'request:exit'], 'json')

    events.length = 0
    const stream = await get(app, '/stream')
    t.equal(gunzipSync(stream.body).toString(), big + big + big)
    await within(events.until('request:exit'), 'stream: request:exit')
    await settle()
    t.same(events.list(), ['function:enter', 'request:enter', 'function:exit', 'sent', 'request:exit'], 'stream')

    events.length = 0
    const denied = await get(app, '/denied')
    t.equal(denied.status, 403)
    t.equal(denied.headers['content-encoding'], 'gzip')
    t.same(JSON.parse(gunzipSync(denied.body).toString()), { denied: big })
    await within(events.until('request:exit'), 'denied: request:exit')
    await settle()
    t.same(events.list(), ['function:enter', 'request:enter', 'function:exit', 'sent', 'request:exit'], 'a reply sent by a dependency: nothing after it ran')

    events.length = 0
    const head = await get(app, '/stream', 'HEAD')
    t.equal(head.status, 200)
    t.equal(head.body.length, 0)
    await within(events.until('request:exit'), 'HEAD: request:exit')
    await settle()
    t.same(events.list(), ['function:enter', 'request:enter', 'function:exit', 'sent', 'request:exit'], 'HEAD of the stream')
  })
}
