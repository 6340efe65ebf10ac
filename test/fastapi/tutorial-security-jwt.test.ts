import { randomBytes, scryptSync, timingSafeEqual } from 'node:crypto'
import formbody from '@fastify/formbody'
import swagger from '@fastify/swagger'
import type { FastifyInstance } from 'fastify'
import { test, type Test } from 'tap'
import { build } from '../helpers'
import { depends, httpError, Security, OAuth2PasswordBearer, OAuth2PasswordRequestForm, type OAuth2PasswordRequest } from '../../lib/index'

// Ported from FastAPI's tests/test_tutorial/test_security/test_tutorial004.py (JWT access tokens)
// and test_tutorial005.py (the same with OAuth2 scopes checked against ctx.securityScopes).
// JWTs are signed with jose, passwords hashed with scrypt (FastAPI's tutorial: PyJWT, pwdlib).
// `{"detail": ...}` is Fastify's error body `message`.

const jose = import('jose')
const secret = new TextEncoder().encode('09d25e094faa6ca2556c818166b7a9563b93f7099f6f0f4caa6cf63b88e8d3e7')

async function sign (claims: Record<string, unknown>): Promise<string> {
  const { SignJWT } = await jose
  return new SignJWT(claims).setProtectedHeader({ alg: 'HS256' }).setExpirationTime('30m').sign(secret)
}

function hashPassword (password: string): string {
  const salt = randomBytes(16)
  return `${salt.toString('hex')}:${scryptSync(password, salt, 32).toString('hex')}`
}

function verifyPassword (password: string, hashed: string): boolean {
  const [salt, hash] = hashed.split(':')
  return timingSafeEqual(scryptSync(password, Buffer.from(salt, 'hex'), 32), Buffer.from(hash, 'hex'))
}

interface UserInDB { username: string, full_name: string, email: string, hashed_password: string, disabled: boolean }
const johndoe: UserInDB = { username: 'johndoe', full_name: 'John Doe', email: 'johndoe@example.com', hashed_password: hashPassword('secret'), disabled: false }
const alice: UserInDB = { username: 'alice', full_name: 'Alice Chains', email: 'alicechains@example.com', hashed_password: hashPassword('secretalice'), disabled: true }
const dummyHash = hashPassword('dummypassword')

const publicUser = ({ username, full_name: fullName, email, disabled }: UserInDB) => ({ username, full_name: fullName, email, disabled })
const error = (statusCode: number, message: string) => ({ statusCode, error: statusCode === 400 ? 'Bad Request' : 'Unauthorized', message })

/** Tutorial 004 (`scoped: false`) or 005 (`scoped: true`). */
async function jwtApp (t: Test, scoped: boolean) {
  const db: Record<string, UserInDB> = scoped ? { johndoe, alice } : { johndoe }
  const oauth2Scheme = OAuth2PasswordBearer({ tokenUrl: 'token', ...(scoped ? { scopes: { me: 'Read information about the current user.', items: 'Read items.' } } : {}) })
  const getCurrentUser = depends({ token: oauth2Scheme }, async ({ token }, { securityScopes }) => {
    const authenticateValue = securityScopes.scopes.length > 0 ? `Bearer scope="${securityScopes.scopeStr}"` : 'Bearer'
    const credentialsException = httpError(401, 'Could not validate credentials', { 'www-authenticate': authenticateValue })
    let payload: Record<string, unknown>
    try {
      const { jwtVerify } = await jose
      payload = (await jwtVerify(token as string, secret, { algorithms: ['HS256'] })).payload
    } catch {
      throw credentialsException
    }
    if (typeof payload.sub !== 'string') throw credentialsException
    const user = db[payload.sub]
    if (user === undefined) throw credentialsException
    const tokenScopes = String(payload.scope ?? '').split(' ')
    for (const scope of securityScopes.scopes) {
      if (!tokenScopes.includes(scope)) throw httpError(401, 'Not enough permissions', { 'www-authenticate': authenticateValue })
    }
    return user
  }, { name: 'getCurrentUser', usesScopes: scoped })
  const getCurrentActiveUser = depends({ currentUser: scoped ? Security(getCurrentUser, ['me']) : getCurrentUser }, ({ currentUser }) => {
    if (currentUser.disabled) throw httpError(400, 'Inactive user')
    return currentUser
  }, { name: 'getCurrentActiveUser' })

  const app = await build(t)
  await app.register(formbody)
  await app.register(swagger, { openapi: { info: { title: 't', version: '1' } } })
  app.post('/token', { dependencies: { formData: OAuth2PasswordRequestForm } }, async (request) => {
    const { username, password, scopes } = request.deps.formData as OAuth2PasswordRequest
    const user = db[username]
    const valid = user === undefined ? (verifyPassword(password, dummyHash), false) : verifyPassword(password, user.hashed_password)
    if (!valid) {
      throw scoped
        ? httpError(400, 'Incorrect username or password')
        : httpError(401, 'Incorrect username or password', { 'www-authenticate': 'Bearer' })
    }
    return { access_token: await sign({ sub: username, ...(scoped ? { scope: scopes.join(' ') } : {}) }), token_type: 'bearer' }
  })
  app.get('/users/me/', { dependencies: { currentUser: getCurrentActiveUser } }, async (request) => publicUser(request.deps.currentUser as UserInDB))
  app.get('/users/me/items/', { dependencies: { currentUser: scoped ? Security(getCurrentActiveUser, ['items']) : getCurrentActiveUser } }, async (request) =>
    [{ item_id: 'Foo', owner: (request.deps.currentUser as UserInDB).username }])
  if (scoped) app.get('/status/', { dependencies: { currentUser: getCurrentUser } }, async () => ({ status: 'ok' }))
  await app.ready()
  return { app, db }
}

async function login (app: FastifyInstance, form: string) {
  const res = await app.inject({ method: 'POST', url: '/token', payload: form, headers: { 'content-type': 'application/x-www-form-urlencoded' } })
  return { status: res.statusCode, body: res.json(), challenge: res.headers['www-authenticate'] }
}

async function get (app: FastifyInstance, url: string, authorization?: string) {
  const res = await app.inject({ url, headers: authorization === undefined ? {} : { authorization } })
  return { status: res.statusCode, body: res.json(), challenge: res.headers['www-authenticate'] }
}

async function accessToken (app: FastifyInstance, form = 'username=johndoe&password=secret') {
  return `Bearer ${(await login(app, form)).body.access_token as string}`
}

for (const scoped of [false, true]) {
  const file = scoped ? 'tutorial005' : 'tutorial004'
  // 004 answers 401 to a wrong login, 005 answers 400; 005 challenges with the route's scopes
  const badLogin = scoped ? { status: 400, body: error(400, 'Incorrect username or password'), challenge: undefined } : { status: 401, body: error(401, 'Incorrect username or password'), challenge: 'Bearer' }
  const challenge = scoped ? 'Bearer scope="me"' : 'Bearer'
  const meScope = scoped ? '&scope=me' : ''

  // ported from tests/test_tutorial/test_security/test_tutorial004.py / test_tutorial005.py test_login
  test(`security ${file} test_login: the password form issues a bearer JWT`, async (t) => {
    const { app } = await jwtApp(t, scoped)
    const res = await login(app, 'username=johndoe&password=secret')
    t.equal(res.status, 200)
    t.equal(res.body.token_type, 'bearer')
    t.match(res.body.access_token, /^[\w-]+\.[\w-]+\.[\w-]+$/)
  })

  // ported from tests/test_tutorial/test_security/test_tutorial004.py / test_tutorial005.py test_login_incorrect_password, test_login_incorrect_username
  for (const [name, form] of [['test_login_incorrect_password', 'username=johndoe&password=incorrect'], ['test_login_incorrect_username', 'username=foo&password=secret']]) {
    test(`security ${file} ${name}: the login is refused`, async (t) => {
      t.same(await login((await jwtApp(t, scoped)).app, form), badLogin)
    })
  }

  // ported from tests/test_tutorial/test_security/test_tutorial004.py / test_tutorial005.py test_no_token
  test(`security ${file} test_no_token: no token is 401 Not authenticated`, async (t) => {
    t.same(await get((await jwtApp(t, scoped)).app, '/users/me/'), { status: 401, body: error(401, 'Not authenticated'), challenge: 'Bearer' })
  })

  // ported from tests/test_tutorial/test_security/test_tutorial004.py / test_tutorial005.py test_token
  test(`security ${file} test_token: the token's user is served`, async (t) => {
    const { app } = await jwtApp(t, scoped)
    t.same(await get(app, '/users/me/', await accessToken(app, `username=johndoe&password=secret${meScope}`)), { status: 200, body: publicUser(johndoe), challenge: undefined })
  })

  // ported from tests/test_tutorial/test_security/test_tutorial004.py / test_tutorial005.py test_incorrect_token
  test(`security ${file} test_incorrect_token: a token that is not a JWT cannot be validated`, async (t) => {
    t.same(await get((await jwtApp(t, scoped)).app, '/users/me/', 'Bearer nonexistent'), { status: 401, body: error(401, 'Could not validate credentials'), challenge })
  })

  // ported from tests/test_tutorial/test_security/test_tutorial004.py / test_tutorial005.py test_incorrect_token_type
  test(`security ${file} test_incorrect_token_type: another scheme is 401 Not authenticated`, async (t) => {
    t.same(await get((await jwtApp(t, scoped)).app, '/users/me/', 'Notexistent testtoken'), { status: 401, body: error(401, 'Not authenticated'), challenge: 'Bearer' })
  })

  // ported from tests/test_tutorial/test_security/test_tutorial004.py / test_tutorial005.py test_token_no_sub, test_token_no_username, test_token_nonexistent_user
  const claims: Array<[string, Record<string, unknown>]> = [['test_token_no_sub', { data: 'foo' }], ['test_token_no_username', { sub: 'foo' }], ['test_token_nonexistent_user', { sub: 'username:bob' }]]
  for (const [name, payload] of claims) {
    test(`security ${file} ${name}: a valid JWT without a known user cannot be validated`, async (t) => {
      t.same(await get((await jwtApp(t, scoped)).app, '/users/me/', `Bearer ${await sign(payload)}`), { status: 401, body: error(401, 'Could not validate credentials'), challenge })
    })
  }

  // ported from tests/test_tutorial/test_security/test_tutorial004.py / test_tutorial005.py test_token_inactive_user
  test(`security ${file} test_token_inactive_user: a disabled user is 400 Inactive user`, async (t) => {
    const { app, db } = await jwtApp(t, scoped)
    db.alice = alice
    const token = await accessToken(app, `username=alice&password=secretalice${meScope}`)
    t.same(await get(app, '/users/me/', token), { status: 400, body: error(400, 'Inactive user'), challenge: undefined })
  })

  // ported from tests/test_tutorial/test_security/test_tutorial004.py / test_tutorial005.py test_read_items
  test(`security ${file} test_read_items: the user's items`, async (t) => {
    const { app } = await jwtApp(t, scoped)
    const token = await accessToken(app, `username=johndoe&password=secret${scoped ? '&scope=me%20items' : ''}`)
    t.same(await get(app, '/users/me/items/', token), { status: 200, body: [{ item_id: 'Foo', owner: 'johndoe' }], challenge: undefined })
  })

  // ported from tests/test_tutorial/test_security/test_tutorial004.py / test_tutorial005.py test_openapi_schema
  test(`security ${file} test_openapi_schema: every route documents the scheme with the scopes of its tree`, async (t) => {
    const { app } = await jwtApp(t, scoped)
    const document = app.swagger() as unknown as { paths: Record<string, Record<string, { security?: unknown }>>, components: { securitySchemes?: unknown } }
    t.notOk('security' in document.paths['/token'].post)
    t.strictSame(document.paths['/users/me/'].get.security, [{ OAuth2PasswordBearer: scoped ? ['me'] : [] }])
    t.strictSame(document.paths['/users/me/items/'].get.security, [{ OAuth2PasswordBearer: scoped ? ['items', 'me'] : [] }])
    if (scoped) t.strictSame(document.paths['/status/'].get.security, [{ OAuth2PasswordBearer: [] }])
    t.strictSame(document.components.securitySchemes, {
      OAuth2PasswordBearer: {
        type: 'oauth2',
        flows: { password: { scopes: scoped ? { me: 'Read information about the current user.', items: 'Read items.' } : {}, tokenUrl: 'token' } }
      }
    })
  })
}

// ported from tests/test_tutorial/test_security/test_tutorial005.py test_token_no_scope
test('security tutorial005 test_token_no_scope: a token without the route\'s scope is 401 Not enough permissions', async (t) => {
  const { app } = await jwtApp(t, true)
  t.same(await get(app, '/users/me/', await accessToken(app)), { status: 401, body: error(401, 'Not enough permissions'), challenge: 'Bearer scope="me"' })
})

// ported from tests/test_tutorial/test_security/test_tutorial005.py test_read_system_status
test('security tutorial005 test_read_system_status: a route without scopes accepts a token without scopes', async (t) => {
  const { app } = await jwtApp(t, true)
  t.same(await get(app, '/status/', await accessToken(app)), { status: 200, body: { status: 'ok' }, challenge: undefined })
})

// ported from tests/test_tutorial/test_security/test_tutorial005.py test_read_system_status_no_token
test('security tutorial005 test_read_system_status_no_token: no token is 401', async (t) => {
  t.same(await get((await jwtApp(t, true)).app, '/status/'), { status: 401, body: error(401, 'Not authenticated'), challenge: 'Bearer' })
})
