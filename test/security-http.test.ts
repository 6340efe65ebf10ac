import type { InjectOptions } from 'fastify'
import { test } from 'tap'
import { NOT_AUTHENTICATED, auth, givesUndefined, noAuthorization, provides, rejects, schemeApp } from './helpers-security'
import { HTTPBearer, HTTPBasic, HTTPDigest, HTTPBase } from '../lib/index'

function basic (userPass: string): InjectOptions {
  return auth(`Basic ${Buffer.from(userPass, 'utf8').toString('base64')}`)
}

test('HTTPBearer provides { scheme, credentials } with the scheme as sent and the credentials trimmed', async (t) => {
  const app = await schemeApp(t, HTTPBearer({ bearerFormat: 'JWT' }))
  await provides(t, app, [
    [auth('Bearer abc'), { scheme: 'Bearer', credentials: 'abc' }],
    [auth('BEARER abc'), { scheme: 'BEARER', credentials: 'abc' }],
    [auth('bearer   tok  '), { scheme: 'bearer', credentials: 'tok' }],
    [auth('Bearer a b'), { scheme: 'Bearer', credentials: 'a b' }]
  ])
})

test('HTTPBearer answers 401 "Bearer" for a missing header, a bare "Bearer" or another scheme (B94)', async (t) => {
  const app = await schemeApp(t, HTTPBearer())
  await rejects(t, app, [noAuthorization, auth(''), auth('Bearer'), auth('Bearer    '), auth('Basic abc'), auth('Bearerabc'), auth('Digest abc')], 'Bearer')
})

test('HTTPBearer with autoError: false gives undefined wherever it would answer 401', async (t) => {
  const app = await schemeApp(t, HTTPBearer({ autoError: false }))
  await givesUndefined(t, app, [noAuthorization, auth(''), auth('Bearer'), auth('Bearer    '), auth('Basic abc'), auth('Bearerabc')])
  await provides(t, app, [[auth('Bearer abc'), { scheme: 'Bearer', credentials: 'abc' }]])
})

test('HTTPDigest provides the unparsed credentials and answers 401 "Digest" otherwise (B95)', async (t) => {
  const app = await schemeApp(t, HTTPDigest())
  await provides(t, app, [
    [auth('Digest username="a", realm="r"'), { scheme: 'Digest', credentials: 'username="a", realm="r"' }],
    [auth('digest  x '), { scheme: 'digest', credentials: 'x' }]
  ])
  await rejects(t, app, [noAuthorization, auth(''), auth('Digest'), auth('Bearer abc'), auth('Basic abc')], 'Digest')
})

test('HTTPDigest with autoError: false gives undefined wherever it would answer 401', async (t) => {
  const app = await schemeApp(t, HTTPDigest({ autoError: false }))
  await givesUndefined(t, app, [noAuthorization, auth('Digest'), auth('Bearer abc')])
  await provides(t, app, [[auth('Digest x'), { scheme: 'Digest', credentials: 'x' }]])
})

test('HTTPBase accepts any scheme with non-empty credentials (B96)', async (t) => {
  const app = await schemeApp(t, HTTPBase({ scheme: 'other' }))
  await provides(t, app, [
    [auth('Other  foobar '), { scheme: 'Other', credentials: 'foobar' }],
    [auth('other x'), { scheme: 'other', credentials: 'x' }],
    [auth('Bearer x'), { scheme: 'Bearer', credentials: 'x' }]
  ])
})

test('HTTPBase answers 401 with the configured scheme in title case as the challenge', async (t) => {
  await rejects(t, await schemeApp(t, HTTPBase({ scheme: 'other' })), [noAuthorization, auth(''), auth('Other'), auth('Other   ')], 'Other')
  await rejects(t, await schemeApp(t, HTTPBase({ scheme: 'Other' })), [noAuthorization], 'Other')
  await rejects(t, await schemeApp(t, HTTPBase({ scheme: 'x-CUSTOM' })), [noAuthorization], 'X-Custom')
})

test('HTTPBase with autoError: false gives undefined for missing or empty credentials', async (t) => {
  const app = await schemeApp(t, HTTPBase({ scheme: 'other', autoError: false }))
  await givesUndefined(t, app, [noAuthorization, auth(''), auth('Other')])
  await provides(t, app, [[auth('Other x'), { scheme: 'Other', credentials: 'x' }]])
})

test('HTTPBasic provides { username, password } split at the first ":"; either may be empty', async (t) => {
  const app = await schemeApp(t, HTTPBasic())
  await provides(t, app, [
    [basic('john:secret'), { username: 'john', password: 'secret' }],
    [auth('basic am9objpzZWNyZXQ='), { username: 'john', password: 'secret' }],
    [auth('Basic   am9objpzZWNyZXQ=  '), { username: 'john', password: 'secret' }],
    [basic('a:b:c'), { username: 'a', password: 'b:c' }],
    [basic(':'), { username: '', password: '' }],
    [basic('user:'), { username: 'user', password: '' }],
    [basic('john doe:s e c'), { username: 'john doe', password: 's e c' }]
  ])
})

test('HTTPBasic ignores characters outside the base64 alphabet, as Python\'s b64decode does', async (t) => {
  const app = await schemeApp(t, HTTPBasic())
  await provides(t, app, [
    [auth('Basic am9o bjpzZWNyZXQ='), { username: 'john', password: 'secret' }],
    [auth('Basic am9objpzZWNyZXQ=!'), { username: 'john', password: 'secret' }]
  ])
})

test('HTTPBasic answers 401 "Basic" for a missing header or another scheme', async (t) => {
  const app = await schemeApp(t, HTTPBasic())
  await rejects(t, app, [noAuthorization, auth(''), auth('Bearer am9objpzZWNyZXQ='), auth('Basicam9objpzZWNyZXQ=')], 'Basic')
})

test('HTTPBasic with a realm challenges with Basic realm="..."', async (t) => {
  const app = await schemeApp(t, HTTPBasic({ realm: 'x' }))
  await rejects(t, app, [noAuthorization, auth('Basic !!!')], 'Basic realm="x"')
  await provides(t, app, [[basic('a:b'), { username: 'a', password: 'b' }]])
})

test('HTTPBasic with an empty realm challenges with plain "Basic" (FastAPI tests `if self.realm`)', async (t) => {
  const app = await schemeApp(t, HTTPBasic({ realm: '' }))
  await rejects(t, app, [noAuthorization], 'Basic')
})

const malformed: InjectOptions[] = [
  auth('Basic !!!'),
  auth('Basic'),
  auth('Basic    '),
  auth('Basic YQ'),
  auth('Basic am9objpzZWNyZXQ'),
  basic('nocolon'),
  basic('é:pw'),
  auth(`Basic ${Buffer.from([0x61, 0x3a, 0xff]).toString('base64')}`)
]

test('HTTPBasic answers 401 for invalid base64, non-ASCII or no ":"', async (t) => {
  await rejects(t, await schemeApp(t, HTTPBasic()), malformed, 'Basic')
})

test('HTTPBasic answers 401 for malformed credentials even with autoError: false (B93)', async (t) => {
  const app = await schemeApp(t, HTTPBasic({ autoError: false, realm: 'r' }))
  await rejects(t, app, malformed, 'Basic realm="r"')
  await givesUndefined(t, app, [noAuthorization, auth(''), auth('Bearer am9objpzZWNyZXQ=')])
  await provides(t, app, [[basic('john:secret'), { username: 'john', password: 'secret' }]])
})

test('the 401 of a scheme keeps Fastify\'s error shape and content type', async (t) => {
  const app = await schemeApp(t, HTTPBearer())
  const res = await app.inject(noAuthorization)
  t.equal(res.statusCode, 401)
  t.match(res.headers['content-type'], /^application\/json/)
  t.equal(res.body, JSON.stringify(NOT_AUTHENTICATED))
})
