import type { FastifyError } from 'fastify'
import { test, type Test } from 'tap'
import { build, settle } from '../helpers'
import { depends } from '../../lib/index'

// Ported from FastAPI's tests/test_dependency_contextmanager.py: generator and async generator
// dependencies around async and sync handlers, errors thrown into them, nested generators.
// FastAPI's "the exception reaches the test client" is our "Fastify's error handler receives the
// very same error"; its "raise_server_exceptions=False" is our 500 response.
// FastAPI's HTTP middleware is an onSend hook; its background tasks are an onResponse hook.

class AsyncDependencyError extends Error {}
class SyncDependencyError extends Error {}
class OtherDependencyError extends Error {}

type Handler = 'async' | 'sync'

async function contextApp (t: Test) {
  const state: Record<string, string> = {
    '/async': 'asyncgen not started',
    '/sync': 'generator not started',
    '/async_raise': 'asyncgen raise not started',
    '/sync_raise': 'generator raise not started',
    context_a: 'not started a',
    context_b: 'not started b',
    bg: 'not set',
    sync_bg: 'not set'
  }
  const errors: string[] = []
  const handled: unknown[] = []
  const getState = depends(async () => state, { name: 'getState' })

  const asyncgenState = depends({ state: getState }, async function * asyncgenState ({ state }) {
    state['/async'] = 'asyncgen started'
    yield state['/async']
    state['/async'] = 'asyncgen completed'
  })
  const generatorState = depends({ state: getState }, function * generatorState ({ state }) {
    state['/sync'] = 'generator started'
    yield state['/sync']
    state['/sync'] = 'generator completed'
  })
  const asyncgenStateTry = depends({ state: getState }, async function * asyncgenStateTry ({ state }) {
    state['/async_raise'] = 'asyncgen raise started'
    try {
      yield state['/async_raise']
    } catch (err) {
      if (err instanceof AsyncDependencyError) errors.push('/async_raise')
      throw err
    } finally {
      state['/async_raise'] = 'asyncgen raise finalized'
    }
  })
  const generatorStateTry = depends({ state: getState }, function * generatorStateTry ({ state }) {
    state['/sync_raise'] = 'generator raise started'
    try {
      yield state['/sync_raise']
    } catch (err) {
      if (err instanceof SyncDependencyError) errors.push('/sync_raise')
      throw err
    } finally {
      state['/sync_raise'] = 'generator raise finalized'
    }
  })
  const contextA = depends({ state: getState }, async function * contextA ({ state }) {
    state.context_a = 'started a'
    try {
      yield state
    } finally {
      state.context_a = 'finished a'
    }
  })
  const contextB = depends({ state: contextA }, async function * contextB ({ state }) {
    state.context_b = 'started b'
    try {
      yield state
    } finally {
      state.context_b = `finished b with a: ${state.context_a}`
    }
  })

  const app = await build(t)
  app.setErrorHandler((err: FastifyError, _request, reply) => {
    handled.push(err)
    reply.send(err)
  })
  // FastAPI's HTTP middleware: sees the response before request-scoped cleanup
  app.addHook('onSend', async (_request, reply, payload) => {
    reply.header('x-state', JSON.stringify(state))
    return payload
  })

  /** The route in both flavours: `/x` with an async handler, `/sync_x` with a sync one. */
  function route (path: string, dependency: typeof asyncgenState | typeof contextB, body: (value: any) => unknown) {
    app.get(path, { dependencies: { value: dependency } }, async (request) => body(request.deps.value))
    app.get(`/sync_${path.slice(1)}`, { dependencies: { value: dependency } }, (request) => body(request.deps.value))
  }
  route('/async', asyncgenState, (value) => value)
  route('/sync', generatorState, (value) => value)
  route('/async_raise', asyncgenStateTry, (value) => {
    if (value !== 'asyncgen raise started') throw new Error('unexpected state')
    throw new AsyncDependencyError('async')
  })
  route('/sync_raise', generatorStateTry, (value) => {
    if (value !== 'generator raise started') throw new Error('unexpected state')
    throw new SyncDependencyError('sync')
  })
  route('/async_raise_other', asyncgenStateTry, () => { throw new OtherDependencyError('other') })
  route('/sync_raise_other', generatorStateTry, () => { throw new OtherDependencyError('other') })
  route('/context_b', contextB, (value) => value)
  route('/context_b_raise', contextB, (value) => {
    if (value.context_b !== 'started b' || value.context_a !== 'started a') throw new Error('unexpected state')
    throw new OtherDependencyError('other')
  })
  // FastAPI's background task: an instance-level onResponse hook
  let finished: () => void = () => {}
  const background = new Promise<void>((resolve) => { finished = resolve })
  app.addHook('onResponse', async (request) => {
    if (!request.url.endsWith('context_b_bg')) return
    const key = request.url.startsWith('/sync_') ? 'sync_bg' : 'bg'
    state[key] = `${key} set - b: ${state.context_b} - a: ${state.context_a}`
    finished()
  })
  route('/context_b_bg', contextB, (value) => value)
  await app.ready()
  return { app, state, errors, handled, background }
}

/** FastAPI's async handler tests and their sync-handler twins ("sync_..." there). */
for (const handler of ['async', 'sync'] as Handler[]) {
  const url = (path: string) => handler === 'async' ? path : `/sync_${path.slice(1)}`
  const port = (name: string) => handler === 'async' ? name : `test_sync_${name.slice('test_'.length)}`

  // ported from tests/test_dependency_contextmanager.py test_async_state / test_sync_async_state
  test(`${port('test_async_state')}: an async generator's value is served and its cleanup runs after the response (${handler} handler)`, async (t) => {
    const { app, state } = await contextApp(t)
    t.equal(state['/async'], 'asyncgen not started')
    const res = await app.inject(url('/async'))
    t.equal(res.statusCode, 200)
    t.equal(res.body, 'asyncgen started')
    t.equal(JSON.parse(res.headers['x-state'] as string)['/async'], 'asyncgen started', 'the onSend hook runs before request-scoped cleanup')
    await settle()
    t.equal(state['/async'], 'asyncgen completed')
  })

  // ported from tests/test_dependency_contextmanager.py test_sync_state / test_sync_sync_state
  test(`${port('test_sync_state')}: a generator's value is served and its cleanup runs after the response (${handler} handler)`, async (t) => {
    const { app, state } = await contextApp(t)
    t.equal(state['/sync'], 'generator not started')
    const res = await app.inject(url('/sync'))
    t.equal(res.statusCode, 200)
    t.equal(res.body, 'generator started')
    await settle()
    t.equal(state['/sync'], 'generator completed')
  })

  for (const [kind, Expected] of [['async', AsyncDependencyError], ['sync', SyncDependencyError]] as const) {
    const generator = kind === 'async' ? 'asyncgen' : 'generator'
    // ported from tests/test_dependency_contextmanager.py test_async_raise_other / test_sync_raise_other / test_sync_async_raise_other / test_sync_sync_raise_other
    test(`${port(`test_${kind}_raise_other`)}: an error the ${generator} does not catch passes through it to the error handler; its finally runs (${handler} handler)`, async (t) => {
      const { app, state, errors, handled } = await contextApp(t)
      t.equal(state[`/${kind}_raise`], `${generator} raise not started`)
      const res = await app.inject(url(`/${kind}_raise_other`))
      t.equal(res.statusCode, 500)
      t.equal(res.json().message, 'other')
      t.equal(handled.length, 1)
      t.ok(handled[0] instanceof OtherDependencyError, 'the handler error itself reaches the error handler')
      t.equal(state[`/${kind}_raise`], `${generator} raise finalized`)
      t.same(errors, [])
    })

    // ported from tests/test_dependency_contextmanager.py test_async_raise_raises / test_sync_raise_raises / test_sync_async_raise_raises / test_sync_sync_raise_raises
    test(`${port(`test_${kind}_raise_raises`)}: the ${generator} sees the handler error, re-throws it, and the error handler gets the same error (${handler} handler)`, async (t) => {
      const { app, state, errors, handled } = await contextApp(t)
      await app.inject(url(`/${kind}_raise`))
      t.equal(handled.length, 1)
      t.ok(handled[0] instanceof Expected)
      t.equal(state[`/${kind}_raise`], `${generator} raise finalized`)
      t.same(errors, [`/${kind}_raise`])
    })

    // ported from tests/test_dependency_contextmanager.py test_async_raise_server_error / test_sync_raise_server_error / test_sync_async_raise_server_error / test_sync_sync_raise_server_error
    test(`${port(`test_${kind}_raise_server_error`)}: a handler error re-thrown by the ${generator} answers 500 (${handler} handler)`, async (t) => {
      const { app, state, errors } = await contextApp(t)
      const res = await app.inject(url(`/${kind}_raise`))
      t.equal(res.statusCode, 500)
      t.same(res.json(), { statusCode: 500, error: 'Internal Server Error', message: kind })
      t.equal(state[`/${kind}_raise`], `${generator} raise finalized`)
      t.same(errors, [`/${kind}_raise`])
    })
  }

  // ported from tests/test_dependency_contextmanager.py test_context_b / test_sync_context_b
  test(`${port('test_context_b')}: nested generators are entered outer-first and finalized inner-first (${handler} handler)`, async (t) => {
    const { app, state } = await contextApp(t)
    const res = await app.inject(url('/context_b'))
    const data = res.json()
    t.equal(data.context_b, 'started b')
    t.equal(data.context_a, 'started a')
    await settle()
    t.equal(state.context_b, 'finished b with a: started a', 'b was finalized while a was still open')
    t.equal(state.context_a, 'finished a')
  })

  // ported from tests/test_dependency_contextmanager.py test_context_b_raise / test_sync_context_b_raise
  test(`${port('test_context_b_raise')}: on a handler error nested generators are finalized inner-first (${handler} handler)`, async (t) => {
    const { app, state, handled } = await contextApp(t)
    const res = await app.inject(url('/context_b_raise'))
    t.equal(res.statusCode, 500)
    t.ok(handled[0] instanceof OtherDependencyError)
    t.equal(state.context_b, 'finished b with a: started a')
    t.equal(state.context_a, 'finished a')
  })

  // ported from tests/test_dependency_contextmanager.py test_background_tasks / test_sync_background_tasks
  test(`${port('test_background_tasks')}: an onResponse hook (Fastify's background work) runs before request-scoped cleanup, as FastAPI's tasks do (${handler} handler)`, async (t) => {
    const { app, state, background } = await contextApp(t)
    const key = handler === 'async' ? 'bg' : 'sync_bg'
    const res = await app.inject(url('/context_b_bg'))
    const data = res.json()
    t.equal(data.context_b, 'started b')
    t.equal(data.context_a, 'started a')
    t.equal(data[key], 'not set')
    const seenBySend = JSON.parse(res.headers['x-state'] as string)
    t.equal(seenBySend.context_b, 'started b')
    t.equal(seenBySend.context_a, 'started a')
    t.equal(seenBySend[key], 'not set')
    await background
    t.equal(state.context_b, 'finished b with a: started a')
    t.equal(state.context_a, 'finished a')
    // As FastAPI: "bg set - b: started b - a: started a" (instance-level onResponse hooks run before
    // the route's, where the plugin finalizes the request scope)
    t.equal(state[key], `${key} set - b: started b - a: started a`)
  })
}
