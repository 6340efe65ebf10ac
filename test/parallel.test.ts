import { test } from 'tap'
import { setTimeout as sleep } from 'node:timers/promises'
import { build, EventLog, settle, within } from './helpers'
import { depends, httpError } from '../lib/index'

function delayed (events: EventLog, name: string, ms: number) {
  return depends(async () => {
    events.record(`${name}:start`)
    await sleep(ms)
    events.record(`${name}:end`)
    return name
  }, { name })
}

test('with concurrency: "parallel", two independent async dependencies overlap', async (t) => {
  const app = await build(t, { concurrency: 'parallel' })
  const events = new EventLog()
  app.get('/x', { dependencies: { a: delayed(events, 'a', 10), b: delayed(events, 'b', 10) } }, async (request) => request.deps)

  const res = await app.inject('/x')
  t.equal(res.statusCode, 200)
  t.same(res.json(), { a: 'a', b: 'b' })
  t.same(events.list(), ['a:start', 'b:start', 'a:end', 'b:end'])
})

test('by default (sequential) independent async dependencies do not overlap', async (t) => {
  const app = await build(t)
  const events = new EventLog()
  app.get('/x', { dependencies: { a: delayed(events, 'a', 10), b: delayed(events, 'b', 10) } }, async (request) => request.deps)

  const res = await app.inject('/x')
  t.equal(res.statusCode, 200)
  t.same(res.json(), { a: 'a', b: 'b' })
  t.same(events.list(), ['a:start', 'a:end', 'b:start', 'b:end'])
})

test('a dependency whose inputs are two async dependencies starts only after both resolved', async (t) => {
  const app = await build(t, { concurrency: 'parallel' })
  const events = new EventLog()
  // a finishes only after b did, so c must wait for the later one of its inputs, whatever their order.
  const a = depends(async () => {
    events.record('a:start')
    await within(events.until('b:end'), 'b:end')
    events.record('a:end')
    return 'a'
  }, { name: 'a' })
  const b = delayed(events, 'b', 5)
  const c = depends({ a, b }, ({ a, b }) => {
    events.record(`c:start(${a},${b})`)
    return `c(${a},${b})`
  }, { name: 'c' })
  app.get('/x', { dependencies: { c } }, async (request) => request.deps)

  const res = await app.inject('/x')
  t.equal(res.statusCode, 200)
  t.same(res.json(), { c: 'c(a,b)' })
  t.same(events.list(), ['a:start', 'b:start', 'b:end', 'a:end', 'c:start(a,b)'])
})

test('generators entered in parallel are finalized in reverse order of entry, not of declaration', async (t) => {
  const app = await build(t, { concurrency: 'parallel' })
  const events = new EventLog()
  // Declared first, entered second: it yields only after the second one has yielded.
  const first = depends(async function * () {
    events.record('first:start')
    await within(events.until('second:entered'), 'second:entered')
    await sleep(5)
    events.record('first:entered')
    yield 'first'
    events.record('first:exit')
  }, { name: 'first' })
  const second = depends(async function * () {
    events.record('second:start')
    events.record('second:entered')
    yield 'second'
    events.record('second:exit')
  }, { name: 'second' })
  const fnFirst = depends(async function * () {
    await within(events.until('fnSecond:entered'), 'fnSecond:entered')
    await sleep(5)
    events.record('fnFirst:entered')
    yield 'fnFirst'
    events.record('fnFirst:exit')
  }, { name: 'fnFirst', scope: 'function' })
  const fnSecond = depends(async function * () {
    events.record('fnSecond:entered')
    yield 'fnSecond'
    events.record('fnSecond:exit')
  }, { name: 'fnSecond', scope: 'function' })
  app.get('/x', { dependencies: { first, second, fnFirst, fnSecond } }, async (request) => {
    events.record('handler')
    return request.deps
  })

  const res = await app.inject('/x')
  t.equal(res.statusCode, 200)
  t.same(res.json(), { first: 'first', second: 'second', fnFirst: 'fnFirst', fnSecond: 'fnSecond' })
  await within(events.until('second:exit'), 'second:exit')
  await settle()
  t.same(events.list(), [
    'first:start', 'second:start', 'second:entered', 'fnSecond:entered', 'first:entered', 'fnFirst:entered',
    'handler',
    'fnFirst:exit', 'fnSecond:exit',
    'first:exit', 'second:exit'
  ])
})

test('when one parallel dependency fails, generators entered by the others, even after the failure, are finalized once and see the error', async (t) => {
  const app = await build(t, { concurrency: 'parallel' })
  const events = new EventLog()
  const early = depends(async function * () {
    events.record('early:entered')
    try {
      yield 'early'
      events.record('early:exit')
    } catch (err) {
      events.record(`early:saw ${(err as Error).message}`)
      throw err
    }
  }, { name: 'early' })
  // In flight when the failure happens; it yields only afterwards.
  const late = depends(async function * () {
    events.record('late:start')
    await within(events.until('bad:throw'), 'bad:throw')
    await sleep(5)
    events.record('late:entered')
    try {
      yield 'late'
      events.record('late:exit')
    } catch (err) {
      events.record(`late:saw ${(err as Error).message}`)
      throw err
    }
  }, { name: 'late' })
  const bad = depends(async () => {
    events.record('bad:start')
    await within(events.until('early:entered'), 'early:entered')
    events.record('bad:throw')
    throw httpError(418, 'bad failed')
  }, { name: 'bad' })
  app.get('/x', { dependencies: { early, late, bad } }, async () => {
    events.record('handler')
    return 'unreachable'
  })

  const res = await app.inject('/x')
  t.equal(res.statusCode, 418)
  t.equal(res.json().message, 'bad failed')
  await settle()
  t.same(events.list(), [
    'early:entered', 'late:start', 'bad:start', 'bad:throw', 'late:entered',
    'late:saw bad failed', 'early:saw bad failed'
  ])
})

test('with concurrency: "parallel" a shared input still runs once per request', async (t) => {
  const app = await build(t, { concurrency: 'parallel' })
  const events = new EventLog()
  let calls = 0
  const shared = depends(async () => {
    events.record('shared:start')
    await sleep(5)
    events.record('shared:end')
    return ++calls
  }, { name: 'shared' })
  const a = depends({ s: shared }, async ({ s }) => { events.record('a'); return `a(${s})` }, { name: 'a' })
  const b = depends({ s: shared }, async ({ s }) => { events.record('b'); return `b(${s})` }, { name: 'b' })
  app.get('/x', { dependencies: { a, b, s: shared } }, async (request) => request.deps)

  const res = await app.inject('/x')
  t.equal(res.statusCode, 200)
  t.same(res.json(), { a: 'a(1)', b: 'b(1)', s: 1 })
  t.same(events.list(), ['shared:start', 'shared:end', 'a', 'b'])

  events.length = 0
  t.same((await app.inject('/x')).json(), { a: 'a(2)', b: 'b(2)', s: 2 }, 'the cache lives for one request')
  t.same(events.list(), ['shared:start', 'shared:end', 'a', 'b'])
})
