import formbody from '@fastify/formbody'
import { Type } from '@sinclair/typebox'
import type { FastifyInstance, FastifyServerOptions } from 'fastify'
import http from 'node:http'
import type { AddressInfo } from 'node:net'
import { performance } from 'node:perf_hooks'
import { test, type Test } from 'tap'
import { build } from './helpers'
import { NOT_AUTHENTICATED } from './helpers-security'
import {
  Cookie, HTTPBasic, HTTPBearer, HTTPDigest, HTTPBase, OAuth2PasswordBearer, OAuth2AuthorizationCodeBearer, OAuth2,
  OpenIdConnect, APIKeyHeader, APIKeyQuery, APIKeyCookie, OAuth2PasswordRequestForm, type Dependency, type OAuth2PasswordRequest
} from '../lib/index'

// Every parser of request input must be linear: a ~60 KB pathological value sent over a real
// socket (Node's 16 KB header limit raised) must answer at once with the exact status. The time
// bound is loose on purpose; a quadratic parser took ~5 s for the 60 KB Basic header.
const N = 60_000
const ANSWERS_WITHIN_MS = 2000

interface Answer { status: number, challenge: string | undefined, body: unknown }

const schemes: Record<string, Dependency<unknown>> = {
  basic: HTTPBasic(),
  bearer: HTTPBearer(),
  digest: HTTPDigest(),
  base: HTTPBase({ scheme: 'other' }),
  password: OAuth2PasswordBearer({ tokenUrl: '/token' }),
  code: OAuth2AuthorizationCodeBearer({ authorizationUrl: '/authorize', tokenUrl: '/token' }),
  oauth2: OAuth2({ flows: { password: { tokenUrl: '/token' } } }),
  openid: OpenIdConnect({ openIdConnectUrl: '/openid' }),
  header: APIKeyHeader({ name: 'X-Key' }),
  query: APIKeyQuery({ name: 'key' }),
  cookie: APIKeyCookie({ name: 'key' })
}

/** GET /<scheme> answers `{ value }`; GET /session reads Cookie('session'); POST /token reads the password form. */
async function hostileApp (t: Test): Promise<(path: string, headers?: http.OutgoingHttpHeaders, form?: string) => Promise<Answer>> {
  const app: FastifyInstance = await build(t, {}, { http: { maxHeaderSize: 4 * N } } as FastifyServerOptions)
  await app.register(formbody)
  for (const [path, scheme] of Object.entries(schemes)) {
    app.get(`/${path}`, { dependencies: { credentials: scheme } }, async (request) => ({ value: request.deps.credentials }))
  }
  app.get('/session', { dependencies: { session: Cookie('session', Type.String()) } }, async (request) => ({ value: request.deps.session }))
  app.post('/token', { dependencies: { form: OAuth2PasswordRequestForm } }, async (request) => ({ scopes: (request.deps.form as OAuth2PasswordRequest).scopes }))
  await app.listen({ port: 0, host: '127.0.0.1' })
  const { port } = app.server.address() as AddressInfo
  return (path, headers = {}, form) => new Promise((resolve, reject) => {
    const start = performance.now()
    const method = form === undefined ? 'GET' : 'POST'
    const sent = form === undefined ? headers : { ...headers, 'content-type': 'application/x-www-form-urlencoded' }
    const req = http.request({ host: '127.0.0.1', port, path, method, headers: sent, agent: false }, (res) => {
      const chunks: Buffer[] = []
      res.on('data', (chunk: Buffer) => chunks.push(chunk))
      res.on('end', () => {
        const elapsed = performance.now() - start
        t.ok(elapsed < ANSWERS_WITHIN_MS, `${method} ${path.slice(0, 40)} answered in ${elapsed.toFixed(0)} ms`)
        const challenge = res.headers['www-authenticate']
        resolve({ status: res.statusCode as number, challenge, body: JSON.parse(Buffer.concat(chunks).toString()) })
      })
    })
    req.on('error', reject)
    req.end(form)
  })
}

function unauthorized (challenge: string): Answer {
  return { status: 401, challenge, body: NOT_AUTHENTICATED }
}

function accepted (value: unknown): Answer {
  return { status: 200, challenge: undefined, body: { value } }
}

function invalid (message: string): Answer {
  return { status: 400, challenge: undefined, body: { statusCode: 400, code: 'FST_ERR_VALIDATION', error: 'Bad Request', message } }
}

const manyPads = 'Basic ' + '='.repeat(N) + 'a'

test('HTTPBasic answers a 60 KB run of "=" or of junk at once: 401 "Basic" when malformed, the user when the padding is only long', async (t) => {
  const send = await hostileApp(t)
  t.strictSame(await send('/basic', { authorization: manyPads }), unauthorized('Basic'))
  t.strictSame(await send('/basic', { authorization: 'Basic ' + '='.repeat(N) }), unauthorized('Basic'))
  t.strictSame(await send('/basic', { authorization: 'Basic ' + '!'.repeat(N) }), unauthorized('Basic'))
  t.strictSame(await send('/basic', { authorization: 'Basic ' + 'YTpi' + '='.repeat(N) }), accepted({ username: 'a', password: 'b' }))
  t.strictSame(await send('/basic', { authorization: 'Basic ' + ' \t'.repeat(N / 2) + 'YTpi' }), accepted({ username: 'a', password: 'b' }))
})

test('HTTPBearer, HTTPDigest and HTTPBase split a 60 KB run of spaces or tabs at once', async (t) => {
  const send = await hostileApp(t)
  t.strictSame(await send('/bearer', { authorization: 'Bearer' + ' '.repeat(N) + 'x' }), accepted({ scheme: 'Bearer', credentials: 'x' }))
  t.strictSame(await send('/bearer', { authorization: 'Bearer' + '\t'.repeat(N) + 'x' }), unauthorized('Bearer'))
  t.strictSame(await send('/bearer', { authorization: manyPads }), unauthorized('Bearer'))
  t.strictSame(await send('/digest', { authorization: 'Digest ' + ' \t'.repeat(N / 2) + 'x' }), accepted({ scheme: 'Digest', credentials: 'x' }))
  t.strictSame(await send('/digest', { authorization: 'Bearer' + ' '.repeat(N) + 'x' }), unauthorized('Digest'))
  t.strictSame(await send('/base', { authorization: 'other' + ' '.repeat(N) + 'x' }), accepted({ scheme: 'other', credentials: 'x' }))
  t.strictSame(await send('/base', { authorization: 'Other' + ' '.repeat(N) }), unauthorized('Other'))
})

test('OAuth2PasswordBearer and OAuth2AuthorizationCodeBearer read the token after a 60 KB run of spaces at once', async (t) => {
  const send = await hostileApp(t)
  for (const path of ['/password', '/code']) {
    t.strictSame(await send(path, { authorization: 'Bearer' + ' '.repeat(N) + 'x' }), accepted('x'), path)
    t.strictSame(await send(path, { authorization: 'Bearer ' + ' \t'.repeat(N / 2) + 'a b' }), accepted('a b'), path)
    t.strictSame(await send(path, { authorization: manyPads }), unauthorized('Bearer'), path)
  }
})

test('OAuth2 and OpenIdConnect give a 60 KB Authorization header back whole', async (t) => {
  const send = await hostileApp(t)
  const spaces = 'Bearer' + ' '.repeat(N) + 'x'
  for (const path of ['/oauth2', '/openid']) {
    t.strictSame(await send(path, { authorization: spaces }), accepted(spaces), path)
    t.strictSame(await send(path, { authorization: manyPads }), accepted(manyPads), path)
  }
})

test('APIKeyHeader and APIKeyQuery take a 60 KB key as sent, and a 60 KB query of "&" and "=" at once', async (t) => {
  const send = await hostileApp(t)
  const key = 'k' + ' \t'.repeat(N / 2) + 'k'
  t.strictSame(await send('/header', { 'x-key': key }), accepted(key))
  t.strictSame(await send('/header', { 'x-other': '='.repeat(N) }), unauthorized('APIKey'))
  t.strictSame(await send('/query?key=' + '%20'.repeat(N / 3) + 'k'), accepted(' '.repeat(N / 3) + 'k'))
  t.strictSame(await send('/query?' + '&='.repeat(N / 2) + '&key=k'), accepted('k'))
  t.strictSame(await send('/query?' + '='.repeat(N)), unauthorized('APIKey'))
})

test('APIKeyCookie and Cookie() read a 60 KB Cookie header of "=", ";" and whitespace at once', async (t) => {
  const send = await hostileApp(t)
  t.strictSame(await send('/cookie', { cookie: '='.repeat(N / 2) + ';'.repeat(N / 2) + 'key=v' }), accepted('v'))
  t.strictSame(await send('/cookie', { cookie: ';='.repeat(N / 2) }), unauthorized('APIKey'))
  t.strictSame(await send('/cookie', { cookie: 'key' + ';'.repeat(N) }), unauthorized('APIKey'))
  t.strictSame(await send('/session', { cookie: 'session=' + ' \t'.repeat(N / 2) + 'v' + ';'.repeat(N / 2) }), accepted('v'))
  t.strictSame(await send('/session', { cookie: '=;'.repeat(N / 2) }), invalid('cookies must have required property \'session\''))
})

test('OAuth2PasswordRequestForm splits a 60 KB scope of whitespace at once', async (t) => {
  const send = await hostileApp(t)
  const login = 'username=u&password=p&scope='
  t.strictSame(await send('/token', {}, login + ' '.repeat(N)), { status: 200, challenge: undefined, body: { scopes: [] } })
  t.strictSame(await send('/token', {}, login + '+%09'.repeat(N / 4) + 'read' + '+'.repeat(N / 4) + 'write'), { status: 200, challenge: undefined, body: { scopes: ['read', 'write'] } })
  t.strictSame(await send('/token', {}, login + '&grant_type=' + 'password'.repeat(N / 8)), invalid('body/grant_type must match pattern "^password$"'))
})
