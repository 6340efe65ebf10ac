import cookiePlugin from '@fastify/cookie'
import type { FastifyInstance, InjectOptions } from 'fastify'
import { test } from 'tap'
import { build } from './helpers'
import { auth, givesUndefined, noAuthorization, provides, rejects, schemeApp } from './helpers-security'
import {
  Depends, Security, OAuth2PasswordBearer, OAuth2AuthorizationCodeBearer, OAuth2, OpenIdConnect,
  APIKeyHeader, APIKeyQuery, APIKeyCookie
} from '../lib/index'

test('OAuth2PasswordBearer provides the token after the first space, trimmed, with a case-insensitive scheme', async (t) => {
  const app = await schemeApp(t, OAuth2PasswordBearer({ tokenUrl: '/token' }))
  await provides(t, app, [
    [auth('Bearer tok'), 'tok'],
    [auth('bearer   tok  '), 'tok'],
    [auth('BEARER tok'), 'tok'],
    [auth('Bearer a b'), 'a b']
  ])
})

test('OAuth2PasswordBearer gives "" for a bare "Bearer" instead of failing (B91)', async (t) => {
  const app = await schemeApp(t, OAuth2PasswordBearer({ tokenUrl: '/token' }))
  await provides(t, app, [[auth('Bearer'), ''], [auth('Bearer    '), '']])
})

test('OAuth2PasswordBearer answers 401 "Bearer" when the header is missing, empty or of another scheme', async (t) => {
  const app = await schemeApp(t, OAuth2PasswordBearer({ tokenUrl: '/token' }))
  await rejects(t, app, [noAuthorization, auth(''), auth('Basic dG9rZW4='), auth('Bearertok'), auth('Token tok')], 'Bearer')
})

test('OAuth2PasswordBearer with autoError: false gives undefined instead of 401, and still the token', async (t) => {
  const app = await schemeApp(t, OAuth2PasswordBearer({ tokenUrl: '/token', autoError: false }))
  await givesUndefined(t, app, [noAuthorization, auth(''), auth('Basic dG9rZW4='), auth('Bearertok')])
  await provides(t, app, [[auth('Bearer tok'), 'tok'], [auth('Bearer'), '']])
})

test('OAuth2AuthorizationCodeBearer reads the bearer token like OAuth2PasswordBearer (B92)', async (t) => {
  const scheme = OAuth2AuthorizationCodeBearer({ authorizationUrl: 'authorize', tokenUrl: 'token' })
  const app = await schemeApp(t, scheme)
  await provides(t, app, [[auth('Bearer  testtoken '), 'testtoken'], [auth('Bearer'), '']])
  await rejects(t, app, [noAuthorization, auth(''), auth('Non-existent testtoken')], 'Bearer')
})

test('OAuth2AuthorizationCodeBearer with autoError: false gives undefined instead of 401', async (t) => {
  const scheme = OAuth2AuthorizationCodeBearer({ authorizationUrl: 'authorize', tokenUrl: 'token', autoError: false })
  const app = await schemeApp(t, scheme)
  await givesUndefined(t, app, [noAuthorization, auth(''), auth('Non-existent testtoken')])
  await provides(t, app, [[auth('Bearer testtoken'), 'testtoken']])
})

for (const [name, factory] of [
  ['OAuth2', (autoError?: boolean) => OAuth2({ flows: { password: { tokenUrl: 'token' } }, autoError })],
  ['OpenIdConnect', (autoError?: boolean) => OpenIdConnect({ openIdConnectUrl: '/openid', autoError })]
] as const) {
  test(`${name} provides the whole Authorization value, whatever its scheme (B98, B99)`, async (t) => {
    const app = await schemeApp(t, factory())
    await provides(t, app, [
      [auth('Other footokenbar'), 'Other footokenbar'],
      [auth('Bearer tok'), 'Bearer tok'],
      [auth('opaque'), 'opaque'],
      [auth('Bearer'), 'Bearer']
    ])
  })

  test(`${name} answers 401 "Bearer" only when the header is missing or empty`, async (t) => {
    const app = await schemeApp(t, factory())
    await rejects(t, app, [noAuthorization, auth('')], 'Bearer')
  })

  test(`${name} with autoError: false gives undefined for a missing or empty header`, async (t) => {
    const app = await schemeApp(t, factory(false))
    await givesUndefined(t, app, [noAuthorization, auth('')])
    await provides(t, app, [[auth('Other footokenbar'), 'Other footokenbar']])
  })
}

test('APIKeyHeader provides the header, looked up case-insensitively', async (t) => {
  const app = await schemeApp(t, APIKeyHeader({ name: 'X-Key' }))
  await provides(t, app, [
    [{ url: '/x', headers: { 'x-key': 'secret' } }, 'secret'],
    [{ url: '/x', headers: { 'X-KEY': 'Se cret' } }, 'Se cret']
  ])
})

test('APIKeyHeader answers 401 "APIKey" for a missing or empty header (B97)', async (t) => {
  const app = await schemeApp(t, APIKeyHeader({ name: 'X-Key' }))
  await rejects(t, app, [
    noAuthorization,
    { url: '/x', headers: { 'x-key': '' } },
    { url: '/x', headers: { 'x-other': 'secret', authorization: 'Bearer secret' } },
    { url: '/x?X-Key=secret' }
  ], 'APIKey')
})

test('APIKeyHeader with autoError: false gives undefined for a missing or empty header', async (t) => {
  const app = await schemeApp(t, APIKeyHeader({ name: 'X-Key', autoError: false }))
  await givesUndefined(t, app, [noAuthorization, { url: '/x', headers: { 'x-key': '' } }])
  await provides(t, app, [[{ url: '/x', headers: { 'x-key': 'secret' } }, 'secret']])
})

test('APIKeyQuery provides the query parameter, decoded; of repeated keys the last wins, as in Starlette', async (t) => {
  const app = await schemeApp(t, APIKeyQuery({ name: 'key' }))
  await provides(t, app, [
    [{ url: '/x?key=abc' }, 'abc'],
    [{ url: '/x?other=1&key=a%20b' }, 'a b'],
    [{ url: '/x?key=%E2%9C%93' }, '✓'],
    [{ url: '/x?key=1&key=2' }, '2'],
    [{ url: '/x?key=&key=2' }, '2']
  ])
})

test('APIKeyQuery answers 401 "APIKey" for a missing or empty parameter; names are case-sensitive', async (t) => {
  const app = await schemeApp(t, APIKeyQuery({ name: 'key' }))
  await rejects(t, app, [
    noAuthorization,
    { url: '/x?key=' },
    { url: '/x?key' },
    { url: '/x?KEY=abc' },
    { url: '/x?key=1&key=' },
    { url: '/x', headers: { key: 'abc' } }
  ], 'APIKey')
})

test('APIKeyQuery with autoError: false gives undefined for a missing or empty parameter', async (t) => {
  const app = await schemeApp(t, APIKeyQuery({ name: 'key', autoError: false }))
  await givesUndefined(t, app, [noAuthorization, { url: '/x?key=' }])
  await provides(t, app, [[{ url: '/x?key=abc' }, 'abc']])
})

function cookie (value: string): InjectOptions {
  return { url: '/x', headers: { cookie: value } }
}

const cookieSetups: Array<[string, ((app: FastifyInstance) => Promise<void>) | undefined]> = [
  ['without @fastify/cookie', undefined],
  ['with @fastify/cookie', async (app) => { await app.register(cookiePlugin) }]
]

for (const [setup, before] of cookieSetups) {
  test(`APIKeyCookie ${setup} provides the cookie's value`, async (t) => {
    const app = await schemeApp(t, APIKeyCookie({ name: 'session' }), before)
    await provides(t, app, [
      [cookie('session=abc'), 'abc'],
      [cookie('a=1; session=abc; b=2'), 'abc']
    ])
  })

  test(`APIKeyCookie ${setup} answers 401 "APIKey" for a missing or empty cookie`, async (t) => {
    const app = await schemeApp(t, APIKeyCookie({ name: 'session' }), before)
    await rejects(t, app, [noAuthorization, cookie('session='), cookie('other=abc'), cookie('Session=abc'), cookie('')], 'APIKey')
  })

  test(`APIKeyCookie ${setup} with autoError: false gives undefined for a missing or empty cookie`, async (t) => {
    const app = await schemeApp(t, APIKeyCookie({ name: 'session', autoError: false }), before)
    await givesUndefined(t, app, [noAuthorization, cookie('session='), cookie('other=abc')])
    await provides(t, app, [[cookie('session=abc'), 'abc']])
  })
}

for (const hook of ['preHandler', false] as const) {
  test(`APIKeyCookie reads the Cookie header when @fastify/cookie parses cookies later (hook: ${hook})`, async (t) => {
    const app = await schemeApp(t, APIKeyCookie({ name: 'session' }), async (app) => {
      await app.register(cookiePlugin, { hook })
    })
    await provides(t, app, [[cookie('session=abc'), 'abc']])
    await rejects(t, app, [noAuthorization, cookie('session=')], 'APIKey')
  })
}

test('a scheme provides the same value used bare, through Depends() or through Security()', async (t) => {
  const app = await build(t)
  const scheme = OAuth2PasswordBearer({ tokenUrl: '/token' })
  app.get('/x', { dependencies: { bare: scheme, viaDepends: Depends(scheme), viaSecurity: Security(scheme, ['me']) } }, async (request) => request.deps)
  const res = await app.inject(auth('Bearer tok'))
  t.equal(res.statusCode, 200)
  t.strictSame(res.json(), { bare: 'tok', viaDepends: 'tok', viaSecurity: 'tok' })
  await rejects(t, app, [noAuthorization], 'Bearer')
})

test('the first scheme to fail answers; two failing schemes give one 401 with the first one\'s challenge', async (t) => {
  const app = await build(t)
  app.get('/x', { dependencies: { key: APIKeyHeader({ name: 'X-Key' }), token: OAuth2PasswordBearer({ tokenUrl: '/token' }) } }, async (request) => request.deps)
  await rejects(t, app, [noAuthorization, { url: '/x', headers: { 'x-key': '' } }], 'APIKey')
  await rejects(t, app, [{ url: '/x', headers: { 'x-key': 'k' } }], 'Bearer')
  const res = await app.inject({ url: '/x', headers: { 'x-key': 'k', authorization: 'Bearer t' } })
  t.strictSame(res.json(), { key: 'k', token: 't' })
})
