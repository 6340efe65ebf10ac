import { AsyncLocalStorage } from 'node:async_hooks'
import { Type } from '@sinclair/typebox'
import type { FastifyError, FastifyInstance } from 'fastify'
import { test, type Test } from 'tap'
import { build, settle } from '../helpers'
import { depends, Depends, Security, Query, APIKeyHeader, type Dependency } from '../../lib/index'

// Ported from FastAPI's tests/test_dependency_class.py, tests/test_dependency_partial.py,
// tests/test_dependency_wrapped.py, tests/test_dependency_pep695.py, tests/test_dependency_models.py
// and tests/test_dependency_contextvars.py. Python's callable classes, bound methods,
// functools.partial and @wraps become JS class instances called from a closure, bound methods,
// Function.prototype.bind and kind-preserving wrappers (FastAPI unwraps `__wrapped__`; JS has no such
// convention, so a wrapper must itself be a generator to wrap one).

type Fn = (...args: any[]) => any

async function expectValues (t: Test, app: FastifyInstance, cases: Array<[string, unknown]>, query = false) {
  await app.ready()
  for (const [url, expected] of cases) {
    const res = await app.inject(query ? `${url}?value=${url.slice(1)}` : url)
    t.equal(res.statusCode, 200, url)
    t.same(res.json(), expected, url)
  }
}

/** FastAPI's classes, the JS way: methods take the inputs record. */
class CallableDependency { call ({ value }: { value: string }) { return value } }
class CallableGenDependency { * call ({ value }: { value: string }) { yield value } }
class AsyncCallableDependency { async call ({ value }: { value: string }) { return value } }
class AsyncCallableGenDependency { async * call ({ value }: { value: string }) { yield value } }
class MethodsDependency {
  synchronous ({ value }: { value: string }) { return value }
  async asynchronous ({ value }: { value: string }) { return value }
  * synchronousGen ({ value }: { value: string }) { yield value }
  async * asynchronousGen ({ value }: { value: string }) { yield value }
}

// ported from tests/test_dependency_class.py test_class_dependency (12 parametrized cases)
test('class instances and their methods, sync, async, generator and async generator, are dependencies', async (t) => {
  const app = await build(t)
  const inputs = { value: Query('value', Type.String()) }
  const methods = new MethodsDependency()
  const routes: Array<[string, Dependency<unknown>]> = [
    // an instance's method, bound: keeps its kind, so generators stay generators
    ['/callable-dependency', depends(inputs, CallableDependency.prototype.call.bind(new CallableDependency()))],
    ['/callable-gen-dependency', depends(inputs, CallableGenDependency.prototype.call.bind(new CallableGenDependency()))],
    ['/async-callable-dependency', depends(inputs, AsyncCallableDependency.prototype.call.bind(new AsyncCallableDependency()))],
    ['/async-callable-gen-dependency', depends(inputs, AsyncCallableGenDependency.prototype.call.bind(new AsyncCallableGenDependency()))],
    ['/synchronous-method-dependency', depends(inputs, methods.synchronous.bind(methods))],
    ['/synchronous-method-gen-dependency', depends(inputs, methods.synchronousGen.bind(methods))],
    ['/asynchronous-method-dependency', depends(inputs, methods.asynchronous.bind(methods))],
    ['/asynchronous-method-gen-dependency', depends(inputs, methods.asynchronousGen.bind(methods))]
  ]
  for (const [url, dep] of routes) app.get(url, { dependencies: { value: dep } }, async (request) => JSON.stringify(request.deps.value))
  // FastAPI's `Depends()` on a class: the dependency builds the instance, the handler calls it
  const classRoutes: Array<[string, new () => { call: Fn }, (result: any) => unknown]> = [
    ['/callable-dependency-class', CallableDependency, (result) => result],
    ['/callable-gen-dependency-class', CallableGenDependency, (result) => result.next().value],
    ['/async-callable-dependency-class', AsyncCallableDependency, (result) => result],
    ['/async-callable-gen-dependency-class', AsyncCallableGenDependency, async (result) => (await result.next()).value]
  ]
  for (const [url, Cls, read] of classRoutes) {
    const instance = depends(() => new Cls(), { name: Cls.name })
    app.get(url, { dependencies: { instance, value: inputs.value } }, async (request) =>
      JSON.stringify(await read((request.deps.instance as { call: Fn }).call({ value: request.deps.value }))))
  }
  await expectValues(t, app, [...routes, ...classRoutes].map(([url]) => [url, url.slice(1)]), true)
})

function functionDependency (value: string) { return value }
async function asyncFunctionDependency (value: string) { return value }
function * genDependency (value: string) { yield value }
async function * asyncGenDependency (value: string) { yield value }
class PartialMethods {
  synchronous (value: string) { return value }
  async asynchronous (value: string) { return value }
  * synchronousGen (value: string) { yield value }
  async * asynchronousGen (value: string) { yield value }
}

// ported from tests/test_dependency_partial.py test_dependency_types_with_partial (12 parametrized cases)
test('functions and methods with leading arguments bound (functools.partial) keep their kind', async (t) => {
  const app = await build(t)
  const m = new PartialMethods()
  const partials: Array<[string, Fn]> = [
    ['/partial-function-dependency', functionDependency.bind(null, 'partial-function-dependency')],
    ['/partial-async-function-dependency', asyncFunctionDependency.bind(null, 'partial-async-function-dependency')],
    ['/partial-gen-dependency', genDependency.bind(null, 'partial-gen-dependency')],
    ['/partial-async-gen-dependency', asyncGenDependency.bind(null, 'partial-async-gen-dependency')],
    ['/partial-callable-dependency', m.synchronous.bind(m, 'partial-callable-dependency')],
    ['/partial-callable-gen-dependency', m.synchronousGen.bind(m, 'partial-callable-gen-dependency')],
    ['/partial-async-callable-dependency', m.asynchronous.bind(m, 'partial-async-callable-dependency')],
    ['/partial-async-callable-gen-dependency', m.asynchronousGen.bind(m, 'partial-async-callable-gen-dependency')],
    ['/partial-synchronous-method-dependency', m.synchronous.bind(m, 'partial-synchronous-method-dependency')],
    ['/partial-synchronous-method-gen-dependency', m.synchronousGen.bind(m, 'partial-synchronous-method-gen-dependency')],
    ['/partial-asynchronous-method-dependency', m.asynchronous.bind(m, 'partial-asynchronous-method-dependency')],
    ['/partial-asynchronous-method-gen-dependency', m.asynchronousGen.bind(m, 'partial-asynchronous-method-gen-dependency')]
  ]
  for (const [url, fn] of partials) app.get(url, { dependencies: { value: depends(fn) } }, async (request) => JSON.stringify(request.deps.value))
  await expectValues(t, app, partials.map(([url]) => [url, url.slice(1)]))
})

const kind = (fn: Fn) => Object.prototype.toString.call(fn)
/** FastAPI's `noop_wrap`, kind-preserving: a generator is wrapped by a generator that delegates to it. */
function noopWrap<F extends Fn> (fn: F): F {
  if (kind(fn) === '[object GeneratorFunction]') return function * (this: unknown, ...args: unknown[]) { return yield * fn.apply(this, args) } as unknown as F
  if (kind(fn) === '[object AsyncGeneratorFunction]') return async function * (this: unknown, ...args: unknown[]) { return yield * fn.apply(this, args) } as unknown as F
  return function (this: unknown, ...args: unknown[]) { return fn.apply(this, args) } as F
}
/** FastAPI's `noop_wrap_async`: every wrapper is async (an async generator for generators). */
function noopWrapAsync<F extends Fn> (fn: F): F {
  if (kind(fn).includes('GeneratorFunction')) return async function * (this: unknown, ...args: unknown[]) { return yield * fn.apply(this, args) } as unknown as F
  return async function (this: unknown, ...args: unknown[]) { return await fn.apply(this, args) } as F
}

// ported from tests/test_dependency_wrapped.py test_class_dependency (28 parametrized cases)
test('dependencies and handlers wrapped by kind-preserving wrappers, sync and async, resolve to the wrapped value', async (t) => {
  const app = await build(t)
  class ClassDep { value = true }
  const instance = { call () { return true }, * gen () { yield true }, async asyncCall () { return true }, async * asyncGen () { yield true } }
  const dependencies: Array<[string, Fn]> = [
    ['/wrapped-dependency/', noopWrap(() => true)],
    ['/wrapped-gen-dependency/', noopWrap(function * () { yield true })],
    ['/async-wrapped-dependency/', noopWrap(async () => true)],
    ['/async-wrapped-gen-dependency/', noopWrap(async function * () { yield true })],
    ['/wrapped-class-instance-dependency/', noopWrap(instance.call.bind(instance))],
    ['/wrapped-class-instance-async-dependency/', noopWrap(instance.asyncCall.bind(instance))],
    ['/wrapped-class-instance-gen-dependency/', noopWrap(instance.gen.bind(instance))],
    ['/wrapped-class-instance-async-gen-dependency/', noopWrap(instance.asyncGen.bind(instance))],
    ['/class-instance-wrapped-dependency/', noopWrap(instance.call).bind(instance)],
    ['/class-instance-wrapped-async-dependency/', noopWrapAsync(instance.call).bind(instance)],
    ['/class-instance-async-wrapped-dependency/', noopWrap(instance.asyncCall).bind(instance)],
    ['/class-instance-async-wrapped-async-dependency/', noopWrapAsync(instance.asyncCall).bind(instance)],
    ['/class-instance-wrapped-gen-dependency/', noopWrap(instance.gen).bind(instance)],
    ['/class-instance-wrapped-async-gen-dependency/', noopWrapAsync(instance.gen).bind(instance)],
    ['/class-instance-async-wrapped-gen-dependency/', noopWrap(instance.asyncGen).bind(instance)],
    ['/class-instance-async-wrapped-gen-async-dependency/', noopWrapAsync(instance.asyncGen).bind(instance)],
    ['/wrapped-class-dependency/', noopWrap(() => new ClassDep().value)],
    ['/wrapped-dependency-async-wrapper/', noopWrapAsync(() => true)],
    ['/wrapped-gen-dependency-async-wrapper/', noopWrapAsync(function * () { yield true })],
    ['/async-wrapped-dependency-async-wrapper/', noopWrapAsync(async () => true)],
    ['/async-wrapped-gen-dependency-async-wrapper/', noopWrapAsync(async function * () { yield true })],
    ['/wrapped-class-instance-dependency-async-wrapper/', noopWrapAsync(instance.call.bind(instance))],
    ['/wrapped-class-instance-async-dependency-async-wrapper/', noopWrapAsync(instance.asyncCall.bind(instance))],
    ['/wrapped-class-dependency-async-wrapper/', noopWrapAsync(() => new ClassDep().value)]
  ]
  for (const [url, fn] of dependencies) app.get(url, { dependencies: { value: depends(fn) } }, async (request) => JSON.stringify(request.deps.value))
  const handlers: Array<[string, Fn]> = [
    ['/wrapped-endpoint/', noopWrap(() => 'true')],
    ['/async-wrapped-endpoint/', noopWrap(async () => 'true')],
    ['/wrapped-endpoint-async-wrapper/', noopWrapAsync(() => 'true')],
    ['/async-wrapped-endpoint-async-wrapper/', noopWrapAsync(async () => 'true')]
  ]
  for (const [url, handler] of handlers) app.get(url, handler)
  await expectValues(t, app, [...dependencies, ...handlers].map(([url]) => [url, true]))
})

test('a plain function that returns a generator is a plain dependency: its value is the unstarted generator', async (t) => {
  const app = await build(t)
  let started = false
  function * gen () {
    started = true
    yield 'value'
  }
  app.get('/', { dependencies: { value: depends(() => gen()) } }, async (request) => ({
    isGenerator: Object.prototype.toString.call(request.deps.value) === '[object Generator]'
  }))
  t.same((await app.inject('/')).json(), { isGenerator: true })
  t.equal(started, false, 'never iterated, never finalized')
})

// ported from tests/test_dependency_pep695.py test_pep695_type_dependencies
test('a dependency use kept in a named constant (a type alias there) works like an inline one', async (t) => {
  const app = await build(t)
  const someValue = depends(async () => 123, { name: 'someValue' })
  const DependedValue = Depends(someValue)
  app.get('/', { dependencies: { value: DependedValue } }, async (request) => `value: ${request.deps.value as number}`)
  const res = await app.inject('/')
  t.equal(res.statusCode, 200)
  t.equal(res.body, 'value: 123')
})

// ported from tests/test_dependency_models.py test_callable_classification
test('plain, async, generator and async generator functions are told apart by their kind', async (t) => {
  const app = await build(t)
  app.get('/', {
    dependencies: {
      sync: depends(() => 'sync'),
      async: depends(async () => 'async'),
      generator: depends(function * () { yield 'generator' }),
      asyncGenerator: depends(async function * () { yield 'asyncGenerator' })
    }
  }, async (request) => request.deps)
  t.same((await app.inject('/')).json(), { sync: 'sync', async: 'async', generator: 'generator', asyncGenerator: 'asyncGenerator' })
})

// ported from tests/test_dependency_models.py test_equal_callable_instances_are_cached_by_identity
test('dependencies are identified by the object depends() returned, not by their function', async (t) => {
  const app = await build(t)
  let calls = 0
  const count = () => ++calls
  const first = depends(count)
  const second = depends(count)
  app.get('/', { dependencies: { a: first, b: second, c: Depends(first) } }, async (request) => request.deps)
  t.same((await app.inject('/')).json(), { a: 1, b: 2, c: 1 })
})

// ported from tests/test_dependency_models.py test_security_scheme_helpers
test('a dependency with a security scheme among its inputs uses scopes: one value per scope set', async (t) => {
  const app = await build(t)
  let calls = 0
  const user = depends({ key: APIKeyHeader({ name: 'key' }) }, () => ++calls, { name: 'user' })
  app.get('/', { dependencies: { plain: user, scoped: Security(user, ['a']), again: Security(user, ['a']) } }, async (request) => request.deps)
  t.same((await app.inject({ url: '/', headers: { key: 'k' } })).json(), { plain: 1, scoped: 2, again: 2 })
})

// ported from tests/test_dependency_models.py test_derived_values_follow_dependency_state
test('accumulated scopes are the parent\'s first, then the dependency\'s own new ones', async (t) => {
  const app = await build(t)
  const child = depends((_inputs, { securityScopes }) => securityScopes.scopes, { name: 'child', usesScopes: true })
  const parent = depends({ scopes: Security(child, ['own', 'parent']) }, ({ scopes }) => scopes, { name: 'parent' })
  app.get('/', { dependencies: { scopes: Security(parent, ['parent']) } }, async (request) => request.deps)
  t.same((await app.inject('/')).json(), { scopes: ['parent', 'own'] })
})

// ported from tests/test_dependency_models.py test_explicit_and_generator_scopes
test('an explicit scope: "function" on a plain dependency counts for the scope rule', async (t) => {
  const app = await build(t)
  const plain = depends(() => 'plain', { name: 'plain', scope: 'function' })
  const session = depends({ plain }, function * session () { yield 'session' })
  app.get('/', { dependencies: { session } }, async () => 'unreachable')
  const err = await app.ready().then(() => null, (e: FastifyError) => e)
  t.equal(err?.code, 'FST_DEPENDS_SCOPE')
  t.match(err?.message, 'The dependency "session" has a scope of "request"')
})

// ported from tests/test_dependency_contextvars.py test_dependency_contextvars (contextvars: AsyncLocalStorage)
test('a generator\'s setup and cleanup share the async context the handler sees; an onSend hook still adds headers', async (t) => {
  const app = await build(t)
  const requestState = new AsyncLocalStorage<{ user: string }>()
  let seenByCleanup: unknown = 'cleanup did not run'
  const setUpRequestState = depends(async function * setUpRequestState () {
    const state = { user: 'deadpond' }
    requestState.enterWith(state)
    yield state
    seenByCleanup = requestState.getStore() === state
  })
  app.addHook('onSend', async (_request, reply, payload) => {
    reply.header('custom', 'foo')
    return payload
  })
  app.get('/user', { dependencies: [setUpRequestState] }, async () => requestState.getStore()?.user)
  const res = await app.inject('/user')
  t.equal(res.body, 'deadpond')
  t.equal(res.headers.custom, 'foo')
  await settle()
  t.equal(seenByCleanup, true)
})
