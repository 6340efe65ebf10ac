import { timingSafeEqual } from 'node:crypto'
import formbody from '@fastify/formbody'
import swagger from '@fastify/swagger'
import type { FastifyInstance } from 'fastify'
import { test, type Test } from 'tap'
import { build } from '../helpers'
import { depends, httpError, HTTPBasic, OAuth2PasswordBearer, OAuth2PasswordRequestForm } from '../../lib/index'

// Ported from FastAPI's tests/test_tutorial/test_security/test_tutorial001.py, 002, 003, 006 and
// 007: the bearer token, a current-user dependency, the password form with fake tokens, and HTTP
// Basic. FastAPI runs each against several equivalent tutorial variants; here there is one app
// per tutorial. `{"detail": ...}` is Fastify's error body `message`.

interface Operation { security?: unknown, requestBody?: unknown }
interface Document { paths: Record<string, Record<string, Operation>>, components: { securitySchemes?: unknown } }

const notAuthenticated = { statusCode: 401, error: 'Unauthorized', message: 'Not authenticated' }

async function documented (t: Test): Promise<FastifyInstance> {
  const app = await build(t)
  await app.register(formbody)
  await app.register(swagger, { openapi: { info: { title: 't', version: '1' } } })
  return app
}

async function get (app: FastifyInstance, url: string, authorization?: string) {
  const res = await app.inject({ url, headers: authorization === undefined ? {} : { authorization } })
  return { status: res.statusCode, body: res.json(), challenge: res.headers['www-authenticate'] }
}

async function tutorial001 (t: Test) {
  const oauth2Scheme = OAuth2PasswordBearer({ tokenUrl: 'token' })
  const app = await documented(t)
  app.get('/items/', { dependencies: { token: oauth2Scheme } }, async (request) => ({ token: request.deps.token }))
  await app.ready()
  return app
}

// ported from tests/test_tutorial/test_security/test_tutorial001.py test_no_token
test('security tutorial001 test_no_token: a route needing the bearer token answers 401 without one', async (t) => {
  t.same(await get(await tutorial001(t), '/items/'), { status: 401, body: notAuthenticated, challenge: 'Bearer' })
})

// ported from tests/test_tutorial/test_security/test_tutorial001.py test_token
test('security tutorial001 test_token: the token is the value', async (t) => {
  t.same(await get(await tutorial001(t), '/items/', 'Bearer testtoken'), { status: 200, body: { token: 'testtoken' }, challenge: undefined })
})

// ported from tests/test_tutorial/test_security/test_tutorial001.py test_incorrect_token
test('security tutorial001 test_incorrect_token: another scheme answers 401', async (t) => {
  t.same(await get(await tutorial001(t), '/items/', 'Notexistent testtoken'), { status: 401, body: notAuthenticated, challenge: 'Bearer' })
})

// ported from tests/test_tutorial/test_security/test_tutorial001.py test_openapi_schema
test('security tutorial001 test_openapi_schema: the password flow is documented and required', async (t) => {
  const document = (await tutorial001(t)).swagger() as unknown as Document
  t.strictSame(document.paths['/items/'].get.security, [{ OAuth2PasswordBearer: [] }])
  t.strictSame(document.components.securitySchemes, { OAuth2PasswordBearer: { type: 'oauth2', flows: { password: { scopes: {}, tokenUrl: 'token' } } } })
})

async function tutorial002 (t: Test) {
  const oauth2Scheme = OAuth2PasswordBearer({ tokenUrl: 'token' })
  const fakeDecodeToken = (token: string) => ({ username: `${token}fakedecoded`, email: 'john@example.com', full_name: 'John Doe', disabled: null })
  const getCurrentUser = depends({ token: oauth2Scheme }, async ({ token }) => fakeDecodeToken(token as string), { name: 'getCurrentUser' })
  const app = await documented(t)
  app.get('/users/me', { dependencies: { currentUser: getCurrentUser } }, async (request) => request.deps.currentUser)
  await app.ready()
  return app
}

// ported from tests/test_tutorial/test_security/test_tutorial002.py test_no_token
test('security tutorial002 test_no_token: the scheme below the current user answers 401', async (t) => {
  t.same(await get(await tutorial002(t), '/users/me'), { status: 401, body: notAuthenticated, challenge: 'Bearer' })
})

// ported from tests/test_tutorial/test_security/test_tutorial002.py test_token
test('security tutorial002 test_token: the current user is decoded from the token', async (t) => {
  const res = await get(await tutorial002(t), '/users/me', 'Bearer testtoken')
  t.same(res, { status: 200, body: { username: 'testtokenfakedecoded', email: 'john@example.com', full_name: 'John Doe', disabled: null }, challenge: undefined })
})

// ported from tests/test_tutorial/test_security/test_tutorial002.py test_openapi_schema
test('security tutorial002 test_openapi_schema: a scheme under a dependency is documented on the route', async (t) => {
  const document = (await tutorial002(t)).swagger() as unknown as Document
  t.strictSame(document.paths['/users/me'].get.security, [{ OAuth2PasswordBearer: [] }])
})

interface UserInDB { username: string, full_name: string, email: string, hashed_password: string, disabled: boolean }
const fakeUsersDb: Record<string, UserInDB> = {
  johndoe: { username: 'johndoe', full_name: 'John Doe', email: 'johndoe@example.com', hashed_password: 'fakehashedsecret', disabled: false },
  alice: { username: 'alice', full_name: 'Alice Wonderson', email: 'alice@example.com', hashed_password: 'fakehashedsecret2', disabled: true }
}

async function tutorial003 (t: Test) {
  const oauth2Scheme = OAuth2PasswordBearer({ tokenUrl: 'token' })
  const getCurrentUser = depends({ token: oauth2Scheme }, async ({ token }) => {
    const user = fakeUsersDb[token as string]
    if (user === undefined) throw httpError(401, 'Not authenticated', { 'www-authenticate': 'Bearer' })
    return user
  }, { name: 'getCurrentUser' })
  const getCurrentActiveUser = depends({ currentUser: getCurrentUser }, ({ currentUser }) => {
    if (currentUser.disabled) throw httpError(400, 'Inactive user')
    return currentUser
  }, { name: 'getCurrentActiveUser' })
  const app = await documented(t)
  app.post('/token', { dependencies: { formData: OAuth2PasswordRequestForm } }, async (request) => {
    const { username, password } = request.deps.formData as { username: string, password: string }
    const user = fakeUsersDb[username]
    if (user === undefined || user.hashed_password !== `fakehashed${password}`) throw httpError(400, 'Incorrect username or password')
    return { access_token: user.username, token_type: 'bearer' }
  })
  app.get('/users/me', { dependencies: { currentUser: getCurrentActiveUser } }, async (request) => request.deps.currentUser)
  await app.ready()
  return app
}

async function login (app: FastifyInstance, form: string) {
  const res = await app.inject({ method: 'POST', url: '/token', payload: form, headers: { 'content-type': 'application/x-www-form-urlencoded' } })
  return { status: res.statusCode, body: res.json() }
}

// ported from tests/test_tutorial/test_security/test_tutorial003.py test_login
test('security tutorial003 test_login: the password form logs in', async (t) => {
  t.same(await login(await tutorial003(t), 'username=johndoe&password=secret'), { status: 200, body: { access_token: 'johndoe', token_type: 'bearer' } })
})

// ported from tests/test_tutorial/test_security/test_tutorial003.py test_login_incorrect_password
test('security tutorial003 test_login_incorrect_password: a wrong password is 400', async (t) => {
  t.same(await login(await tutorial003(t), 'username=johndoe&password=incorrect'), { status: 400, body: { statusCode: 400, error: 'Bad Request', message: 'Incorrect username or password' } })
})

// ported from tests/test_tutorial/test_security/test_tutorial003.py test_login_incorrect_username
test('security tutorial003 test_login_incorrect_username: an unknown user is 400', async (t) => {
  t.same(await login(await tutorial003(t), 'username=foo&password=secret'), { status: 400, body: { statusCode: 400, error: 'Bad Request', message: 'Incorrect username or password' } })
})

// ported from tests/test_tutorial/test_security/test_tutorial003.py test_no_token
test('security tutorial003 test_no_token: no token is 401', async (t) => {
  t.same(await get(await tutorial003(t), '/users/me'), { status: 401, body: notAuthenticated, challenge: 'Bearer' })
})

// ported from tests/test_tutorial/test_security/test_tutorial003.py test_token
test('security tutorial003 test_token: the active user of the token is served', async (t) => {
  t.same(await get(await tutorial003(t), '/users/me', 'Bearer johndoe'), { status: 200, body: fakeUsersDb.johndoe, challenge: undefined })
})

// ported from tests/test_tutorial/test_security/test_tutorial003.py test_incorrect_token
test('security tutorial003 test_incorrect_token: the dependency\'s httpError keeps its WWW-Authenticate header', async (t) => {
  t.same(await get(await tutorial003(t), '/users/me', 'Bearer nonexistent'), { status: 401, body: notAuthenticated, challenge: 'Bearer' })
})

// ported from tests/test_tutorial/test_security/test_tutorial003.py test_incorrect_token_type
test('security tutorial003 test_incorrect_token_type: another scheme is 401', async (t) => {
  t.same(await get(await tutorial003(t), '/users/me', 'Notexistent testtoken'), { status: 401, body: notAuthenticated, challenge: 'Bearer' })
})

// ported from tests/test_tutorial/test_security/test_tutorial003.py test_inactive_user
test('security tutorial003 test_inactive_user: the active-user dependency answers 400', async (t) => {
  t.same(await get(await tutorial003(t), '/users/me', 'Bearer alice'), { status: 400, body: { statusCode: 400, error: 'Bad Request', message: 'Inactive user' }, challenge: undefined })
})

// ported from tests/test_tutorial/test_security/test_tutorial003.py test_openapi_schema
test('security tutorial003 test_openapi_schema: the token route documents the form, /users/me the scheme', async (t) => {
  const document = (await tutorial003(t)).swagger() as unknown as Document
  t.match(document.paths['/token'].post.requestBody, { content: { 'application/x-www-form-urlencoded': { schema: { required: ['username', 'password'] } } } })
  t.notOk('security' in document.paths['/token'].post)
  t.strictSame(document.paths['/users/me'].get.security, [{ OAuth2PasswordBearer: [] }])
})

const basic = (credentials: string) => `Basic ${Buffer.from(credentials).toString('base64')}`

async function tutorial006 (t: Test) {
  const security = HTTPBasic()
  const app = await documented(t)
  app.get('/users/me', { dependencies: { credentials: security } }, async (request) => request.deps.credentials)
  await app.ready()
  return app
}

/** Rows shared by tutorials 006 and 007: [test function, Authorization, status, body] */
const basicRows: Array<[string, string | undefined, number, unknown]> = [
  ['test_security_http_basic_no_credentials', undefined, 401, notAuthenticated],
  ['test_security_http_basic_invalid_credentials', 'Basic notabase64token', 401, notAuthenticated],
  ['test_security_http_basic_non_basic_credentials', basic('johnsecret'), 401, notAuthenticated]
]

// ported from tests/test_tutorial/test_security/test_tutorial006.py test_security_http_basic
test('security tutorial006 test_security_http_basic: the credentials are the value', async (t) => {
  t.same(await get(await tutorial006(t), '/users/me', basic('john:secret')), { status: 200, body: { username: 'john', password: 'secret' }, challenge: undefined })
})

for (const [name, authorization, status, body] of basicRows) {
  // ported from tests/test_tutorial/test_security/test_tutorial006.py test_security_http_basic_no_credentials, _invalid_credentials, _non_basic_credentials
  test(`security tutorial006 ${name}: 401 Basic`, async (t) => {
    t.same(await get(await tutorial006(t), '/users/me', authorization), { status, body, challenge: 'Basic' })
  })
}

// ported from tests/test_tutorial/test_security/test_tutorial006.py test_openapi_schema
test('security tutorial006 test_openapi_schema: HTTP Basic is documented', async (t) => {
  const document = (await tutorial006(t)).swagger() as unknown as Document
  t.strictSame(document.paths['/users/me'].get.security, [{ HTTPBasic: [] }])
  t.strictSame(document.components.securitySchemes, { HTTPBasic: { type: 'http', scheme: 'basic' } })
})

async function tutorial007 (t: Test) {
  const security = HTTPBasic()
  const same = (given: string, expected: string) => {
    const a = Buffer.from(given)
    const b = Buffer.from(expected)
    return a.length === b.length && timingSafeEqual(a, b)
  }
  const getCurrentUsername = depends({ credentials: security }, ({ credentials }) => {
    const { username, password } = credentials as { username: string, password: string }
    const correctUsername = same(username, 'stanleyjobson')
    const correctPassword = same(password, 'swordfish')
    if (!(correctUsername && correctPassword)) throw httpError(401, 'Incorrect username or password', { 'www-authenticate': 'Basic' })
    return username
  }, { name: 'getCurrentUsername' })
  const app = await documented(t)
  app.get('/users/me', { dependencies: { username: getCurrentUsername } }, async (request) => ({ username: request.deps.username }))
  await app.ready()
  return app
}

// ported from tests/test_tutorial/test_security/test_tutorial007.py test_security_http_basic
test('security tutorial007 test_security_http_basic: the right credentials give the username', async (t) => {
  t.same(await get(await tutorial007(t), '/users/me', basic('stanleyjobson:swordfish')), { status: 200, body: { username: 'stanleyjobson' }, challenge: undefined })
})

for (const [name, authorization, status, body] of [
  ...basicRows,
  ['test_security_http_basic_invalid_username', basic('alice:swordfish'), 401, { ...notAuthenticated, message: 'Incorrect username or password' }],
  ['test_security_http_basic_invalid_password', basic('stanleyjobson:wrongpassword'), 401, { ...notAuthenticated, message: 'Incorrect username or password' }]
] as typeof basicRows) {
  // ported from tests/test_tutorial/test_security/test_tutorial007.py test_security_http_basic_no_credentials, _invalid_credentials, _non_basic_credentials, _invalid_username, _invalid_password
  test(`security tutorial007 ${name}: 401 Basic`, async (t) => {
    t.same(await get(await tutorial007(t), '/users/me', authorization), { status, body, challenge: 'Basic' })
  })
}

// ported from tests/test_tutorial/test_security/test_tutorial007.py test_openapi_schema
test('security tutorial007 test_openapi_schema: HTTP Basic under a dependency is documented on the route', async (t) => {
  const document = (await tutorial007(t)).swagger() as unknown as Document
  t.strictSame(document.paths['/users/me'].get.security, [{ HTTPBasic: [] }])
  t.strictSame(document.components.securitySchemes, { HTTPBasic: { type: 'http', scheme: 'basic' } })
})
