import formbody from '@fastify/formbody'
import swagger from '@fastify/swagger'
import { Type } from '@sinclair/typebox'
import Fastify, { type FastifyInstance } from 'fastify'
import { test, type Test } from 'tap'
import { build } from './helpers'
import fastifyDepends, {
  depends, Depends, Security, Query, OAuth2PasswordBearer, OAuth2AuthorizationCodeBearer, OAuth2, OpenIdConnect,
  HTTPBearer, HTTPBasic, HTTPDigest, HTTPBase, APIKeyHeader, APIKeyQuery, APIKeyCookie,
  OAuth2PasswordRequestForm, OAuth2PasswordRequestFormStrict, type Dependency
} from '../lib/index'

interface Operation {
  summary?: string
  description?: string
  security?: unknown
  parameters?: unknown[]
  requestBody?: unknown
  responses?: Record<string, unknown>
}
interface Document {
  components: { securitySchemes?: Record<string, unknown> }
  paths: Record<string, Record<string, Operation>>
}

const info = { openapi: { info: { title: 't', version: '1' } } }

/** The plugin, then @fastify/swagger with only `openapi.info`. */
async function documentedApp (t: Test): Promise<FastifyInstance> {
  const app = await build(t)
  await app.register(swagger, info)
  return app
}

async function documentOf (app: FastifyInstance): Promise<Document> {
  await app.ready()
  return app.swagger() as unknown as Document
}

const schemes: Array<[string, () => Dependency<unknown>, unknown, string?]> = [
  ['OAuth2PasswordBearer', () => OAuth2PasswordBearer({ tokenUrl: 'token' }),
    { type: 'oauth2', flows: { password: { scopes: {}, tokenUrl: 'token' } } },
    '{"type":"oauth2","flows":{"password":{"scopes":{},"tokenUrl":"token"}}}'],
  ['PB', () => OAuth2PasswordBearer({ tokenUrl: '/token', refreshUrl: '/refresh', scopes: { read: 'Read', write: 'Write' }, schemeName: 'PB', description: 'PB desc', autoError: false }),
    { type: 'oauth2', description: 'PB desc', flows: { password: { refreshUrl: '/refresh', scopes: { read: 'Read', write: 'Write' }, tokenUrl: '/token' } } },
    '{"type":"oauth2","description":"PB desc","flows":{"password":{"refreshUrl":"/refresh","scopes":{"read":"Read","write":"Write"},"tokenUrl":"/token"}}}'],
  ['OAuth2AuthorizationCodeBearer', () => OAuth2AuthorizationCodeBearer({ authorizationUrl: 'authorize', tokenUrl: 'token', refreshUrl: 'refresh', scopes: { a: 'A' } }),
    { type: 'oauth2', flows: { authorizationCode: { refreshUrl: 'refresh', scopes: { a: 'A' }, authorizationUrl: 'authorize', tokenUrl: 'token' } } },
    '{"type":"oauth2","flows":{"authorizationCode":{"refreshUrl":"refresh","scopes":{"a":"A"},"authorizationUrl":"authorize","tokenUrl":"token"}}}'],
  ['OAuth2', () => OAuth2({ flows: { implicit: { authorizationUrl: 'auth' }, password: { tokenUrl: 'token', scopes: { 'read:users': 'Read' } } } }),
    { type: 'oauth2', flows: { implicit: { scopes: {}, authorizationUrl: 'auth' }, password: { scopes: { 'read:users': 'Read' }, tokenUrl: 'token' } } },
    '{"type":"oauth2","flows":{"implicit":{"scopes":{},"authorizationUrl":"auth"},"password":{"scopes":{"read:users":"Read"},"tokenUrl":"token"}}}'],
  ['OpenIdConnect', () => OpenIdConnect({ openIdConnectUrl: '/openid' }),
    { type: 'openIdConnect', openIdConnectUrl: '/openid' },
    '{"type":"openIdConnect","openIdConnectUrl":"/openid"}'],
  ['OIDC', () => OpenIdConnect({ openIdConnectUrl: '/openid', schemeName: 'OIDC', description: 'OpenID Connect' }),
    { type: 'openIdConnect', description: 'OpenID Connect', openIdConnectUrl: '/openid' }],
  ['HTTPBasic', () => HTTPBasic({ realm: 'r', description: 'Basic auth' }), { type: 'http', description: 'Basic auth', scheme: 'basic' }],
  ['HTTPBearer', () => HTTPBearer({ bearerFormat: 'JWT' }), { type: 'http', scheme: 'bearer', bearerFormat: 'JWT' }],
  ['PlainBearer', () => HTTPBearer({ schemeName: 'PlainBearer' }), { type: 'http', scheme: 'bearer' }, '{"type":"http","scheme":"bearer"}'],
  ['HTTPDigest', () => HTTPDigest(), { type: 'http', scheme: 'digest' }, '{"type":"http","scheme":"digest"}'],
  ['HTTPBase', () => HTTPBase({ scheme: 'Other' }), { type: 'http', scheme: 'Other' }, '{"type":"http","scheme":"Other"}'],
  ['APIKeyQuery', () => APIKeyQuery({ name: 'key' }), { type: 'apiKey', in: 'query', name: 'key' }, '{"type":"apiKey","in":"query","name":"key"}'],
  ['APIKeyHeader', () => APIKeyHeader({ name: 'X-Key' }), { type: 'apiKey', in: 'header', name: 'X-Key' }, '{"type":"apiKey","in":"header","name":"X-Key"}'],
  ['APIKeyCookie', () => APIKeyCookie({ name: 'session', description: 'Session' }), { type: 'apiKey', description: 'Session', in: 'cookie', name: 'session' }]
]

test('every scheme lands in components.securitySchemes under its schemeName with FastAPI\'s JSON', async (t) => {
  const app = await documentedApp(t)
  for (const [name, make] of schemes) {
    app.get(`/${name}`, { dependencies: { credentials: make() } }, async () => 'ok')
  }
  const document = await documentOf(app)
  t.strictSame(document.components.securitySchemes, Object.fromEntries(schemes.map(([name, , json]) => [name, json])))
  for (const [name, , , literal] of schemes) {
    if (literal !== undefined) t.equal(JSON.stringify(document.components.securitySchemes?.[name]), literal, `${name} as in the semantics catalog`)
    t.strictSame(document.paths[`/${name}`].get.security, [{ [name]: [] }], `${name} required by its operation`)
  }
})

test('scopes from the app level and the route merge into the requirement (B90 /with-get-token)', async (t) => {
  const oauth2 = OAuth2AuthorizationCodeBearer({ authorizationUrl: 'authorize', tokenUrl: 'token', scopes: { read: 'R', write: 'W' } })
  const getToken = depends({ token: Depends(oauth2) }, ({ token }) => token, { name: 'getToken' })
  const app = await build(t, { dependencies: [Depends(getToken)] })
  await app.register(swagger, info)
  app.get('/with-get-token', { dependencies: { token: Security(getToken, ['read', 'write']) } }, async () => 'ok')
  app.get('/without', async () => 'ok')
  const document = await documentOf(app)
  t.strictSame(document.paths['/with-get-token'].get.security, [{ OAuth2AuthorizationCodeBearer: ['read', 'write'] }])
  t.strictSame(document.paths['/without'].get.security, [{ OAuth2AuthorizationCodeBearer: [] }])
})

test('context-level Security(scheme, scopes) scopes reach the operation, merged with the route\'s (B90)', async (t) => {
  const app = await documentedApp(t)
  const oauth2 = OAuth2AuthorizationCodeBearer({ authorizationUrl: 'authorize', tokenUrl: 'token' })
  await app.register(async (scope) => {
    scope.addDependencies([Security(oauth2, ['read'])])
    scope.get('/depends', { dependencies: { token: Depends(oauth2) } }, async () => 'ok')
    scope.get('/security', { dependencies: { token: Security(oauth2, ['read', 'write']) } }, async () => 'ok')
  })
  const document = await documentOf(app)
  t.strictSame(document.paths['/depends'].get.security, [{ OAuth2AuthorizationCodeBearer: ['read'] }])
  t.strictSame(document.paths['/security'].get.security, [{ OAuth2AuthorizationCodeBearer: ['read', 'write'] }])
})

test('one scheme reached with ["me"] and with ["items"] is required once with ["me","items"]', async (t) => {
  const app = await documentedApp(t)
  const oauth2 = OAuth2PasswordBearer({ tokenUrl: '/token' })
  const user = depends({ token: oauth2 }, ({ token }) => token, { name: 'user' })
  const ancestor = depends({ user: Security(user, ['admin', 'me']) }, ({ user }) => user, { name: 'ancestor' })
  app.get('/x', { dependencies: { me: Security(user, ['me']), items: Security(user, ['items']), deep: Security(ancestor, ['me']) } }, async () => 'ok')
  const document = await documentOf(app)
  t.strictSame(document.paths['/x'].get.security, [{ OAuth2PasswordBearer: ['me', 'items', 'admin'] }])
})

test('two schemes give ONE requirement object (AND), in first-seen order; FastAPI emits one per scheme (B89)', async (t) => {
  const app = await documentedApp(t)
  const user = depends({ key: APIKeyHeader({ name: 'X-Key' }) }, ({ key }) => key, { name: 'user' })
  app.get('/x', { dependencies: { bearer: HTTPBearer(), user: Security(user, ['s']) } }, async () => 'ok')
  const document = await documentOf(app)
  const security = document.paths['/x'].get.security as Array<Record<string, string[]>>
  // OpenAPI 3.0: a requirement's scopes are for OAuth2 and OpenID Connect only; other schemes list [] (FastAPI lists them, B90).
  t.strictSame(security, [{ HTTPBearer: [], APIKeyHeader: [] }])
  t.strictSame(Object.keys(security[0]), ['HTTPBearer', 'APIKeyHeader'])
})

test('two schemes with one schemeName: the last definition is documented and their scopes merge (B88)', async (t) => {
  const app = await documentedApp(t)
  const first = OAuth2PasswordBearer({ tokenUrl: '/first', schemeName: 'Auth' })
  const second = OAuth2PasswordBearer({ tokenUrl: '/second', schemeName: 'Auth' })
  app.get('/x', { dependencies: { a: Security(first, ['a']), b: Security(second, ['b']) } }, async () => 'ok')
  const document = await documentOf(app)
  t.strictSame(document.components.securitySchemes, { Auth: { type: 'oauth2', flows: { password: { scopes: {}, tokenUrl: '/second' } } } })
  t.strictSame(document.paths['/x'].get.security, [{ Auth: ['a', 'b'] }])
})

test('a route without a scheme has no security and a route\'s own schema.security is kept', async (t) => {
  const app = await documentedApp(t)
  const plain = depends(() => 'db', { name: 'db' })
  app.get('/plain', { dependencies: { plain } }, async () => 'ok')
  app.get('/bare', async () => 'ok')
  app.get('/public', { schema: { security: [] }, dependencies: { key: APIKeyHeader({ name: 'X-Key', autoError: false }) } }, async () => 'ok')
  const document = await documentOf(app)
  t.notOk('security' in document.paths['/plain'].get)
  t.notOk('security' in document.paths['/bare'].get)
  t.strictSame(document.paths['/public'].get.security, [])
  t.strictSame(document.components.securitySchemes, { APIKeyHeader: { type: 'apiKey', in: 'header', name: 'X-Key' } })
})

test('schemes add no parameters: APIKeyQuery documents no "key" parameter (B81)', async (t) => {
  const app = await documentedApp(t)
  app.get('/only', { dependencies: { key: APIKeyQuery({ name: 'key' }), header: APIKeyHeader({ name: 'X-Key' }), c: APIKeyCookie({ name: 's' }) } }, async () => 'ok')
  app.get('/with-q', { dependencies: { key: APIKeyQuery({ name: 'key' }), q: Query('q', Type.Optional(Type.String())) } }, async (request) => request.deps)
  const document = await documentOf(app)
  t.notOk('parameters' in document.paths['/only'].get)
  t.strictSame(document.paths['/with-q'].get.parameters, [{ schema: { type: 'string' }, in: 'query', name: 'q', required: false }])
  t.strictSame((await app.inject('/with-q?key=k&q=v')).json(), { key: 'k', q: 'v' })
})

test('swagger registered after the plugin keeps applying its global transform to protected operations', async (t) => {
  const app = await build(t)
  await app.register(swagger, {
    ...info,
    transform: ({ schema, url }: { schema: unknown, url: string }) => ({ schema: { ...(schema as object), summary: `summary of ${url}` }, url })
  })
  app.get('/protected', { dependencies: { token: Security(OAuth2PasswordBearer({ tokenUrl: '/token' }), ['me']) } }, async () => 'ok')
  app.get('/open', async () => 'ok')
  const document = await documentOf(app)
  t.equal(document.paths['/protected'].get.summary, 'summary of /protected')
  t.strictSame(document.paths['/protected'].get.security, [{ OAuth2PasswordBearer: ['me'] }])
  t.equal(document.paths['/open'].get.summary, 'summary of /open')
  t.ok(document.components.securitySchemes?.OAuth2PasswordBearer)
})

test('swagger registered before the plugin documents the schemes too', async (t) => {
  const app = Fastify()
  t.after(() => app.close())
  await app.register(swagger, info)
  await app.register(fastifyDepends)
  app.get('/x', { dependencies: { key: APIKeyHeader({ name: 'X-Key' }) } }, async () => 'ok')
  const document = await documentOf(app)
  t.strictSame(document.paths['/x'].get.security, [{ APIKeyHeader: [] }])
  t.strictSame(document.components.securitySchemes, { APIKeyHeader: { type: 'apiKey', in: 'header', name: 'X-Key' } })
})

test('a route\'s own config.swaggerTransform runs instead of the global one and keeps the security; false skips transforms', async (t) => {
  const app = await build(t)
  await app.register(swagger, {
    ...info,
    transform: ({ schema, url }: { schema: unknown, url: string }) => ({ schema: { ...(schema as object), summary: 'global' }, url })
  })
  const own = ({ schema, url }: { schema: unknown, url: string }) => ({ schema: { ...(schema as object), description: 'own' }, url })
  app.get('/own', { config: { swaggerTransform: own }, dependencies: { key: APIKeyHeader({ name: 'X-Key' }) } }, async () => 'ok')
  app.get('/none', { config: { swaggerTransform: false }, dependencies: { bearer: HTTPBearer() } }, async () => 'ok')
  const document = await documentOf(app)
  const responses = {
    200: { description: 'Default Response' },
    401: {
      description: 'Not authenticated',
      headers: { 'www-authenticate': { schema: { type: 'string' }, description: 'The authentication challenge' } },
      content: {
        'application/json': {
          schema: {
            type: 'object',
            properties: { statusCode: { type: 'integer' }, code: { type: 'string' }, error: { type: 'string' }, message: { type: 'string' } },
            required: ['statusCode', 'error', 'message']
          }
        }
      }
    }
  }
  t.strictSame(document.paths['/own'].get, { description: 'own', security: [{ APIKeyHeader: [] }], 'x-dependencies': ['APIKeyHeader'], responses })
  t.strictSame(document.paths['/none'].get, { security: [{ HTTPBearer: [] }], 'x-dependencies': ['HTTPBearer'], responses })
  t.strictSame(Object.keys(document.components.securitySchemes ?? {}).sort(), ['APIKeyHeader', 'HTTPBearer'])
})

test('the password forms document an application/x-www-form-urlencoded request body and no security (B100)', async (t) => {
  const app = await documentedApp(t)
  await app.register(formbody)
  app.post('/token', { dependencies: { form: OAuth2PasswordRequestForm } }, async () => 'ok')
  app.post('/strict', { dependencies: { form: OAuth2PasswordRequestFormStrict } }, async () => 'ok')
  const document = await documentOf(app)
  const properties = {
    grant_type: { pattern: '^password$', type: 'string' },
    username: { type: 'string' },
    password: { type: 'string' },
    scope: { default: '', type: 'string' },
    client_id: { type: 'string' },
    client_secret: { type: 'string' }
  }
  const body = (required: string[]) => ({
    required: true,
    content: { 'application/x-www-form-urlencoded': { schema: { type: 'object', required, properties } } }
  })
  t.strictSame(document.paths['/token'].post.requestBody, body(['username', 'password']))
  t.strictSame(document.paths['/strict'].post.requestBody, body(['grant_type', 'username', 'password']))
  t.notOk('security' in document.paths['/token'].post)
  t.notOk('parameters' in document.paths['/token'].post)
  t.strictSame(document.components.securitySchemes ?? {}, {})
})

test('a hidden operation adds no scheme to components.securitySchemes: schema.hide, the hiddenTag, hideUntagged, a websocket route', async (t) => {
  const cases: Array<[string, Record<string, unknown>, (app: FastifyInstance, scheme: Dependency<unknown>) => void]> = [
    ['schema.hide', {}, (app, scheme) => { app.get('/hidden', { schema: { hide: true }, dependencies: { scheme } }, async () => 'x') }],
    ['the default hiddenTag', {}, (app, scheme) => { app.get('/hidden', { schema: { tags: ['X-HIDDEN'] }, dependencies: { scheme } }, async () => 'x') }],
    ['a hiddenTag of its own', { hiddenTag: 'internal' }, (app, scheme) => { app.get('/hidden', { schema: { tags: ['internal'] }, dependencies: { scheme } }, async () => 'x') }],
    ['hideUntagged', { hideUntagged: true }, (app, scheme) => { app.get('/hidden', { dependencies: { scheme } }, async () => 'x') }],
    ['a transform that hides it', { transform: ({ schema, url }: { schema: object, url: string }) => ({ schema: { ...schema, hide: url === '/hidden' }, url }) }, (app, scheme) => {
      app.get('/hidden', { dependencies: { scheme } }, async () => 'x')
    }],
    ['a websocket route', {}, (app, scheme) => { app.get('/hidden', { websocket: true, dependencies: { scheme } }, (socket) => { socket.close() }) }]
  ]
  for (const [label, options, declare] of cases) {
    const app = await build(t)
    if (label === 'a websocket route') await app.register((await import('@fastify/websocket')).default)
    await app.register(swagger, { ...info, ...options })
    declare(app, APIKeyQuery({ name: 'hidden_key', schemeName: 'HiddenKey' }))
    app.get('/shown', { schema: { tags: ['shown'] }, dependencies: { key: APIKeyHeader({ name: 'x-key', schemeName: 'ShownKey' }) } }, async () => 'x')
    const document = await documentOf(app)
    t.same(Object.keys(document.components.securitySchemes ?? {}), ['ShownKey'], label)
    t.same(Object.keys(document.paths), ['/shown'], label)
  }
})
