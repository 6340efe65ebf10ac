import formbody from '@fastify/formbody'
import { Type } from '@sinclair/typebox'
import type { FastifyInstance } from 'fastify'
import { request as httpRequest } from 'node:http'
import { connect, type AddressInfo } from 'node:net'
import { test } from 'tap'
import { build, EventLog } from './helpers'
import {
  depends, Query, OAuth2PasswordBearer, HTTPBasic, HTTPBearer, APIKeyHeader, OAuth2PasswordRequestForm, OAuth2PasswordRequestFormStrict
} from '../lib/index'

const NOT_AUTHENTICATED = { statusCode: 401, error: 'Unauthorized', message: 'Not authenticated' }
const MiB = 1024 * 1024

/**
 * POST /upload protected by OAuth2PasswordBearer, with a preParsing hook, an
 * application/octet-stream parser, a generator and a plain dependency that all record when they run.
 */
async function uploadApp (events: EventLog, app: FastifyInstance, autoError = true): Promise<void> {
  app.addContentTypeParser('application/octet-stream', { parseAs: 'buffer', bodyLimit: 16 * MiB }, (_request, body, done) => {
    events.record('parser')
    done(null, body)
  })
  const session = depends(function * () {
    events.record('session')
    yield 'session'
  }, { name: 'session' })
  const token = OAuth2PasswordBearer({ tokenUrl: '/token', autoError })
  const user = depends({ token }, ({ token }) => {
    events.record('user')
    return token
  }, { name: 'user' })
  app.post('/upload', {
    dependencies: { session, user, n: Query('n', Type.Integer()) },
    preParsing: (_request, _reply, payload, done) => {
      events.record('preParsing')
      done(null, payload)
    }
  }, async (request) => {
    events.record('handler')
    const body = request.body as Buffer | undefined
    return { user: request.deps.user ?? null, size: Buffer.isBuffer(body) ? body.length : null }
  })
}

for (const concurrency of ['sequential', 'parallel'] as const) {
  test(`an unauthenticated POST is answered 401 before preParsing, parsing, validation or any dependency (${concurrency})`, async (t) => {
    const events = new EventLog()
    const app = await build(t, { concurrency })
    await uploadApp(events, app)
    const requests = [
      { headers: { 'content-type': 'application/octet-stream' }, payload: Buffer.alloc(1024), url: '/upload?n=1' },
      { headers: { 'content-type': 'application/json' }, payload: '{not json', url: '/upload?n=1' },
      { headers: { 'content-type': 'text/x-unknown' }, payload: 'x', url: '/upload?n=1' },
      { headers: { 'content-type': 'application/octet-stream' }, payload: Buffer.alloc(1024), url: '/upload?n=not-a-number' },
      { headers: { 'content-type': 'application/octet-stream', authorization: 'Basic abc' }, payload: Buffer.alloc(20 * MiB), url: '/upload' }
    ]
    for (const request of requests) {
      const res = await app.inject({ method: 'POST', ...request })
      t.equal(res.statusCode, 401, request.url)
      t.equal(res.headers['www-authenticate'], 'Bearer')
      t.strictSame(res.json(), NOT_AUTHENTICATED)
    }
    t.strictSame(events.list(), [])

    const ok = await app.inject({ method: 'POST', url: '/upload?n=1', headers: { 'content-type': 'application/octet-stream', authorization: 'Bearer tok' }, payload: Buffer.alloc(1024) })
    t.equal(ok.statusCode, 200)
    t.strictSame(ok.json(), { user: 'tok', size: 1024 })
    t.strictSame(events.list(), ['preParsing', 'parser', 'session', 'user', 'handler'])
  })
}

test('authenticated requests still meet parsing and validation errors after the scheme passed', async (t) => {
  const events = new EventLog()
  const app = await build(t)
  await uploadApp(events, app)
  const badJson = await app.inject({ method: 'POST', url: '/upload?n=1', headers: { 'content-type': 'application/json', authorization: 'Bearer t' }, payload: '{not json' })
  t.equal(badJson.statusCode, 400)
  t.equal(badJson.json().code, 'FST_ERR_CTP_INVALID_JSON_BODY')
  const badQuery = await app.inject({ method: 'POST', url: '/upload?n=x', headers: { 'content-type': 'application/octet-stream', authorization: 'Bearer t' }, payload: 'abc' })
  t.equal(badQuery.statusCode, 400)
  t.equal(badQuery.json().code, 'FST_ERR_VALIDATION')
  t.strictSame(events.list(), ['preParsing', 'preParsing', 'parser'])
})

test('with autoError: false an unauthenticated request goes on to parsing and the handler gets undefined', async (t) => {
  const events = new EventLog()
  const app = await build(t)
  await uploadApp(events, app, false)
  const res = await app.inject({ method: 'POST', url: '/upload?n=1', headers: { 'content-type': 'application/octet-stream' }, payload: 'abc' })
  t.equal(res.statusCode, 200)
  t.strictSame(res.json(), { user: null, size: 3 })
  t.strictSame(events.list(), ['preParsing', 'parser', 'session', 'user', 'handler'])
})

test('a scheme in the plugin\'s dependencies option protects every route before parsing; unknown URLs stay 404', async (t) => {
  const events = new EventLog()
  const app = await build(t, { dependencies: [APIKeyHeader({ name: 'X-Key' })] })
  app.post('/open', { preParsing: (_request, _reply, payload, done) => { events.record('preParsing'); done(null, payload) } }, async () => {
    events.record('handler')
    return 'ok'
  })
  app.get('/read', { dependencies: { bearer: HTTPBearer() } }, async (request) => request.deps)
  const invalidJson = await app.inject({ method: 'POST', url: '/open', headers: { 'content-type': 'application/json' }, payload: '{not json' })
  t.equal(invalidJson.statusCode, 401)
  t.equal(invalidJson.headers['www-authenticate'], 'APIKey')
  t.strictSame(invalidJson.json(), NOT_AUTHENTICATED)
  t.strictSame(events.list(), [])
  const head = await app.inject({ method: 'HEAD', url: '/read', headers: { 'x-key': 'k' } })
  t.equal(head.statusCode, 401)
  t.equal(head.headers['www-authenticate'], 'Bearer')
  t.equal(head.body, '')
  t.equal((await app.inject({ method: 'HEAD', url: '/read', headers: { 'x-key': 'k', authorization: 'Bearer t' } })).statusCode, 200)
  t.equal((await app.inject('/nowhere')).statusCode, 404)
  const ok = await app.inject({ method: 'POST', url: '/open', headers: { 'content-type': 'application/json', 'x-key': 'k' }, payload: '{}' })
  t.equal(ok.statusCode, 200)
  t.strictSame(events.list(), ['preParsing', 'handler'])
})

/** Sends a request head announcing `announced` body bytes, then `sent` of them, and reads one response. */
function partialUpload (port: number, headers: string[], announced: number, sent: number): Promise<{ head: string, body: string }> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1')
    let received = Buffer.alloc(0)
    const guard = setTimeout(() => { socket.destroy(); reject(new Error('no response within 10 s')) }, 10_000)
    socket.on('error', (err) => { clearTimeout(guard); reject(err) })
    socket.on('data', (chunk: Buffer) => {
      received = Buffer.concat([received, chunk])
      const end = received.indexOf('\r\n\r\n')
      if (end === -1) return
      const head = received.subarray(0, end).toString('latin1')
      const length = Number(/content-length: (\d+)/i.exec(head)?.[1] ?? 0)
      if (received.length < end + 4 + length) return
      clearTimeout(guard)
      socket.destroy()
      resolve({ head, body: received.subarray(end + 4, end + 4 + length).toString('utf8') })
    })
    socket.write([
      'POST /upload?n=1 HTTP/1.1', 'Host: localhost', 'Content-Type: application/octet-stream',
      `Content-Length: ${announced}`, ...headers, '', ''
    ].join('\r\n'))
    socket.write(Buffer.alloc(sent, 0x61))
  })
}

test('over a real socket the 401 arrives while most of a large body was never sent, and nothing parsed it', async (t) => {
  const events = new EventLog()
  const app = await build(t)
  await uploadApp(events, app)
  await app.listen({ port: 0, host: '127.0.0.1' })
  const { port } = app.server.address() as AddressInfo

  const { head, body } = await partialUpload(port, [], 8 * MiB, MiB)
  t.match(head, /^HTTP\/1\.1 401 Unauthorized\r\n/)
  t.match(head, /\r\nwww-authenticate: Bearer\r\n/i)
  t.strictSame(JSON.parse(body), NOT_AUTHENTICATED)
  t.strictSame(events.list(), [])

  // The same route reads a whole 8 MiB body once the scheme passed.
  const size = await new Promise<string>((resolve, reject) => {
    const headers = { 'content-type': 'application/octet-stream', authorization: 'Bearer tok', 'content-length': 8 * MiB }
    const req = httpRequest({ host: '127.0.0.1', port, method: 'POST', path: '/upload?n=1', headers }, (res) => {
      let text = ''
      res.setEncoding('utf8')
      res.on('data', (chunk: string) => { text += chunk })
      res.on('end', () => resolve(text))
    })
    req.on('error', reject)
    req.end(Buffer.alloc(8 * MiB, 0x61))
  })
  t.strictSame(JSON.parse(size), { user: 'tok', size: 8 * MiB })
  t.strictSame(events.list().slice(0, 2), ['preParsing', 'parser'])
})

const FORM = { 'content-type': 'application/x-www-form-urlencoded' }

/** Shows a form value with `undefined` spelled out. */
function shown (value: object): Record<string, unknown> {
  return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, v === undefined ? '<undefined>' : v]))
}

async function tokenApp (app: FastifyInstance): Promise<void> {
  await app.register(formbody)
  app.post('/token', { dependencies: { form: OAuth2PasswordRequestForm } }, async (request) => shown(request.deps.form))
  app.post('/strict', { dependencies: { form: OAuth2PasswordRequestFormStrict } }, async (request) => shown(request.deps.form))
}

test('OAuth2PasswordRequestForm reads the form fields into camelCase with scopes split on whitespace', async (t) => {
  const app = await build(t)
  await tokenApp(app)
  const full = await app.inject({ method: 'POST', url: '/token', headers: FORM, payload: 'grant_type=password&username=johndoe&password=se%3Acret&scope=me%20items&client_id=cid&client_secret=cs' })
  t.equal(full.statusCode, 200)
  t.strictSame(full.json(), { grantType: 'password', username: 'johndoe', password: 'se:cret', scopes: ['me', 'items'], clientId: 'cid', clientSecret: 'cs' })
  const minimal = await app.inject({ method: 'POST', url: '/token', headers: FORM, payload: 'username=a&password=' })
  t.strictSame(minimal.json(), { grantType: '<undefined>', username: 'a', password: '', scopes: [], clientId: '<undefined>', clientSecret: '<undefined>' })
  const spaced = await app.inject({ method: 'POST', url: '/token', headers: FORM, payload: 'username=a&password=b&scope=%20a%20%20b%09c%0A' })
  t.strictSame(spaced.json().scopes, ['a', 'b', 'c'])
})

test('OAuth2PasswordRequestForm answers 400 for a grant_type other than "password" or a missing field', async (t) => {
  const app = await build(t)
  await tokenApp(app)
  const bad = await app.inject({ method: 'POST', url: '/token', headers: FORM, payload: 'grant_type=incorrect&username=a&password=b' })
  t.equal(bad.statusCode, 400)
  t.strictSame(bad.json(), { statusCode: 400, code: 'FST_ERR_VALIDATION', error: 'Bad Request', message: 'body/grant_type must match pattern "^password$"' })
  const missing = await app.inject({ method: 'POST', url: '/token', headers: FORM, payload: 'password=b' })
  t.equal(missing.statusCode, 400)
  t.strictSame(missing.json(), { statusCode: 400, code: 'FST_ERR_VALIDATION', error: 'Bad Request', message: 'body must have required property \'username\'' })
})

test('OAuth2PasswordRequestFormStrict requires grant_type; an empty form misses grant_type, username and password', async (t) => {
  const app = await build(t, {}, { ajv: { customOptions: { allErrors: true } } })
  await tokenApp(app)
  const noGrant = await app.inject({ method: 'POST', url: '/strict', headers: FORM, payload: 'username=a&password=b' })
  t.equal(noGrant.statusCode, 400)
  t.equal(noGrant.json().message, 'body must have required property \'grant_type\'')
  const empty = await app.inject({ method: 'POST', url: '/strict', headers: FORM, payload: '' })
  t.equal(empty.statusCode, 400)
  t.equal(empty.json().code, 'FST_ERR_VALIDATION')
  t.strictSame((empty.json().message as string).split(', ').sort(), [
    'body must have required property \'grant_type\'',
    'body must have required property \'password\'',
    'body must have required property \'username\''
  ])
  const ok = await app.inject({ method: 'POST', url: '/strict', headers: FORM, payload: 'grant_type=password&username=a&password=b' })
  t.strictSame(ok.json(), { grantType: 'password', username: 'a', password: 'b', scopes: [], clientId: '<undefined>', clientSecret: '<undefined>' })
})

test('a token route with HTTPBasic client authentication rejects before the form is parsed', async (t) => {
  const app = await build(t)
  const events = new EventLog()
  await app.register(formbody)
  const client = HTTPBasic()
  app.post('/token', {
    dependencies: { client, form: OAuth2PasswordRequestForm },
    preParsing: (_request, _reply, payload, done) => { events.record('preParsing'); done(null, payload) }
  }, async (request) => ({ client: request.deps.client, username: (request.deps.form as { username: string }).username }))
  const anonymous = await app.inject({ method: 'POST', url: '/token', headers: FORM, payload: 'username=a&password=b' })
  t.equal(anonymous.statusCode, 401)
  t.equal(anonymous.headers['www-authenticate'], 'Basic')
  t.strictSame(events.list(), [])
  const authorization = `Basic ${Buffer.from('cid:cs').toString('base64')}`
  const res = await app.inject({ method: 'POST', url: '/token', headers: { ...FORM, authorization }, payload: 'username=a&password=b' })
  t.strictSame(res.json(), { client: { username: 'cid', password: 'cs' }, username: 'a' })
  t.strictSame(events.list(), ['preParsing'])
})
