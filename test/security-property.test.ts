import cookiePlugin from '@fastify/cookie'
import fc from 'fast-check'
import type { FastifyInstance } from 'fastify'
import { test, type Test } from 'tap'
import { build } from './helpers'
import {
  OAuth2PasswordBearer, OAuth2AuthorizationCodeBearer, OAuth2, OpenIdConnect, HTTPBearer, HTTPBasic, HTTPDigest,
  HTTPBase, APIKeyHeader, APIKeyQuery, APIKeyCookie, type Dependency
} from '../lib/index'

const NUM_RUNS = 300

/** What FastAPI does with an Authorization value (None when missing); `fail` = 401, or undefined with autoError false. */
type Model = (authorization: string | undefined) => { fail: true } | { fail: false, value: unknown } | { fail: 'always' } | null

// Python's str.strip() on ASCII: space, \t, \n, \r, \v, \f.
const PY_WHITESPACE = ' \t\n\r\v\f'

function pyStrip (text: string): string {
  let start = 0
  let end = text.length
  while (start < end && PY_WHITESPACE.includes(text[start])) start++
  while (end > start && PY_WHITESPACE.includes(text[end - 1])) end--
  return text.slice(start, end)
}

function partition (value: string | undefined): { scheme: string, param: string } {
  if (value === undefined || value === '') return { scheme: '', param: '' }
  const space = value.indexOf(' ')
  return space === -1 ? { scheme: value, param: '' } : { scheme: value.slice(0, space), param: pyStrip(value.slice(space + 1)) }
}

const bearerToken: Model = (value) => {
  const { scheme, param } = partition(value)
  return !value || scheme.toLowerCase() !== 'bearer' ? { fail: true } : { fail: false, value: param }
}
const wholeHeader: Model = (value) => !value ? { fail: true } : { fail: false, value }
function httpScheme (expected: string | undefined): Model {
  return (value) => {
    const { scheme, param } = partition(value)
    if (!value || !scheme || !param || (expected !== undefined && scheme.toLowerCase() !== expected)) return { fail: true }
    return { fail: false, value: { scheme, credentials: param } }
  }
}
// Only canonical base64 of ASCII is modelled exactly; anything else must be a 401 or a well-formed value.
const basicModel: Model = (value) => {
  const { scheme, param } = partition(value)
  if (!value || scheme.toLowerCase() !== 'basic') return { fail: true }
  const bytes = Buffer.from(param, 'base64')
  if (bytes.toString('base64') !== param || bytes.some((byte) => byte > 0x7f)) return null
  const decoded = bytes.toString('ascii')
  const colon = decoded.indexOf(':')
  return colon === -1 ? { fail: 'always' } : { fail: false, value: { username: decoded.slice(0, colon), password: decoded.slice(colon + 1) } }
}

interface Route { name: string, scheme: Dependency<unknown>, challenge: string, model?: Model, autoError: boolean }

const routes: Route[] = []
function add (name: string, challenge: string, make: (autoError: boolean) => Dependency<unknown>, model?: Model): void {
  for (const autoError of [true, false]) routes.push({ name: `${name}-${autoError}`, scheme: make(autoError), challenge, model, autoError })
}
add('password', 'Bearer', (autoError) => OAuth2PasswordBearer({ tokenUrl: '/token', autoError }), bearerToken)
add('code', 'Bearer', (autoError) => OAuth2AuthorizationCodeBearer({ authorizationUrl: 'a', tokenUrl: 't', autoError }), bearerToken)
add('oauth2', 'Bearer', (autoError) => OAuth2({ autoError }), wholeHeader)
add('oidc', 'Bearer', (autoError) => OpenIdConnect({ openIdConnectUrl: '/o', autoError }), wholeHeader)
add('bearer', 'Bearer', (autoError) => HTTPBearer({ autoError }), httpScheme('bearer'))
add('digest', 'Digest', (autoError) => HTTPDigest({ autoError }), httpScheme('digest'))
add('base', 'Other', (autoError) => HTTPBase({ scheme: 'other', autoError }), httpScheme(undefined))
add('basic', 'Basic realm="r"', (autoError) => HTTPBasic({ realm: 'r', autoError }), basicModel)
add('header', 'APIKey', (autoError) => APIKeyHeader({ name: 'X-Key', autoError }))
add('query', 'APIKey', (autoError) => APIKeyQuery({ name: 'key', autoError }))
add('cookie', 'APIKey', (autoError) => APIKeyCookie({ name: 'session', autoError }))

async function propertyApp (t: Test, withCookiePlugin: boolean): Promise<FastifyInstance> {
  const app = await build(t)
  if (withCookiePlugin) await app.register(cookiePlugin)
  for (const route of routes) {
    app.get(`/${route.name}`, { dependencies: { credentials: route.scheme } }, async (request) => {
      const value = request.deps.credentials
      return value === undefined ? { isUndefined: true } : { value }
    })
  }
  await app.ready()
  return app
}

// Header values: visible ASCII, space and tab (what HTTP allows); odd whitespace included.
const headerChar = fc.oneof(
  fc.integer({ min: 0x20, max: 0x7e }).map((code) => String.fromCharCode(code)),
  fc.constantFrom(' ', '\t', '  ', ':', '=', '"', ',', ';')
)
const shortText = fc.string({ unit: headerChar, maxLength: 40 })
const longText = fc.oneof(
  fc.string({ unit: headerChar, minLength: 1000, maxLength: 8192 }),
  fc.tuple(headerChar, fc.integer({ min: 1000, max: 8192 })).map(([char, count]) => char.repeat(count))
)
const text = fc.oneof({ weight: 4, arbitrary: shortText }, { weight: 1, arbitrary: longText })
const spaces = fc.constantFrom('', ' ', '  ', '\t', ' \t ')
const schemeWord = fc.constantFrom('Bearer', 'bearer', 'BEARER', 'Basic', 'basic', 'Digest', 'Other', 'other', 'Token', '')
const asciiPair = fc.tuple(shortText, shortText).map(([user, password]) => `${user.replace(/:/g, '')}:${password}`)
const basicParam = fc.oneof(
  asciiPair.map((pair) => Buffer.from(pair, 'latin1').toString('base64')),
  fc.string({ unit: 'grapheme', maxLength: 20 }).map((s) => Buffer.from(s, 'utf8').toString('base64')),
  fc.uint8Array({ maxLength: 30 }).map((bytes) => Buffer.from(bytes).toString('base64')),
  text
)
const authorization = fc.oneof(
  fc.tuple(spaces, schemeWord, fc.constantFrom('', ' ', '   ', '\t'), fc.oneof(text, basicParam), spaces)
    .map(([lead, scheme, gap, param, trail]) => `${lead}${scheme}${gap}${param}${trail}`),
  text
)
const encoded = fc.string({ unit: 'grapheme', maxLength: 30 }).map(encodeURIComponent)
const oddQueryValue = fc.constantFrom('', '%', '%zz', '%E2%9C', '+', '==', '%00', 'a+b', '%2B', '&', '[]')
const queryValue = fc.oneof(encoded, oddQueryValue, fc.string({ unit: fc.constantFrom('a', 'Z', '9', '-', '.', '_', '~'), maxLength: 9000 }))
const query = fc.array(fc.tuple(fc.constantFrom('key', 'KEY', 'ke', 'other', 'key '), queryValue), { maxLength: 5 })
  .map((pairs) => pairs.map(([name, value]) => `${encodeURIComponent(name)}=${value}`).join('&'))
const cookieValue = fc.oneof(encoded, oddQueryValue, shortText.map((s) => s.replace(/;/g, '')))
const cookiePair = fc.tuple(fc.constantFrom('session', 'Session', 'other', ' session', 'session '), fc.constantFrom('=', ' = ', '=='), cookieValue)
const cookie = fc.tuple(fc.array(cookiePair, { maxLength: 4 }), fc.constantFrom('; ', ';', ' ;  '))
  .map(([pairs, separator]) => pairs.map(([name, eq, value]) => `${name}${eq}${value}`).join(separator))

interface Generated { authorization?: string | string[], xKey?: string | string[], cookie?: string, query: string }

const requestArbitrary: fc.Arbitrary<Generated> = fc.record({
  authorization: fc.option(fc.oneof({ weight: 5, arbitrary: authorization }, { weight: 1, arbitrary: fc.array(authorization, { minLength: 2, maxLength: 3 }) }), { nil: undefined }),
  xKey: fc.option(fc.oneof(text, fc.array(text, { minLength: 2, maxLength: 3 })), { nil: undefined }),
  cookie: fc.option(cookie, { nil: undefined }),
  query
}, { requiredKeys: ['query'] })

function headersOf (generated: Generated): Record<string, string | string[]> {
  const headers: Record<string, string | string[]> = {}
  if (generated.authorization !== undefined) headers.authorization = generated.authorization
  if (generated.xKey !== undefined) headers['x-key'] = generated.xKey
  if (generated.cookie !== undefined) headers.cookie = generated.cookie
  return headers
}

async function check (app: FastifyInstance, generated: Generated): Promise<void> {
  const headers = headersOf(generated)
  // A repeated Authorization header: Node (and inject) keep the first one.
  const sent = Array.isArray(generated.authorization) ? generated.authorization[0] : generated.authorization
  for (const route of routes) {
    const res = await app.inject({ url: `/${route.name}?${generated.query}`, headers })
    const where = `${route.name} ${JSON.stringify(generated).slice(0, 300)}`
    if (res.statusCode !== 200 && res.statusCode !== 401) throw new Error(`${where}: status ${res.statusCode} ${res.body.slice(0, 200)}`)
    if (res.statusCode === 401) {
      if (res.headers['www-authenticate'] !== route.challenge) throw new Error(`${where}: challenge ${String(res.headers['www-authenticate'])}`)
      if (res.body !== '{"statusCode":401,"error":"Unauthorized","message":"Not authenticated"}') throw new Error(`${where}: body ${res.body}`)
    }
    const body = res.statusCode === 200 ? res.json() as { value?: unknown, isUndefined?: true } : undefined
    if (body !== undefined && route.autoError && body.isUndefined === true) throw new Error(`${where}: undefined with autoError`)
    const expected = route.model?.(sent) ?? null
    if (expected === null) continue
    if (expected.fail === 'always' || (expected.fail === true && route.autoError)) {
      if (res.statusCode !== 401) throw new Error(`${where}: expected 401, got ${res.statusCode} ${res.body.slice(0, 200)}`)
    } else if (expected.fail === true) {
      if (body?.isUndefined !== true) throw new Error(`${where}: expected undefined, got ${res.statusCode} ${res.body.slice(0, 200)}`)
    } else if (JSON.stringify(body) !== JSON.stringify({ value: expected.value })) {
      throw new Error(`${where}: expected ${JSON.stringify(expected.value).slice(0, 200)}, got ${res.statusCode} ${res.body.slice(0, 200)}`)
    }
  }
}

for (const withCookiePlugin of [false, true]) {
  test(`random credentials get 200 or 401 from every scheme, as FastAPI would decide (${withCookiePlugin ? 'with' : 'without'} @fastify/cookie)`, async (t) => {
    const app = await propertyApp(t, withCookiePlugin)
    await fc.assert(fc.asyncProperty(requestArbitrary, (generated) => check(app, generated)), { numRuns: NUM_RUNS })
    t.pass(`${NUM_RUNS} random requests against ${routes.length} routes`)
  })
}

test('API keys: a single non-empty header, last query value or cookie is the key; empty or missing is 401', async (t) => {
  const app = await propertyApp(t, false)
  const safe = fc.string({ unit: fc.constantFrom('a', 'B', '7', '-', '_', '.'), minLength: 1, maxLength: 50 })
  await fc.assert(fc.asyncProperty(fc.option(safe, { nil: undefined }), fc.array(fc.option(safe, { nil: undefined }), { maxLength: 3 }), fc.option(safe, { nil: undefined }), async (headerKey, queryKeys, session) => {
    const query = queryKeys.map((key) => `key=${key ?? ''}`).join('&')
    const headers: Record<string, string> = {}
    if (headerKey !== undefined) headers['x-key'] = headerKey
    if (session !== undefined) headers.cookie = `other=1; session=${session}`
    for (const [route, expected] of [['header', headerKey], ['query', queryKeys.at(-1)], ['cookie', session]] as const) {
      const res = await app.inject({ url: `/${route}-true?${query}`, headers })
      if (expected === undefined) {
        if (res.statusCode !== 401) throw new Error(`${route}: expected 401, got ${res.statusCode}`)
      } else if (res.statusCode !== 200 || res.json().value !== expected) {
        throw new Error(`${route}: expected ${expected}, got ${res.statusCode} ${res.body}`)
      }
    }
  }), { numRuns: NUM_RUNS })
  t.pass('the key is read as FastAPI reads it')
})
