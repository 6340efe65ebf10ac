import type { FastifyInstance, RouteOptions } from 'fastify'
import fp from 'fastify-plugin'
import { describeValue, type DependencyList } from './dependency'
import { DependencyInvalidError } from './errors'
import {
  createEarlyHook, createResolveHook, errorHook, finalizeFunctionScopeHook, finalizeRequestScopeHook, wrapHandler,
  type RouteState
} from './hooks'
import { DependencyOverrides } from './overrides'
import { compilePlan, normalizeDependencyList, type RootEntry } from './plan'
import { compileCookieValidation, createCookieHook, type CookieValidation } from './cookies'
import { collectSecurity, createSwaggerTransform, securityRequirement, type SwaggerTransform } from './openapi'
import { mergeParams } from './schema-merge'
import { kContextDependencies, kCookieValues, kRegistry, kRequestState } from './symbols'

export interface FastifyDependsOptions {
  /** Dependencies run for every route of the app, before any other. */
  dependencies?: DependencyList
  /** `'parallel'` lets independent dependencies resolve concurrently (default `'sequential'`). */
  concurrency?: 'sequential' | 'parallel'
}

interface CompiledRoute extends RouteState {
  readonly roots: readonly RootEntry[]
}

interface Registry {
  readonly root: FastifyInstance
  readonly parallel: boolean
  readonly overrides: DependencyOverrides
  readonly routes: CompiledRoute[]
  /** Registration errors, thrown from onReady so they surface from ready()/listen(). */
  readonly errors: Error[]
  /** @fastify/swagger's global `transform`, when it was registered after this plugin. */
  swaggerTransform: SwaggerTransform | undefined
  /** Routes with `Cookie()` parameters, whose validators are compiled at ready time. */
  readonly cookieValidations: CookieValidation[]
  /** Contexts that declared routes (or whose descendants did): too late for addDependencies. */
  readonly contextsWithRoutes: WeakSet<object>
}

type DependsInstance = FastifyInstance & {
  [kContextDependencies]: readonly (readonly RootEntry[])[]
  [kRegistry]: Registry
}

function routeLabel (options: RouteOptions): string {
  const method = Array.isArray(options.method) ? options.method.join(',') : options.method
  return `${method} ${options.url}`
}

function prependHook (existing: unknown, hook: Function): Function[] {
  if (existing == null) return [hook]
  return Array.isArray(existing) ? [hook, ...existing] : [hook, existing as Function]
}

function markContextHasRoutes (registry: Registry, context: object): void {
  for (let current: object | null = context; current !== null; current = Object.getPrototypeOf(current)) {
    registry.contextsWithRoutes.add(current)
    if (current === registry.root) break
  }
}

function registrationFailed (err: unknown) {
  return function dependenciesFailedToRegister (_request: unknown, _reply: unknown, done: (err: unknown) => void): void {
    done(err)
  }
}

const kPluginMeta = Symbol.for('plugin-meta')

// @fastify/swagger calls a route's own `swaggerTransform` instead of its global `transform`;
// to hand over to the global one, the plugin notes it as @fastify/swagger is registered.
function watchSwaggerRegistration (fastify: FastifyInstance, registry: Registry): void {
  const register = fastify.register
  fastify.register = function registerNotingSwagger (this: FastifyInstance, plugin: unknown, options?: unknown) {
    const candidate = (plugin as { default?: unknown })?.default ?? plugin
    const meta = (candidate as Record<symbol, { name?: string } | undefined>)?.[kPluginMeta]
    if (meta?.name === '@fastify/swagger' && typeof (options as { transform?: unknown })?.transform === 'function') {
      registry.swaggerTransform = (options as { transform: SwaggerTransform }).transform
    }
    return (register as Function).call(this, plugin, options)
  } as FastifyInstance['register']
}

function recompileAll (registry: Registry): void {
  for (const route of registry.routes) {
    route.plan = compilePlan(route.label, route.roots, registry.overrides.normalized, registry.parallel)
  }
}

function onRoute (this: FastifyInstance, options: RouteOptions): void {
  const context = this as DependsInstance
  const registry = context[kRegistry]
  const label = routeLabel(options)
  let roots: RootEntry[]
  try {
    roots = [...context[kContextDependencies].flat(), ...normalizeDependencyList(options.dependencies, `Route ${label}`)]
  } catch (err) {
    registry.errors.push(err as Error)
    options.preHandler = prependHook(options.preHandler, registrationFailed(err)) as RouteOptions['preHandler']
    return
  }
  markContextHasRoutes(registry, this)
  if (roots.length === 0) return
  let plan
  try {
    plan = compilePlan(label, roots, registry.overrides.normalized, registry.parallel)
  } catch (err) {
    registry.errors.push(err as Error)
    // ready() rejects; should the app be used anyway, the route answers with the error
    // instead of running its handler without its dependencies.
    options.preHandler = prependHook(options.preHandler, registrationFailed(err)) as RouteOptions['preHandler']
    return
  }
  let cookies: CookieValidation | undefined
  if (plan.params.length > 0) {
    try {
      const methods = Array.isArray(options.method) ? options.method : [options.method]
      const merged = mergeParams(label, options.url, methods, options.schema, plan.params)
      options.schema = merged.schema
      if (merged.cookies !== undefined) {
        cookies = {
          schema: merged.cookies,
          method: methods.join(','),
          url: options.url,
          routeCompiler: options.validatorCompiler as CookieValidation['routeCompiler'],
          context: this as CookieValidation['context'],
          validate: null
        }
        registry.cookieValidations.push(cookies)
      }
    } catch (err) {
      registry.errors.push(err as Error)
      options.preHandler = prependHook(options.preHandler, registrationFailed(err)) as RouteOptions['preHandler']
      return
    }
  }
  const security = collectSecurity(roots)
  if (security.length > 0) {
    const schema = options.schema as Record<string, unknown> | undefined
    if (schema?.security === undefined) options.schema = { ...schema, security: [securityRequirement(security)] } as RouteOptions['schema']
    const config = (options.config ?? {}) as { swaggerTransform?: Parameters<typeof createSwaggerTransform>[1] }
    options.config = { ...config, swaggerTransform: createSwaggerTransform(security, config.swaggerTransform, () => registry.swaggerTransform) } as RouteOptions['config']
  }
  const route: CompiledRoute = { label, roots, plan }
  registry.routes.push(route)
  if (plan.early.length > 0) options.onRequest = prependHook(options.onRequest, createEarlyHook(route)) as RouteOptions['onRequest']
  options.preHandler = prependHook(options.preHandler, createResolveHook(route)) as RouteOptions['preHandler']
  if (cookies !== undefined) options.preHandler = prependHook(options.preHandler, createCookieHook(cookies)) as RouteOptions['preHandler']
  options.handler = wrapHandler(options.handler)
}

function addDependencies (this: FastifyInstance, list: DependencyList): FastifyInstance {
  const context = this as DependsInstance
  const registry = context[kRegistry]
  let entries: RootEntry[]
  try {
    entries = normalizeDependencyList(list, 'addDependencies()')
  } catch (err) {
    registry.errors.push(err as Error)
    return this
  }
  if (registry.contextsWithRoutes.has(this)) {
    registry.errors.push(new DependencyInvalidError(
      'addDependencies() was called after this context (or a plugin inside it) declared routes; call it before the routes it should apply to'
    ))
    return this
  }
  context[kContextDependencies] = [...context[kContextDependencies], entries]
  return this
}

async function fastifyDepends (fastify: FastifyInstance, options: FastifyDependsOptions): Promise<void> {
  if (fastify.hasDecorator('dependencyOverrides')) {
    throw new DependencyInvalidError('fastify-depends is already registered on this instance; register it once, at the root')
  }
  const concurrency = options.concurrency ?? 'sequential'
  if (concurrency !== 'sequential' && concurrency !== 'parallel') {
    throw new DependencyInvalidError(`fastify-depends: concurrency must be "sequential" or "parallel", got ${describeValue(concurrency)}`)
  }
  const overrides = new DependencyOverrides()
  const registry: Registry = {
    root: fastify,
    parallel: concurrency === 'parallel',
    overrides,
    routes: [],
    errors: [],
    cookieValidations: [],
    swaggerTransform: undefined,
    contextsWithRoutes: new WeakSet()
  }
  const pluginRoots = normalizeDependencyList(options.dependencies, 'fastify-depends options')
  overrides.listen(() => recompileAll(registry))

  watchSwaggerRegistration(fastify, registry)
  fastify.decorate(kRegistry, registry)
  fastify.decorate(kContextDependencies, pluginRoots.length === 0 ? [] : [pluginRoots])
  fastify.decorate('dependencyOverrides', overrides)
  fastify.decorate('addDependencies', addDependencies)
  fastify.decorateRequest('deps', null as unknown as Record<string, unknown>)
  fastify.decorateRequest(kRequestState, null)
  fastify.addHook('onRoute', onRoute)
  // Instance-level, so that function-scoped cleanup runs before the onSend hooks registered
  // after the plugin (compression, etags) and every onError/onResponse hook sees it done.
  fastify.addHook('onSend', finalizeFunctionScopeHook)
  fastify.addHook('onResponse', finalizeRequestScopeHook)
  fastify.addHook('onError', errorHook)
  fastify.decorateRequest(kCookieValues, null)
  fastify.addHook('onReady', function checkRegistration (done) {
    if (registry.errors.length > 0) {
      done(registry.errors[0])
      return
    }
    try {
      for (const cookies of registry.cookieValidations) compileCookieValidation(cookies)
    } catch (err) {
      done(err as Error)
      return
    }
    done()
  })
}

export const plugin = fp(fastifyDepends, { fastify: '5.x', name: 'fastify-depends' })
