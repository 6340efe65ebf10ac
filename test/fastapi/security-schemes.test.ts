import swagger from '@fastify/swagger'
import { test, type Test } from 'tap'
import { build } from '../helpers'
import {
  depends, Security, APIKeyCookie, APIKeyHeader, APIKeyQuery, HTTPBase, HTTPBasic, HTTPBearer, HTTPDigest, type Dependency
} from '../../lib/index'

// Ported from FastAPI's nine tests/test_security_api_key_{cookie,header,query}{,_description,_optional}.py:
// test_security_api_key, test_security_api_key_no_key and test_openapi_schema of each.
// FastAPI's `{"detail": ...}` is Fastify's error body `message`.

interface Operation { security?: unknown, parameters?: unknown }
interface Document { paths: Record<string, Record<string, Operation>>, components: { securitySchemes?: unknown } }

type Location = 'cookie' | 'header' | 'query'
type Variant = '' | '_description' | '_optional'

const factories: Record<Location, (options: { name: string, description?: string, autoError?: boolean }) => Dependency<string | undefined>> = {
  cookie: APIKeyCookie,
  header: APIKeyHeader,
  query: APIKeyQuery
}
const schemeNames: Record<Location, string> = { cookie: 'APIKeyCookie', header: 'APIKeyHeader', query: 'APIKeyQuery' }
const descriptions: Record<Location, string> = { cookie: 'An API Cookie Key', header: 'An API Key Header', query: 'API Key Query' }

/** Sends the key "secret" where the scheme reads it. */
function withKey (location: Location): { url: string, headers?: Record<string, string> } {
  if (location === 'cookie') return { url: '/users/me', headers: { cookie: 'key=secret' } }
  if (location === 'header') return { url: '/users/me', headers: { key: 'secret' } }
  return { url: '/users/me?key=secret' }
}

async function apiKeyApp (t: Test, location: Location, variant: Variant) {
  const options = {
    name: 'key',
    ...(variant === '_description' ? { description: descriptions[location] } : {}),
    ...(variant === '_optional' ? { autoError: false } : {})
  }
  const apiKey = factories[location](options)
  const getCurrentUser = depends({ oauthHeader: Security(apiKey) }, ({ oauthHeader }) =>
    oauthHeader === undefined ? null : { username: oauthHeader }, { name: 'getCurrentUser' })
  const app = await build(t)
  await app.register(swagger, { openapi: { info: { title: 't', version: '1' } } })
  app.get('/users/me', { dependencies: { currentUser: getCurrentUser } }, async (request) =>
    request.deps.currentUser ?? { msg: 'Create an account first' })
  await app.ready()
  return app
}

for (const location of ['cookie', 'header', 'query'] as Location[]) {
  for (const variant of ['', '_description', '_optional'] as Variant[]) {
    const file = `tests/test_security_api_key_${location}${variant}.py`
    const schemeName = schemeNames[location]

    // ported from tests/test_security_api_key_{cookie,header,query}{,_description,_optional}.py test_security_api_key
    test(`${file} test_security_api_key: the ${location} key reaches the dependency`, async (t) => {
      const app = await apiKeyApp(t, location, variant)
      const res = await app.inject(withKey(location))
      t.equal(res.statusCode, 200)
      t.same(res.json(), { username: 'secret' })
    })

    // ported from tests/test_security_api_key_{cookie,header,query}{,_description,_optional}.py test_security_api_key_no_key
    test(`${file} test_security_api_key_no_key: without the ${location} key ${variant === '_optional' ? 'the value is undefined' : 'the answer is 401 APIKey'}`, async (t) => {
      const app = await apiKeyApp(t, location, variant)
      const res = await app.inject('/users/me')
      if (variant === '_optional') {
        t.equal(res.statusCode, 200)
        t.same(res.json(), { msg: 'Create an account first' })
      } else {
        t.equal(res.statusCode, 401)
        t.same(res.json(), { statusCode: 401, error: 'Unauthorized', message: 'Not authenticated' })
        t.equal(res.headers['www-authenticate'], 'APIKey')
      }
    })

    // ported from tests/test_security_api_key_{cookie,header,query}{,_description,_optional}.py test_openapi_schema
    test(`${file} test_openapi_schema: the scheme is documented once and required by the operation`, async (t) => {
      const app = await apiKeyApp(t, location, variant)
      const document = app.swagger() as unknown as Document
      const operation = document.paths['/users/me'].get
      t.strictSame(operation.security, [{ [schemeName]: [] }])
      t.equal(operation.parameters, undefined, 'a scheme adds no parameter')
      t.strictSame(document.components.securitySchemes, {
        [schemeName]: {
          type: 'apiKey',
          ...(variant === '_description' ? { description: descriptions[location] } : {}),
          in: location,
          name: 'key'
        }
      })
    })
  }
}

// Ported from FastAPI's twelve tests/test_security_http_*.py files (base, basic, bearer, digest; with
// description, optional, realm). Each FastAPI test function is one row below. FastAPI's
// `{"detail": ...}` is Fastify's error body `message`; `auth=(user, password)` is a Basic header.

const basic = (credentials: string) => `Basic ${Buffer.from(credentials).toString('base64')}`
const notAuthenticated = { statusCode: 401, error: 'Unauthorized', message: 'Not authenticated' }
const createAccount = { msg: 'Create an account first' }

/** [FastAPI test function, Authorization header, status, body, WWW-Authenticate] */
type Row = [string, string | undefined, number, unknown, string?]

interface Case {
  file: string
  scheme: () => Dependency<unknown>
  /** The OpenAPI security scheme object, under the factory's name. */
  openapi: Record<string, unknown>
  rows: Row[]
}

const other = { scheme: 'Other', credentials: 'foobar' }
const john = { username: 'john', password: 'secret' }
const bearer = { scheme: 'Bearer', credentials: 'foobar' }
const digest = { scheme: 'Digest', credentials: 'foobar' }

const basicRows = (challenge: string): Row[] => [
  ['test_security_http_basic', basic('john:secret'), 200, john],
  ['test_security_http_basic_no_credentials', undefined, 401, notAuthenticated, challenge],
  ['test_security_http_basic_invalid_credentials', 'Basic notabase64token', 401, notAuthenticated, challenge],
  ['test_security_http_basic_non_basic_credentials', basic('johnsecret'), 401, notAuthenticated, challenge]
]

const cases: Case[] = [
  {
    file: 'test_security_http_base.py',
    scheme: () => HTTPBase({ scheme: 'Other' }),
    openapi: { type: 'http', scheme: 'Other' },
    rows: [
      ['test_security_http_base', 'Other foobar', 200, other],
      ['test_security_http_base_with_whitespaces', 'Other  foobar ', 200, other],
      ['test_security_http_base_no_credentials', undefined, 401, notAuthenticated, 'Other']
    ]
  },
  {
    file: 'test_security_http_base_description.py',
    scheme: () => HTTPBase({ scheme: 'Other', description: 'Other Security Scheme' }),
    openapi: { type: 'http', description: 'Other Security Scheme', scheme: 'Other' },
    rows: [
      ['test_security_http_base', 'Other foobar', 200, other],
      ['test_security_http_base_no_credentials', undefined, 401, notAuthenticated, 'Other']
    ]
  },
  {
    file: 'test_security_http_base_optional.py',
    scheme: () => HTTPBase({ scheme: 'Other', autoError: false }),
    openapi: { type: 'http', scheme: 'Other' },
    rows: [
      ['test_security_http_base', 'Other foobar', 200, other],
      ['test_security_http_base_no_credentials', undefined, 200, createAccount]
    ]
  },
  {
    file: 'test_security_http_basic_optional.py',
    scheme: () => HTTPBasic({ autoError: false }),
    openapi: { type: 'http', scheme: 'basic' },
    rows: basicRows('Basic').map((row): Row => row[0] === 'test_security_http_basic_no_credentials' ? [row[0], undefined, 200, createAccount] : row)
  },
  {
    file: 'test_security_http_basic_realm.py',
    scheme: () => HTTPBasic({ realm: 'simple' }),
    openapi: { type: 'http', scheme: 'basic' },
    rows: basicRows('Basic realm="simple"')
  },
  {
    file: 'test_security_http_basic_realm_description.py',
    scheme: () => HTTPBasic({ realm: 'simple', description: 'HTTPBasic scheme' }),
    openapi: { type: 'http', description: 'HTTPBasic scheme', scheme: 'basic' },
    rows: basicRows('Basic realm="simple"')
  },
  ...[['', {}], ['_description', { description: 'HTTP Bearer token scheme' }]].map(([suffix, options]): Case => ({
    file: `test_security_http_bearer${suffix as string}.py`,
    scheme: () => HTTPBearer(options as object),
    openapi: { type: 'http', ...(options as object), scheme: 'bearer' },
    rows: [
      ['test_security_http_bearer', 'Bearer foobar', 200, bearer],
      ['test_security_http_bearer_no_credentials', undefined, 401, notAuthenticated, 'Bearer'],
      ['test_security_http_bearer_incorrect_scheme_credentials', 'Basic notreally', 401, notAuthenticated, 'Bearer']
    ]
  })),
  {
    file: 'test_security_http_bearer_optional.py',
    scheme: () => HTTPBearer({ autoError: false }),
    openapi: { type: 'http', scheme: 'bearer' },
    rows: [
      ['test_security_http_bearer', 'Bearer foobar', 200, bearer],
      ['test_security_http_bearer_no_credentials', undefined, 200, createAccount],
      ['test_security_http_bearer_incorrect_scheme_credentials', 'Basic notreally', 200, createAccount]
    ]
  },
  ...[['', {}], ['_description', { description: 'HTTPDigest scheme' }]].map(([suffix, options]): Case => ({
    file: `test_security_http_digest${suffix as string}.py`,
    scheme: () => HTTPDigest(options as object),
    openapi: { type: 'http', ...(options as object), scheme: 'digest' },
    rows: [
      ['test_security_http_digest', 'Digest foobar', 200, digest],
      ['test_security_http_digest_no_credentials', undefined, 401, notAuthenticated, 'Digest'],
      ['test_security_http_digest_incorrect_scheme_credentials', 'Other invalidauthorization', 401, notAuthenticated, 'Digest']
    ]
  })),
  {
    file: 'test_security_http_digest_optional.py',
    scheme: () => HTTPDigest({ autoError: false }),
    openapi: { type: 'http', scheme: 'digest' },
    rows: [
      ['test_security_http_digest', 'Digest foobar', 200, digest],
      ['test_security_http_digest_no_credentials', undefined, 200, createAccount],
      ['test_security_http_digest_incorrect_scheme_credentials', 'Other invalidauthorization', 200, createAccount]
    ]
  }
]

async function schemeApp (t: Test, scheme: Dependency<unknown>) {
  const app = await build(t)
  await app.register(swagger, { openapi: { info: { title: 't', version: '1' } } })
  app.get('/users/me', { dependencies: { credentials: Security(scheme) } }, async (request) =>
    request.deps.credentials ?? createAccount)
  await app.ready()
  return app
}

for (const { file, scheme, openapi, rows } of cases) {
  for (const [name, authorization, status, body, challenge] of rows) {
    // ported from tests/test_security_http_{base,basic,bearer,digest}*.py (the row's test function)
    test(`tests/${file} ${name}: ${authorization ?? 'no Authorization'} answers ${status}`, async (t) => {
      const app = await schemeApp(t, scheme())
      const res = await app.inject({ url: '/users/me', headers: authorization === undefined ? {} : { authorization } })
      t.equal(res.statusCode, status)
      t.same(res.json(), body)
      t.equal(res.headers['www-authenticate'], challenge)
    })
  }

  // ported from tests/test_security_http_{base,basic,bearer,digest}*.py test_openapi_schema
  test(`tests/${file} test_openapi_schema: the scheme is documented and required, with no parameter`, async (t) => {
    const instance = scheme()
    const app = await schemeApp(t, instance)
    const document = app.swagger() as unknown as Document
    t.strictSame(document.paths['/users/me'].get.security, [{ [instance.name]: [] }])
    t.equal(document.paths['/users/me'].get.parameters, undefined)
    t.strictSame(document.components.securitySchemes, { [instance.name]: openapi })
  })
}
