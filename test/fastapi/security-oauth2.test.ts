import formbody from '@fastify/formbody'
import swagger from '@fastify/swagger'
import type { FastifyInstance } from 'fastify'
import { test, type Test } from 'tap'
import { build } from '../helpers'
import {
  depends, Security, OAuth2, OAuth2PasswordRequestFormStrict, OAuth2AuthorizationCodeBearer, OAuth2PasswordBearer, OpenIdConnect,
  type Dependency
} from '../../lib/index'

// Ported from FastAPI's tests/test_security_oauth2.py, tests/test_security_oauth2_optional.py and
// tests/test_security_oauth2_optional_description.py: the generic OAuth2 scheme (the whole
// Authorization header) and the strict password form. FastAPI's 422 is Fastify's 400 with one
// message; the form's value is camelCase (`grantType`, `clientId`, ...) and absent fields are
// `undefined` (FastAPI: `None`).

interface Operation { security?: unknown, parameters?: unknown, requestBody?: unknown }
interface Document { paths: Record<string, Record<string, Operation>>, components: { securitySchemes?: unknown } }

type Variant = '' | '_optional' | '_optional_description'

async function oauth2App (t: Test, variant: Variant) {
  const reusableOauth2 = OAuth2({
    flows: { password: { tokenUrl: 'token', scopes: { 'read:users': 'Read the users', 'write:users': 'Create users' } } },
    ...(variant === '' ? {} : { autoError: false }),
    ...(variant === '_optional_description' ? { description: 'OAuth2 security scheme' } : {})
  })
  const getCurrentUser = depends({ oauthHeader: Security(reusableOauth2) }, ({ oauthHeader }) =>
    oauthHeader === undefined ? null : { username: oauthHeader }, { name: 'getCurrentUser' })
  const app = await build(t)
  await app.register(formbody)
  await app.register(swagger, { openapi: { info: { title: 't', version: '1' } } })
  app.post('/login', { dependencies: { formData: OAuth2PasswordRequestFormStrict } }, async (request) => request.deps.formData)
  app.get('/users/me', { dependencies: { currentUser: getCurrentUser } }, async (request) =>
    request.deps.currentUser ?? { msg: 'Create an account first' })
  await app.ready()
  return app
}

function login (form?: string) {
  return {
    method: 'POST' as const,
    url: '/login',
    ...(form === undefined ? {} : { payload: form, headers: { 'content-type': 'application/x-www-form-urlencoded' } })
  }
}

function invalid (message: string) {
  return { statusCode: 400, code: 'FST_ERR_VALIDATION', error: 'Bad Request', message }
}

for (const variant of ['', '_optional', '_optional_description'] as Variant[]) {
  const file = `tests/test_security_oauth2${variant}.py`

  // ported from tests/test_security_oauth2{,_optional,_optional_description}.py test_security_oauth2
  test(`${file} test_security_oauth2: the whole Authorization header is the value`, async (t) => {
    const app = await oauth2App(t, variant)
    const res = await app.inject({ url: '/users/me', headers: { authorization: 'Bearer footokenbar' } })
    t.equal(res.statusCode, 200)
    t.same(res.json(), { username: 'Bearer footokenbar' })
  })

  // ported from tests/test_security_oauth2{,_optional,_optional_description}.py test_security_oauth2_password_other_header
  test(`${file} test_security_oauth2_password_other_header: any scheme is accepted`, async (t) => {
    const app = await oauth2App(t, variant)
    const res = await app.inject({ url: '/users/me', headers: { authorization: 'Other footokenbar' } })
    t.equal(res.statusCode, 200)
    t.same(res.json(), { username: 'Other footokenbar' })
  })

  // ported from tests/test_security_oauth2{,_optional,_optional_description}.py test_security_oauth2_password_bearer_no_header
  test(`${file} test_security_oauth2_password_bearer_no_header: no header is ${variant === '' ? '401 Bearer' : 'an undefined value'}`, async (t) => {
    const app = await oauth2App(t, variant)
    const res = await app.inject('/users/me')
    if (variant === '') {
      t.equal(res.statusCode, 401)
      t.same(res.json(), { statusCode: 401, error: 'Unauthorized', message: 'Not authenticated' })
      t.equal(res.headers['www-authenticate'], 'Bearer')
    } else {
      t.equal(res.statusCode, 200)
      t.same(res.json(), { msg: 'Create an account first' })
    }
  })

  // ported from tests/test_security_oauth2{,_optional}.py test_strict_login_no_data, tests/test_security_oauth2_optional_description.py test_strict_login_None
  test(`${file} test_strict_login_no_data: a login without a body is a validation error`, async (t) => {
    const app = await oauth2App(t, variant)
    const res = await app.inject(login())
    t.equal(res.statusCode, 400)
    t.same(res.json(), invalid('body must be object'))
  })

  // ported from tests/test_security_oauth2{,_optional,_optional_description}.py test_strict_login_no_grant_type
  test(`${file} test_strict_login_no_grant_type: the strict form requires grant_type`, async (t) => {
    const app = await oauth2App(t, variant)
    const res = await app.inject(login('username=johndoe&password=secret'))
    t.equal(res.statusCode, 400)
    t.same(res.json(), invalid("body must have required property 'grant_type'"))
  })

  // ported from tests/test_security_oauth2{,_optional,_optional_description}.py test_strict_login_incorrect_grant_type (3 parametrized cases)
  test(`${file} test_strict_login_incorrect_grant_type: grant_type must be exactly "password"`, async (t) => {
    const app = await oauth2App(t, variant)
    for (const grantType of ['incorrect', 'passwordblah', 'blahpassword']) {
      const res = await app.inject(login(`username=johndoe&password=secret&grant_type=${grantType}`))
      t.equal(res.statusCode, 400, grantType)
      t.same(res.json(), invalid('body/grant_type must match pattern "^password$"'), grantType)
    }
  })

  // ported from tests/test_security_oauth2.py test_strict_login_correct_grant_type, tests/test_security_oauth2_optional.py test_strict_login_correct_data, tests/test_security_oauth2_optional_description.py test_strict_login_correct_correct_grant_type
  test(`${file} test_strict_login_correct_grant_type: the form's value, scopes split from "scope"`, async (t) => {
    const app = await oauth2App(t, variant)
    const res = await app.inject(login('username=johndoe&password=secret&grant_type=password'))
    t.equal(res.statusCode, 200)
    t.strictSame(res.json(), { grantType: 'password', username: 'johndoe', password: 'secret', scopes: [] })
  })

  // ported from tests/test_security_oauth2{,_optional,_optional_description}.py test_openapi_schema
  test(`${file} test_openapi_schema: the login form body, and the OAuth2 scheme with its flows on /users/me`, async (t) => {
    const app = await oauth2App(t, variant)
    const document = app.swagger() as unknown as Document
    t.strictSame(document.paths['/login'].post.requestBody, {
      required: true,
      content: {
        'application/x-www-form-urlencoded': {
          schema: {
            type: 'object',
            required: ['grant_type', 'username', 'password'],
            properties: {
              grant_type: { pattern: '^password$', type: 'string' },
              username: { type: 'string' },
              password: { type: 'string' },
              scope: { default: '', type: 'string' },
              client_id: { type: 'string' },
              client_secret: { type: 'string' }
            }
          }
        }
      }
    })
    t.notOk('security' in document.paths['/login'].post, 'the form is not a security scheme')
    t.strictSame(document.paths['/users/me'].get.security, [{ OAuth2: [] }])
    t.strictSame(document.components.securitySchemes, {
      OAuth2: {
        type: 'oauth2',
        ...(variant === '_optional_description' ? { description: 'OAuth2 security scheme' } : {}),
        flows: { password: { scopes: { 'read:users': 'Read the users', 'write:users': 'Create users' }, tokenUrl: 'token' } }
      }
    })
  })
}

// Ported from FastAPI's tests/test_security_oauth2_authorization_code_bearer{,_description}.py,
// tests/test_security_oauth2_authorization_code_bearer_scopes_openapi{,_simple}.py,
// tests/test_security_oauth2_password_bearer_optional{,_description}.py and
// tests/test_security_openid_connect{,_description,_optional}.py.
// FastAPI's routers are encapsulation contexts with addDependencies; `{"detail": ...}` is `message`.

const notAuthenticated = { statusCode: 401, error: 'Unauthorized', message: 'Not authenticated' }
const createAccount = { msg: 'Create an account first' }

async function documented (t: Test): Promise<FastifyInstance> {
  const app = await build(t)
  await app.register(swagger, { openapi: { info: { title: 't', version: '1' } } })
  return app
}

function documentOf (app: FastifyInstance): Document {
  return app.swagger() as unknown as Document
}

async function tokenApp (t: Test, scheme: Dependency<string | undefined>) {
  const app = await documented(t)
  app.get('/items/', { dependencies: { token: Security(scheme) } }, async (request) =>
    request.deps.token === undefined ? createAccount : { token: request.deps.token })
  await app.ready()
  return app
}

async function expectResponse (t: Test, app: FastifyInstance, authorization: string | undefined, status: number, body: unknown, challenge?: string) {
  const res = await app.inject({ url: '/items/', headers: authorization === undefined ? {} : { authorization } })
  t.equal(res.statusCode, status)
  t.same(res.json(), body)
  t.equal(res.headers['www-authenticate'], challenge)
}

for (const description of [undefined, 'OAuth2 Code Bearer']) {
  const file = `tests/test_security_oauth2_authorization_code_bearer${description === undefined ? '' : '_description'}.py`
  const scheme = () => OAuth2AuthorizationCodeBearer({ authorizationUrl: 'authorize', tokenUrl: 'token', autoError: true, description })

  // ported from tests/test_security_oauth2_authorization_code_bearer{,_description}.py test_no_token
  test(`${file} test_no_token: no token is 401 Bearer`, async (t) => {
    await expectResponse(t, await tokenApp(t, scheme()), undefined, 401, notAuthenticated, 'Bearer')
  })
  // ported from tests/test_security_oauth2_authorization_code_bearer{,_description}.py test_incorrect_token
  test(`${file} test_incorrect_token: another scheme is 401 Bearer`, async (t) => {
    await expectResponse(t, await tokenApp(t, scheme()), 'Non-existent testtoken', 401, notAuthenticated, 'Bearer')
  })
  // ported from tests/test_security_oauth2_authorization_code_bearer{,_description}.py test_token
  test(`${file} test_token: the bearer token is the value`, async (t) => {
    await expectResponse(t, await tokenApp(t, scheme()), 'Bearer testtoken', 200, { token: 'testtoken' })
  })
  if (description === undefined) {
    // ported from tests/test_security_oauth2_authorization_code_bearer.py test_token_with_whitespaces
    test(`${file} test_token_with_whitespaces: the token is trimmed`, async (t) => {
      await expectResponse(t, await tokenApp(t, scheme()), 'Bearer  testtoken ', 200, { token: 'testtoken' })
    })
  }
  // ported from tests/test_security_oauth2_authorization_code_bearer{,_description}.py test_openapi_schema
  test(`${file} test_openapi_schema: the authorization code flow is documented`, async (t) => {
    const document = documentOf(await tokenApp(t, scheme()))
    t.strictSame(document.paths['/items/'].get.security, [{ OAuth2AuthorizationCodeBearer: [] }])
    t.strictSame(document.components.securitySchemes, {
      OAuth2AuthorizationCodeBearer: {
        type: 'oauth2',
        ...(description === undefined ? {} : { description }),
        flows: { authorizationCode: { scopes: {}, authorizationUrl: 'authorize', tokenUrl: 'token' } }
      }
    })
  })
}

/** tests/test_security_oauth2_authorization_code_bearer_scopes_openapi.py (FastAPI issue 14454) */
async function scopesApp (t: Test) {
  const oauth2Scheme = OAuth2AuthorizationCodeBearer({ authorizationUrl: 'authorize', tokenUrl: 'token', autoError: true, scopes: { read: 'Read access', write: 'Write access' } })
  const getToken = depends({ token: oauth2Scheme }, ({ token }) => token, { name: 'getToken' })
  const app = await build(t, { dependencies: [getToken] })
  await app.register(swagger, { openapi: { info: { title: 't', version: '1' } } })
  app.get('/', async () => ({ message: 'Hello World' }))
  app.get('/with-oauth2-scheme', { dependencies: [Security(oauth2Scheme, ['read', 'write'])] }, async () => ({ message: 'Admin Access' }))
  app.get('/with-get-token', { dependencies: [Security(getToken, ['read', 'write'])] }, async () => ({ message: 'Admin Access' }))
  await app.register(async (router) => {
    router.addDependencies([Security(oauth2Scheme, ['read'])])
    router.get('/items/', { dependencies: { token: oauth2Scheme } }, async (request) => ({ token: request.deps.token }))
    router.post('/items/', { dependencies: { token: Security(oauth2Scheme, ['read', 'write']) } }, async (request) => ({ token: request.deps.token }))
  })
  await app.ready()
  return app
}

const scopesCases: Array<[string, 'GET' | 'POST', string, unknown]> = [
  ['test_root', 'GET', '/', { message: 'Hello World' }],
  ['test_read_with_oauth2_scheme', 'GET', '/with-oauth2-scheme', { message: 'Admin Access' }],
  ['test_read_with_get_token', 'GET', '/with-get-token', { message: 'Admin Access' }],
  ['test_read_token', 'GET', '/items/', { token: 'testtoken' }],
  ['test_create_token', 'POST', '/items/', { token: 'testtoken' }]
]
for (const [name, method, url, body] of scopesCases) {
  // ported from tests/test_security_oauth2_authorization_code_bearer_scopes_openapi.py test_root, test_read_with_oauth2_scheme, test_read_with_get_token, test_read_token, test_create_token
  test(`test_security_oauth2_authorization_code_bearer_scopes_openapi.py ${name}: ${method} ${url} with a bearer token`, async (t) => {
    const app = await scopesApp(t)
    const res = await app.inject({ method, url, headers: { authorization: 'Bearer testtoken' } })
    t.equal(res.statusCode, 200)
    t.same(res.json(), body)
  })
}

// ported from tests/test_security_oauth2_authorization_code_bearer_scopes_openapi.py test_openapi_schema
test('one scheme reached from the plugin, a context and the route is one requirement with the merged scopes', async (t) => {
  const document = documentOf(await scopesApp(t))
  const security = (url: string, method: string) => document.paths[url][method].security
  t.strictSame(security('/', 'get'), [{ OAuth2AuthorizationCodeBearer: [] }])
  t.strictSame(security('/with-oauth2-scheme', 'get'), [{ OAuth2AuthorizationCodeBearer: ['read', 'write'] }])
  t.strictSame(security('/with-get-token', 'get'), [{ OAuth2AuthorizationCodeBearer: ['read', 'write'] }])
  t.strictSame(security('/items/', 'get'), [{ OAuth2AuthorizationCodeBearer: ['read'] }])
  t.strictSame(security('/items/', 'post'), [{ OAuth2AuthorizationCodeBearer: ['read', 'write'] }])
  t.strictSame(document.components.securitySchemes, {
    OAuth2AuthorizationCodeBearer: {
      type: 'oauth2',
      flows: { authorizationCode: { scopes: { read: 'Read access', write: 'Write access' }, authorizationUrl: 'authorize', tokenUrl: 'token' } }
    }
  })
})

async function simpleScopesApp (t: Test) {
  const oauth2Scheme = OAuth2AuthorizationCodeBearer({ authorizationUrl: 'api/oauth/authorize', tokenUrl: '/api/oauth/token', scopes: { read: 'Read access', write: 'Write access' } })
  const getToken = depends({ token: oauth2Scheme }, ({ token }) => token, { name: 'getToken' })
  const app = await build(t, { dependencies: [getToken] })
  await app.register(swagger, { openapi: { info: { title: 't', version: '1' } } })
  app.get('/admin', { dependencies: [Security(getToken, ['read', 'write'])] }, async () => ({ message: 'Admin Access' }))
  await app.ready()
  return app
}

// ported from tests/test_security_oauth2_authorization_code_bearer_scopes_openapi_simple.py test_read_admin
test('a dependency used by the plugin and, with scopes, by the route serves the route', async (t) => {
  const app = await simpleScopesApp(t)
  const res = await app.inject({ url: '/admin', headers: { authorization: 'Bearer faketoken' } })
  t.equal(res.statusCode, 200)
  t.same(res.json(), { message: 'Admin Access' })
})

// ported from tests/test_security_oauth2_authorization_code_bearer_scopes_openapi_simple.py test_openapi_schema
test('the route\'s scopes on a plugin-level dependency land in the one requirement', async (t) => {
  const document = documentOf(await simpleScopesApp(t))
  t.strictSame(document.paths['/admin'].get.security, [{ OAuth2AuthorizationCodeBearer: ['read', 'write'] }])
  t.strictSame(document.components.securitySchemes, {
    OAuth2AuthorizationCodeBearer: {
      type: 'oauth2',
      flows: { authorizationCode: { scopes: { read: 'Read access', write: 'Write access' }, authorizationUrl: 'api/oauth/authorize', tokenUrl: '/api/oauth/token' } }
    }
  })
})

for (const description of [undefined, 'OAuth2PasswordBearer security scheme']) {
  const file = `tests/test_security_oauth2_password_bearer_optional${description === undefined ? '' : '_description'}.py`
  const scheme = () => OAuth2PasswordBearer({ tokenUrl: '/token', autoError: false, description })
  // ported from tests/test_security_oauth2_password_bearer_optional{,_description}.py test_no_token
  test(`${file} test_no_token: no token is an undefined value`, async (t) => {
    await expectResponse(t, await tokenApp(t, scheme()), undefined, 200, createAccount)
  })
  // ported from tests/test_security_oauth2_password_bearer_optional{,_description}.py test_token
  test(`${file} test_token: the bearer token is the value`, async (t) => {
    await expectResponse(t, await tokenApp(t, scheme()), 'Bearer testtoken', 200, { token: 'testtoken' })
  })
  // ported from tests/test_security_oauth2_password_bearer_optional{,_description}.py test_incorrect_token
  test(`${file} test_incorrect_token: another scheme is an undefined value`, async (t) => {
    await expectResponse(t, await tokenApp(t, scheme()), 'Notexistent testtoken', 200, createAccount)
  })
  // ported from tests/test_security_oauth2_password_bearer_optional{,_description}.py test_openapi_schema
  test(`${file} test_openapi_schema: the password flow is documented`, async (t) => {
    const document = documentOf(await tokenApp(t, scheme()))
    t.strictSame(document.paths['/items/'].get.security, [{ OAuth2PasswordBearer: [] }])
    t.strictSame(document.components.securitySchemes, {
      OAuth2PasswordBearer: { type: 'oauth2', ...(description === undefined ? {} : { description }), flows: { password: { scopes: {}, tokenUrl: '/token' } } }
    })
  })
}

for (const variant of ['', '_description', '_optional']) {
  const file = `tests/test_security_openid_connect${variant}.py`
  const description = variant === '_description' ? 'OpenIdConnect security scheme' : undefined
  const scheme = () => OpenIdConnect({ openIdConnectUrl: '/openid', description, autoError: variant !== '_optional' })
  async function userApp (t: Test) {
    const oid = scheme()
    const getCurrentUser = depends({ oauthHeader: Security(oid) }, ({ oauthHeader }) =>
      oauthHeader === undefined ? null : { username: oauthHeader }, { name: 'getCurrentUser' })
    const app = await documented(t)
    app.get('/users/me', { dependencies: { currentUser: getCurrentUser } }, async (request) => request.deps.currentUser ?? createAccount)
    await app.ready()
    return app
  }
  const user = async (app: FastifyInstance, authorization?: string) => {
    const res = await app.inject({ url: '/users/me', headers: authorization === undefined ? {} : { authorization } })
    return [res.statusCode, res.json(), res.headers['www-authenticate']]
  }
  // ported from tests/test_security_openid_connect{,_description,_optional}.py test_security_oauth2
  test(`${file} test_security_oauth2: the whole Authorization header is the value`, async (t) => {
    t.same(await user(await userApp(t), 'Bearer footokenbar'), [200, { username: 'Bearer footokenbar' }, undefined])
  })
  // ported from tests/test_security_openid_connect{,_description,_optional}.py test_security_oauth2_password_other_header
  test(`${file} test_security_oauth2_password_other_header: any scheme is accepted`, async (t) => {
    t.same(await user(await userApp(t), 'Other footokenbar'), [200, { username: 'Other footokenbar' }, undefined])
  })
  // ported from tests/test_security_openid_connect{,_description,_optional}.py test_security_oauth2_password_bearer_no_header
  test(`${file} test_security_oauth2_password_bearer_no_header: no header is ${variant === '_optional' ? 'an undefined value' : '401 Bearer'}`, async (t) => {
    const expected = variant === '_optional' ? [200, createAccount, undefined] : [401, notAuthenticated, 'Bearer']
    t.same(await user(await userApp(t)), expected)
  })
  // ported from tests/test_security_openid_connect{,_description,_optional}.py test_openapi_schema
  test(`${file} test_openapi_schema: the OpenID Connect URL is documented`, async (t) => {
    const document = documentOf(await userApp(t))
    t.strictSame(document.paths['/users/me'].get.security, [{ OpenIdConnect: [] }])
    t.strictSame(document.components.securitySchemes, {
      OpenIdConnect: { type: 'openIdConnect', ...(description === undefined ? {} : { description }), openIdConnectUrl: '/openid' }
    })
  })
}
