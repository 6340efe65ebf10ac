import diagnosticsChannel from 'node:diagnostics_channel'
import { connect, type AddressInfo } from 'node:net'
import swagger from '@fastify/swagger'
import { test } from 'tap'
import { build, EventLog, readyError } from './helpers'
import {
  anyOf, depends, Security, APIKeyHeader, APIKeyQuery, HTTPBasic, HTTPBearer, OAuth2PasswordBearer,
  type DependencyTraceContext, type SecurityScopes
} from '../lib/index'

const NOT_AUTHENTICATED = { statusCode: 401, error: 'Unauthorized', message: 'Not authenticated' }
const MiB = 1024 * 1024

const bearer = HTTPBearer()
const apiKey = APIKeyHeader({ name: 'x-api-key' })
const caller = anyOf(bearer, apiKey)

test('anyOf: the first alternative, in order, with usable credentials gives { scheme, value }', async (t) => {
  const app = await build(t)
  app.get('/x', { dependencies: { caller } }, async (request) => request.deps.caller)
  const both = await app.inject({ url: '/x', headers: { authorization: 'Bearer tok', 'x-api-key': 'key' } })
  t.strictSame(both.json(), { scheme: 'HTTPBearer', value: { scheme: 'Bearer', credentials: 'tok' } }, 'both present: the first')
  const keyOnly = await app.inject({ url: '/x', headers: { 'x-api-key': 'key' } })
  t.strictSame(keyOnly.json(), { scheme: 'APIKeyHeader', value: 'key' }, 'the second alone')
  const bearerOnly = await app.inject({ url: '/x', headers: { authorization: 'Bearer tok' } })
  t.strictSame(bearerOnly.json(), { scheme: 'HTTPBearer', value: { scheme: 'Bearer', credentials: 'tok' } }, 'the first alone')
  const unusable = await app.inject({ url: '/x', headers: { authorization: 'Basic abc', 'x-api-key': 'key' } })
  t.strictSame(unusable.json(), { scheme: 'APIKeyHeader', value: 'key' }, 'credentials of another kind are not usable: the next one is')

  const reversed = await build(t)
  reversed.get('/x', { dependencies: { caller: anyOf(apiKey, bearer) } }, async (request) => request.deps.caller)
  const first = await reversed.inject({ url: '/x', headers: { authorization: 'Bearer tok', 'x-api-key': 'key' } })
  t.strictSame(first.json(), { scheme: 'APIKeyHeader', value: 'key' }, 'the order given decides')
})

test('anyOf: none usable is a 401 with every challenge, one WWW-Authenticate header each (duplicates once)', async (t) => {
  const app = await build(t)
  const token = OAuth2PasswordBearer({ tokenUrl: '/token' })
  app.get('/x', { dependencies: { caller: anyOf(bearer, apiKey, token, HTTPBasic({ realm: 'app' })) } }, async () => 'unreachable')
  const res = await app.inject('/x')
  t.equal(res.statusCode, 401)
  t.strictSame(res.json(), NOT_AUTHENTICATED)
  t.strictSame(res.headers['www-authenticate'], ['Bearer', 'APIKey', 'Basic realm="app"'])
})

test('anyOf(..., { autoError: false }): undefined when none is usable; the value otherwise', async (t) => {
  const app = await build(t)
  app.get('/x', { dependencies: { caller: anyOf(bearer, apiKey, { autoError: false }) } }, async (request) => ({ caller: request.deps.caller ?? 'anonymous' }))
  t.strictSame((await app.inject('/x')).json(), { caller: 'anonymous' })
  t.strictSame((await app.inject({ url: '/x', headers: { 'x-api-key': 'k' } })).json(), { caller: { scheme: 'APIKeyHeader', value: 'k' } })
})

test('anyOf: a malformed first alternative (HTTPBasic refuses even with autoError: false) falls through to the next', async (t) => {
  const app = await build(t)
  app.get('/x', { dependencies: { caller: anyOf(HTTPBasic(), apiKey) } }, async (request) => request.deps.caller)
  const res = await app.inject({ url: '/x', headers: { authorization: 'Basic !!!not-base64', 'x-api-key': 'machine' } })
  t.equal(res.statusCode, 200)
  t.strictSame(res.json(), { scheme: 'APIKeyHeader', value: 'machine' })
  const basic = await app.inject({ url: '/x', headers: { authorization: `Basic ${Buffer.from('alice:secret').toString('base64')}` } })
  t.strictSame(basic.json(), { scheme: 'HTTPBasic', value: { username: 'alice', password: 'secret' } })
  const none = await app.inject({ url: '/x', headers: { authorization: 'Basic !!!not-base64' } })
  t.equal(none.statusCode, 401)
  t.strictSame(none.headers['www-authenticate'], ['Basic', 'APIKey'])
})

test('anyOf with Security() above it and inside it: scopes reach the dependents, the SecurityScopes and every alternative in OpenAPI', async (t) => {
  const app = await build(t)
  await app.register(swagger, { openapi: { info: { title: 't', version: '1' } } })
  const token = OAuth2PasswordBearer({ tokenUrl: '/token', scopes: { read: 'Read', admin: 'Admin' } })
  const seen: string[][] = []
  const user = depends({ caller: anyOf(Security(token, ['admin']), apiKey) }, ({ caller }, { securityScopes }: { securityScopes: SecurityScopes }) => {
    seen.push([...securityScopes.scopes])
    return caller.scheme === 'OAuth2PasswordBearer' ? `token ${caller.value}` : `key ${caller.value}`
  }, { name: 'user' })
  app.get('/items', { dependencies: { user: Security(user, ['read']) } }, async (request) => request.deps.user)
  t.equal((await app.inject({ url: '/items', headers: { authorization: 'Bearer t1' } })).body, 'token t1')
  t.equal((await app.inject({ url: '/items', headers: { 'x-api-key': 'k1' } })).body, 'key k1')
  t.strictSame(seen, [['read'], ['read']])
  await app.ready()
  const document = app.swagger() as { paths: Record<string, { get: { security: unknown } }> }
  // OpenAPI 3.0: scopes only on OAuth2 (and OpenID Connect) requirements, `[]` for the API key.
  t.strictSame(document.paths['/items'].get.security, [{ OAuth2PasswordBearer: ['read', 'admin'] }, { APIKeyHeader: [] }])
})

test('OpenAPI: a tree needing X and anyOf(A, B) documents [{ X, A }, { X, B }]; every scheme is a component; 401 once', async (t) => {
  const app = await build(t)
  await app.register(swagger, { openapi: { info: { title: 't', version: '1' } } })
  const tenant = APIKeyQuery({ name: 'tenant' })
  const a = OAuth2PasswordBearer({ tokenUrl: '/token', scopes: { read: 'Read' } })
  const b = APIKeyHeader({ name: 'x-api-key' })
  const c = HTTPBasic()
  const d = HTTPBearer({ schemeName: 'machineBearer' })
  app.get('/one', { dependencies: { tenant, caller: anyOf(Security(a, ['read']), b) } }, async () => 'ok')
  app.get('/two', { dependencies: { first: anyOf(a, b), second: anyOf(c, d) } }, async () => 'ok')
  app.get('/alone', { dependencies: { caller: anyOf(a, b) } }, async () => 'ok')
  app.get('/also-required', { dependencies: { token: Security(a, ['read']), caller: anyOf(Security(a, ['write']), Security(b, ['write'])) } }, async () => 'ok')
  await app.ready()
  const document = app.swagger() as {
    paths: Record<string, { get: { security: unknown, responses: Record<string, { description: string, headers?: unknown }> } }>
    components: { securitySchemes: Record<string, unknown> }
  }
  t.strictSame(document.paths['/one'].get.security, [
    { APIKeyQuery: [], OAuth2PasswordBearer: ['read'] },
    { APIKeyQuery: [], APIKeyHeader: [] }
  ])
  t.strictSame(document.paths['/two'].get.security, [
    { OAuth2PasswordBearer: [], HTTPBasic: [] },
    { OAuth2PasswordBearer: [], machineBearer: [] },
    { APIKeyHeader: [], HTTPBasic: [] },
    { APIKeyHeader: [], machineBearer: [] }
  ])
  t.strictSame(document.paths['/alone'].get.security, [{ OAuth2PasswordBearer: [] }, { APIKeyHeader: [] }])
  // The same scheme required and as an alternative: one entry per object, scopes merged.
  t.strictSame(document.paths['/also-required'].get.security, [{ OAuth2PasswordBearer: ['read', 'write'] }, { OAuth2PasswordBearer: ['read'], APIKeyHeader: [] }])
  t.strictSame(Object.keys(document.components.securitySchemes).sort(), ['APIKeyHeader', 'APIKeyQuery', 'HTTPBasic', 'OAuth2PasswordBearer', 'machineBearer'])
  t.strictSame(document.components.securitySchemes.machineBearer, { type: 'http', scheme: 'bearer' })
  t.equal(document.paths['/one'].get.responses['401'].description, 'Not authenticated')
  t.strictSame(Object.keys(document.paths['/one'].get.responses).sort(), ['200', '401'])
})

test('anyOf and overrides: overriding the anyOf, or one scheme in it, changes what the route gets; OpenAPI stays', async (t) => {
  const app = await build(t)
  await app.register(swagger, { openapi: { info: { title: 't', version: '1' } } })
  app.get('/x', { dependencies: { caller } }, async (request) => request.deps.caller)
  app.dependencyOverrides.set(apiKey, depends(() => 'from-override', { name: 'fakeKey' }))
  t.strictSame((await app.inject('/x')).json(), { scheme: 'APIKeyHeader', value: 'from-override' }, 'the overridden scheme is usable')
  t.strictSame((await app.inject({ url: '/x', headers: { authorization: 'Bearer tok' } })).json(), { scheme: 'HTTPBearer', value: { scheme: 'Bearer', credentials: 'tok' } }, 'the first still wins')
  // A stand-in that finds no key (typed as the scheme's value, as a test double would be).
  app.dependencyOverrides.set(apiKey, depends(() => undefined as unknown as string, { name: 'noKey' }))
  t.equal((await app.inject('/x')).statusCode, 401, 'an override that gives undefined is not usable')
  app.dependencyOverrides.clear()
  app.dependencyOverrides.set(caller, depends(() => ({ scheme: 'HTTPBearer' as const, value: { scheme: 'Bearer', credentials: 'fake' } }), { name: 'fakeCaller' }))
  t.strictSame((await app.inject('/x')).json(), { scheme: 'HTTPBearer', value: { scheme: 'Bearer', credentials: 'fake' } }, 'the anyOf overridden')
  app.dependencyOverrides.clear()
  t.equal((await app.inject('/x')).statusCode, 401)
  const document = app.swagger() as { paths: Record<string, { get: { security: unknown } }> }
  t.strictSame(document.paths['/x'].get.security, [{ HTTPBearer: [] }, { APIKeyHeader: [] }])
})

test('anyOf runs in onRequest: over a real socket the 401 arrives before a large body was sent, nothing else ran', async (t) => {
  const events = new EventLog()
  const app = await build(t)
  app.addContentTypeParser('application/octet-stream', { parseAs: 'buffer', bodyLimit: 16 * MiB }, (_request, body, done) => {
    events.record('parser')
    done(null, body)
  })
  const session = depends(function * () {
    events.record('session')
    yield 'session'
  }, { name: 'session' })
  app.post('/upload', { dependencies: { caller, session } }, async (request) => ({ caller: request.deps.caller.scheme, size: (request.body as Buffer).length }))
  await app.listen({ port: 0, host: '127.0.0.1' })
  const { port } = app.server.address() as AddressInfo
  const head = await new Promise<string>((resolve, reject) => {
    const socket = connect(port, '127.0.0.1')
    let received = ''
    const guard = setTimeout(() => { socket.destroy(); reject(new Error('no response within 10 s')) }, 10_000)
    socket.on('error', reject)
    socket.on('data', (chunk: Buffer) => {
      received += chunk.toString('latin1')
      if (!received.includes('\r\n\r\n')) return
      clearTimeout(guard)
      socket.destroy()
      resolve(received)
    })
    socket.write(['POST /upload HTTP/1.1', 'Host: localhost', 'Content-Type: application/octet-stream', `Content-Length: ${8 * MiB}`, '', ''].join('\r\n'))
    socket.write(Buffer.alloc(MiB, 0x61))
  })
  t.match(head, /^HTTP\/1\.1 401 Unauthorized\r\n/)
  t.match(head, /\r\nwww-authenticate: Bearer\r\nwww-authenticate: APIKey\r\n/i)
  t.strictSame(events.list(), [])
  const ok = await app.inject({ method: 'POST', url: '/upload', headers: { 'x-api-key': 'k', 'content-type': 'application/octet-stream' }, payload: Buffer.alloc(1024) })
  t.strictSame(ok.json(), { caller: 'APIKeyHeader', size: 1024 })
  t.strictSame(events.list(), ['parser', 'session'])
})

test('anyOf in printDependencies() and on the tracing channel', async (t) => {
  const app = await build(t)
  app.get('/x', { dependencies: { caller } }, async () => 'ok')
  await app.ready()
  const printed = app.printDependencies()
  t.match(printed, /anyOf\(HTTPBearer, APIKeyHeader\)/)
  t.match(printed, /HTTPBearer.*scheme HTTPBearer/)
  const names: string[] = []
  const channel = diagnosticsChannel.tracingChannel<unknown, DependencyTraceContext>('fastify-depends:resolve')
  const handlers = { start: (context: DependencyTraceContext) => { names.push(context.dependency) }, end () {}, asyncStart () {}, asyncEnd () {}, error () {} }
  channel.subscribe(handlers)
  t.teardown(() => channel.unsubscribe(handlers))
  await app.inject({ url: '/x', headers: { 'x-api-key': 'k' } })
  t.strictSame(names, ['HTTPBearer', 'APIKeyHeader', 'anyOf(HTTPBearer, APIKeyHeader)'])
})

test('anyOf misuse is an FST_DEPENDS_INVALID error when it is called', async (t) => {
  const notAScheme = depends(() => 'x', { name: 'notAScheme' })
  t.throws(() => anyOf(bearer, notAScheme as never), { code: 'FST_DEPENDS_INVALID', message: 'anyOf(): alternative 2 must be a security scheme (HTTPBearer(), APIKeyHeader(), ...) or Security() of one, got the dependency "notAScheme"' })
  t.throws(() => anyOf(bearer, 'x' as never), { code: 'FST_DEPENDS_INVALID', message: /alternative 2 must be a security scheme .* got string x$/ })
  t.throws(() => (anyOf as () => unknown)(), { code: 'FST_DEPENDS_INVALID', message: 'anyOf() needs at least one security scheme' })
  t.throws(() => anyOf(bearer, apiKey, { autoError: 'no' as never }), { code: 'FST_DEPENDS_INVALID', message: 'anyOf(): autoError must be a boolean, got string no' })
  const one = anyOf(bearer)
  const app = await build(t)
  app.get('/x', { dependencies: { one } }, async (request) => request.deps.one)
  t.equal(await readyError(app), undefined)
  t.strictSame((await app.inject({ url: '/x', headers: { authorization: 'Bearer a' } })).json(), { scheme: 'HTTPBearer', value: { scheme: 'Bearer', credentials: 'a' } })
})
