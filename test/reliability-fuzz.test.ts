import net from 'node:net'
import cookiePlugin from '@fastify/cookie'
import { Type } from '@sinclair/typebox'
import fc from 'fast-check'
import type { FastifyInstance } from 'fastify'
import { test, type Test } from 'tap'
import { build, settle } from './helpers'
import { Body, Cookie, depends, Header, Path, Query, type Dependency } from '../lib/index'

const NUM_RUNS = 200

/** Strings of every kind: unicode graphemes, any code unit (lone surrogates too), tricky literals, ~8 KB. */
const anyText = fc.oneof(
  fc.string({ unit: 'grapheme', maxLength: 40 }),
  fc.string({ unit: 'binary', maxLength: 40 }),
  fc.constantFrom('', ' ', '__proto__', 'constructor', 'toString', '%', '%zz', '%E0%A4%A', '\u0000', '\uD800', '💥💥', '"quoted"', 'a;b=c', '1e3', '-0'),
  fc.string({ unit: 'grapheme-ascii', minLength: 4000, maxLength: 8192 }),
  fc.string({ unit: 'grapheme', minLength: 1000, maxLength: 2000 })
)
const shortText = fc.string({ unit: 'grapheme', maxLength: 20 })
/** What a string becomes once it went through UTF-8 (lone surrogates turn into U+FFFD). */
const wellFormed = (text: string): string => Buffer.from(text, 'utf8').toString('utf8')

/** A request-scoped generator over the route's parameters: its entries and finalizations are counted. */
class Counter {
  entries = 0
  finalizations = 0
  session<T> (input: Dependency<T>): Dependency<T> {
    return depends({ input }, async function * (this: void, { input }) {
      counter.entries++
      try {
        yield input
      } finally {
        counter.finalizations++
      }
    }, { name: 'session' })
  }
}
const counter = new Counter()

/** Every response is < 500 (and one of `allowed`); every entered generator was finalized. */
async function check (t: Test, name: string, property: fc.IAsyncProperty<any>): Promise<void> {
  const before = { ...counter }
  await fc.assert(property, { numRuns: NUM_RUNS })
  await settle()
  t.pass(`${name}: ${NUM_RUNS} runs, every response as allowed and < 500`)
  t.equal(counter.finalizations - before.finalizations, counter.entries - before.entries, `${name}: every entered generator was finalized (${counter.entries - before.entries})`)
}

function expectStatus (status: number, allowed: number[], detail: () => string): void {
  if (!allowed.includes(status)) throw new Error(`status ${status} not in ${allowed.join('/')}: ${detail()}`)
}

function expectEqual (actual: unknown, expected: unknown, what: string): void {
  if (JSON.stringify(actual) !== JSON.stringify(expected)) throw new Error(`${what}: got ${JSON.stringify(actual)}, expected ${JSON.stringify(expected)}`)
}

async function fuzzApp (t: Test, withCookiePlugin = false): Promise<FastifyInstance> {
  const app = await build(t)
  if (withCookiePlugin) await app.register(cookiePlugin)
  const query = depends({
    text: Query('text', Type.String({ maxLength: 8192 })),
    n: Query('n', Type.Optional(Type.Integer({ minimum: 0, maximum: 1000 }))),
    tags: Query('tags', Type.Optional(Type.Array(Type.String({ maxLength: 100 }), { maxItems: 20 })))
  }, (values) => values)
  app.get('/q', { dependencies: { v: counter.session(query) } }, async (request) => request.deps.v)
  const headers = depends({
    text: Header('X-Text', Type.String({ maxLength: 20000 })),
    n: Header('x-num', Type.Optional(Type.Integer()))
  }, (values) => values)
  app.get('/h', { dependencies: { v: counter.session(headers) } }, async (request) => request.deps.v)
  const cookies = depends({
    session: Cookie('session', Type.String({ minLength: 1, maxLength: 8192 })),
    theme: Cookie('theme', Type.Optional(Type.Union([Type.Literal('dark'), Type.Literal('light')])))
  }, (values) => values)
  app.get('/c', { dependencies: { v: counter.session(cookies) } }, async (request) => request.deps.v)
  const path = depends({ id: Path('id', Type.Integer({ minimum: 1 })), slug: Path('slug', Type.String({ maxLength: 100 })) }, (values) => values)
  app.get('/p/:id/:slug', { dependencies: { v: counter.session(path) } }, async (request) => request.deps.v)
  const body = Body(Type.Object({
    name: Type.String({ maxLength: 8192 }),
    tags: Type.Array(Type.String({ maxLength: 100 }), { maxItems: 20 }),
    meta: Type.Optional(Type.Record(Type.String(), Type.Unknown()))
  }))
  app.post('/b', { dependencies: { v: counter.session(body) } }, async (request) => request.deps.v)
  const fields = depends({ name: Body('name', Type.String({ maxLength: 8192 })), count: Body('count', Type.Integer({ minimum: 0 })) }, (values) => values)
  app.post('/bf', { dependencies: { v: counter.session(fields) } }, async (request) => request.deps.v)
  await app.ready()
  return app
}

test('Query: arbitrary, unicode, very long and repeated parameters never give a 5xx; valid ones arrive as sent', async (t) => {
  const app = await fuzzApp(t)
  const structured = fc.record({
    text: fc.option(anyText, { freq: 10 }),
    n: fc.option(fc.oneof({ arbitrary: fc.nat(1000).map(String), weight: 3 }, fc.integer().map(String), anyText)),
    tags: fc.option(fc.array(fc.oneof({ arbitrary: shortText, weight: 4 }, anyText), { maxLength: 4 }))
  })
  await check(t, 'structured query', fc.asyncProperty(structured, async ({ text, n, tags }) => {
    const params = new URLSearchParams()
    if (text !== null) params.append('text', text)
    if (n !== null) params.append('n', n)
    for (const tag of tags ?? []) params.append('tags', tag)
    const res = await app.inject(`/q?${params}`)
    expectStatus(res.statusCode, [200, 400], () => res.body)
    if (res.statusCode === 200) expectEqual(res.json().text, wellFormed(text as string), 'text')
  }))
  const raw = fc.string({ unit: 'grapheme-ascii', maxLength: 200 }).map((s) => s.replace(/[#\s]/g, ''))
  await check(t, 'raw query string', fc.asyncProperty(raw, raw, async (before, after) => {
    const res = await app.inject(`/q?${before}&text=x&${after}`)
    expectStatus(res.statusCode, [200, 400], () => res.body)
  }))
})

test('Header: arbitrary values, unicode, ~8 KB and repeated headers never give a 5xx; valid ones arrive as sent', async (t) => {
  const app = await fuzzApp(t)
  const value = fc.oneof(anyText, fc.integer().map(String))
  await check(t, 'headers', fc.asyncProperty(fc.array(value, { minLength: 0, maxLength: 4 }), fc.option(value), async (texts, num) => {
    const headers: Record<string, string | string[]> = {}
    if (texts.length > 0) headers['x-text'] = texts.length === 1 ? texts[0] : texts
    if (num !== null) headers['X-NUM'] = num
    const res = await app.inject({ url: '/h', headers })
    expectStatus(res.statusCode, [200, 400], () => res.body)
    if (res.statusCode === 200) expectEqual(res.json().text, texts.join(', '), 'x-text')
  }))
})

test('Cookie: arbitrary and repeated Cookie headers never give a 5xx, with or without @fastify/cookie; valid ones arrive as sent', async (t) => {
  const apps = [await fuzzApp(t, false), await fuzzApp(t, true)]
  const cookieName = fc.oneof(fc.constantFrom('session', 'theme', '__proto__', 'constructor', 'Session', ''), fc.string({ maxLength: 10 }))
  const pair = fc.tuple(cookieName, anyText).map(([name, value]) => `${name}=${value}`)
  await check(t, 'raw cookie headers', fc.asyncProperty(fc.array(fc.array(pair, { maxLength: 4 }).map((p) => p.join('; ')), { minLength: 1, maxLength: 3 }), fc.boolean(), async (headers, plugin) => {
    const res = await apps[plugin ? 1 : 0].inject({ url: '/c', headers: { cookie: headers.length === 1 ? headers[0] : headers } })
    expectStatus(res.statusCode, [200, 400], () => res.body)
  }))
  await check(t, 'same answer with and without @fastify/cookie', fc.asyncProperty(fc.array(pair, { maxLength: 4 }).map((p) => p.join('; ')), async (cookie) => {
    const [own, plugin] = await Promise.all(apps.map((app) => app.inject({ url: '/c', headers: { cookie } })))
    expectStatus(own.statusCode, [200, 400], () => own.body)
    expectEqual(`${own.statusCode} ${own.statusCode === 200 ? own.body : ''}`, `${plugin.statusCode} ${plugin.statusCode === 200 ? plugin.body : ''}`, 'answer')
  }))
  await check(t, 'encoded cookies', fc.asyncProperty(anyText, fc.option(fc.constantFrom('dark', 'light', 'blue')), fc.boolean(), async (session, theme, plugin) => {
    const cookie = `session=${encodeURIComponent(wellFormed(session))}${theme === null ? '' : `; theme=${theme}`}`
    const res = await apps[plugin ? 1 : 0].inject({ url: '/c', headers: { cookie } })
    expectStatus(res.statusCode, [200, 400], () => res.body)
    const valid = wellFormed(session).length >= 1 && wellFormed(session).length <= 8192 && theme !== 'blue'
    if (valid !== (res.statusCode === 200)) throw new Error(`valid=${valid} but ${res.statusCode}: ${res.body}`)
    if (valid) expectEqual(res.json(), theme === null ? { session: wellFormed(session) } : { session: wellFormed(session), theme }, 'cookies')
  }))
})

test('Path: arbitrary, encoded and malformed segments never give a 5xx; valid ones arrive decoded', async (t) => {
  const app = await fuzzApp(t)
  const segment = fc.oneof(
    anyText.map((s) => encodeURIComponent(wellFormed(s))),
    fc.integer({ min: -5, max: Number.MAX_SAFE_INTEGER }).map(String),
    fc.string({ unit: 'grapheme-ascii', maxLength: 30 }).map((s) => s.replace(/[/?#\s]/g, ''))
    // A bare `.` or `..` is a dot segment: URL resolution removes it before routing (`/p/1/.` is `/p/1/`).
  ).filter((s) => s !== '.' && s !== '..')
  await check(t, 'path segments', fc.asyncProperty(segment, segment, async (id, slug) => {
    const res = await app.inject(`/p/${id}/${slug}`)
    expectStatus(res.statusCode, [200, 400, 404, 414], () => res.body)
    if (res.statusCode === 200) {
      const value = res.json()
      if (!Number.isInteger(value.id) || value.id < 1 || typeof value.slug !== 'string') throw new Error(`bad value ${res.body}`)
      expectEqual(value.slug, decodeURIComponent(slug), 'slug')
    }
  }))
})

test('Body: arbitrary JSON, raw strings and prototype-poisoning payloads never give a 5xx; valid bodies arrive validated', async (t) => {
  const app = await fuzzApp(t)
  const shaped = fc.record({
    name: fc.oneof(anyText, fc.integer(), fc.constant(null)),
    tags: fc.oneof({ arbitrary: fc.array(shortText, { maxLength: 25 }), weight: 3 }, fc.array(anyText, { maxLength: 3 }), anyText),
    meta: fc.option(fc.dictionary(anyText, fc.jsonValue({ maxDepth: 2 }), { maxKeys: 4 }), { nil: undefined })
  }, { requiredKeys: [] }).map((value) => JSON.stringify(value))
  const fieldsShaped = fc.record({
    name: fc.oneof({ arbitrary: anyText, weight: 3 }, fc.integer()),
    count: fc.oneof({ arbitrary: fc.nat(), weight: 3 }, fc.integer(), fc.double(), anyText)
  }, { requiredKeys: [] }).map((value) => JSON.stringify(value))
  const payload = fc.oneof(
    shaped,
    fieldsShaped,
    fc.jsonValue().map((value) => JSON.stringify(value)),
    anyText,
    fc.constantFrom('{"name":"x","tags":[],"__proto__":{"polluted":1}}', '{"name":"x","tags":[],"constructor":{"prototype":{"polluted":1}}}', '{', '', 'null', '[]')
  )
  for (const url of ['/b', '/bf']) {
    await check(t, `body ${url}`, fc.asyncProperty(payload, async (body) => {
      const res = await app.inject({ method: 'POST', url, payload: body, headers: { 'content-type': 'application/json' } })
      expectStatus(res.statusCode, [200, 400], () => `${body.slice(0, 200)} -> ${res.body}`)
      if (res.statusCode !== 200) return
      const value = res.json()
      if (url === '/b' && (typeof value.name !== 'string' || !Array.isArray(value.tags))) throw new Error(`bad value ${res.body}`)
      if (url === '/bf' && (typeof value.name !== 'string' || !Number.isInteger(value.count))) throw new Error(`bad value ${res.body}`)
    }))
  }
  t.equal(({} as Record<string, unknown>).polluted, undefined, 'no prototype was polluted')
})

/** Writes raw bytes to the server and resolves the status code of what comes back (0 when the server closed without answering). */
function rawRequest (port: number, bytes: Buffer): Promise<number> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host: '127.0.0.1', port })
    let received = ''
    const timer = setTimeout(() => { socket.destroy(); reject(new Error('no answer within 10 s')) }, 10000)
    socket.on('data', (chunk) => { received += chunk.toString('latin1') })
    socket.on('error', () => {})
    socket.on('close', () => {
      clearTimeout(timer)
      resolve(Number(/^HTTP\/1\.1 (\d{3})/.exec(received)?.[1] ?? 0))
    })
    socket.end(bytes)
  })
}

test('over a real socket: raw header bytes (UTF-8, obs-text, controls), ~8 KB and repeated X-Text and Cookie headers never give a 5xx', async (t) => {
  const app = await fuzzApp(t)
  await app.listen({ port: 0, host: '127.0.0.1' })
  const { port } = app.server.address() as net.AddressInfo
  const bytes = fc.oneof(
    anyText.map((s) => Buffer.from(s, 'utf8')),
    fc.uint8Array({ maxLength: 64 }).map((a) => Buffer.from(a)),
    fc.integer({ min: 1000, max: 8192 }).map((n) => Buffer.alloc(n, 0xe9))
  )
  const header = fc.tuple(fc.constantFrom('X-Text', 'x-text', 'Cookie', 'X-Num'), bytes)
  await check(t, 'raw headers', fc.asyncProperty(fc.array(header, { minLength: 1, maxLength: 4 }), fc.constantFrom('/h', '/c'), async (headers, url) => {
    const lines = headers.map(([name, value]) => Buffer.concat([Buffer.from(`${name}: `), value, Buffer.from('\r\n')]))
    const request = Buffer.concat([Buffer.from(`GET ${url} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n`), ...lines, Buffer.from('\r\n')])
    const status = await rawRequest(port, request)
    if (status === 0 || status >= 500) throw new Error(`answered ${status} to ${JSON.stringify(request.toString('latin1').slice(0, 300))}`)
  }))
})
