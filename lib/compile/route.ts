import type { FastifyInstance, RouteOptions } from 'fastify'
import type { DependencyList } from '../define/dependency'
import { AddDependenciesTooLateError, SocketRouteUnguardedError } from '../errors'
import { createEarlyHook, createResolveHook, responseFailedHook, responseFinishedHook, responseProducedHook, wrapHandler, type RouteState } from '../run/hooks'
import type { AppScope } from '../run/app-scope'
import type { LiveRequests } from '../run/live-requests'
import type { DependencyOverrides } from '../overrides'
import { createSwaggerTransform, documentRoute } from '../describe/openapi'
import { compilePlan, normalizeDependencyList, type RootEntry } from './plan'
import { routeSeenByPlugin, socketHandlerWrapped } from './registration-guard'
import { mergeParams } from '../params/schema-merge'
import { kContextDependencies, kRegistry } from '../symbols'
import { RouteValidation } from '../params/validation'

export interface CompiledRoute extends RouteState {
  readonly roots: readonly RootEntry[]
  /** The overrides' `version` its plan was compiled for. */
  version: number
  /** The overrides' `version` its validation (merged schema) was made for. */
  schemaVersion: number
}

/** The plugin's state, on the root instance. */
export interface Registry {
  readonly root: FastifyInstance
  readonly parallel: boolean
  readonly serverTiming: boolean
  /** Operations carry `x-dependencies`. */
  readonly xDependencies: boolean
  readonly overrides: DependencyOverrides
  readonly routes: CompiledRoute[]
  /** Registration errors, thrown from onReady so they surface from ready()/listen(). */
  readonly errors: Error[]
  /** Contexts that declared routes (or whose descendants did), with the first one: too late for addDependencies. */
  readonly contextsWithRoutes: WeakMap<object, string>
  /** Validation follows overrides only once Fastify compiled the routes' validators. */
  ready: boolean
  /** In-flight requests with generators or app-scoped values, which close() waits for. */
  readonly live: LiveRequests
  /** App-scoped dependencies (lib/run/app-scope.ts). */
  readonly appScope: AppScope
  /** The plugin's own `dependencies`, which need no route to start their app-scoped ones. */
  readonly pluginRoots: readonly RootEntry[]
}

export type DependsInstance = FastifyInstance & {
  [kContextDependencies]: readonly (readonly RootEntry[])[]
  [kRegistry]: Registry
}

function routeLabel (options: RouteOptions): string {
  const method = Array.isArray(options.method) ? options.method.join(',') : options.method
  return `${method} ${options.url}`
}

function isSocketRoute (options: RouteOptions): boolean {
  const socketOptions = options as RouteOptions & { websocket?: unknown, wsHandler?: unknown }
  return socketOptions.websocket === true || typeof socketOptions.wsHandler === 'function'
}

function prependHook (existing: unknown, hook: Function): Function[] {
  if (existing == null) return [hook]
  return Array.isArray(existing) ? [hook, ...existing] : [hook, existing as Function]
}

function markContextHasRoutes (registry: Registry, context: object, label: string): void {
  for (let current: object | null = context; current !== null; current = Object.getPrototypeOf(current)) {
    if (!registry.contextsWithRoutes.has(current)) registry.contextsWithRoutes.set(current, label)
    if (current === registry.root) break
  }
}

function registrationFailed (err: unknown) {
  return function dependenciesFailedToRegister (_request: unknown, _reply: unknown, done: (err: unknown) => void): void {
    done(err)
  }
}

/**
 * Recompiles the routes' plans and validation for the current overrides (`onlyStale`, at ready():
 * only what was made for another version of them); throws on the first error.
 */
export function recompileAll (registry: Registry, onlyStale = false): void {
  const version = registry.overrides.version
  for (const route of registry.routes) {
    if (!onlyStale || route.version !== version) {
      route.plan = compilePlan(route.label, route.roots, registry.overrides.normalized, registry.parallel, registry.serverTiming, registry.appScope)
      route.version = version
    }
    if (!registry.ready) continue
    // The schema merged when the route was declared fits its plan then; the plugin validates some
    // parameters itself (cookies), which only update() sets up.
    if (onlyStale && route.schemaVersion === version && route.plan.params.length === 0) continue
    route.validation.update(route.plan.params)
    route.schemaVersion = version
  }
}

// Throwing here would escape from `app.get()`; errors are kept for ready(), and the route
// answers with its error should the app be used anyway, rather than run without dependencies.
function fail (registry: Registry, options: RouteOptions, err: unknown): void {
  registry.errors.push(err as Error)
  options.preHandler = prependHook(options.preHandler, registrationFailed(err)) as RouteOptions['preHandler']
}

/** onRoute: compile the route's tree and wire its hooks, schema, validation and documentation. */
export function onRoute (this: FastifyInstance, options: RouteOptions): void {
  const context = this as DependsInstance
  const registry = context[kRegistry]
  routeSeenByPlugin(options)
  const label = routeLabel(options)
  let roots: RootEntry[]
  try {
    roots = [...context[kContextDependencies].flat(), ...normalizeDependencyList(options.dependencies, `Route ${label}`)]
  } catch (err) {
    fail(registry, options, err)
    return
  }
  markContextHasRoutes(registry, this, label)
  if (roots.length === 0) return
  if (isSocketRoute(options) && !socketHandlerWrapped(options)) {
    fail(registry, options, new SocketRouteUnguardedError(label))
    return
  }

  const methods = Array.isArray(options.method) ? options.method : [options.method]
  const validation = new RouteValidation(label, methods, options.url, options.schema, options.validatorCompiler, this)
  let plan
  try {
    plan = compilePlan(label, roots, registry.overrides.normalized, registry.parallel, registry.serverTiming, registry.appScope)
    if (plan.params.length > 0) options.schema = mergeParams(label, options.url, methods, options.schema, plan.params).schema
  } catch (err) {
    fail(registry, options, err)
    return
  }
  options.validatorCompiler = validation.validatorCompiler()

  const config = (options.config ?? {}) as { swaggerTransform?: Parameters<typeof createSwaggerTransform>[2] }
  // OpenAPI describes the original tree, whatever the overrides are now (FastAPI B67).
  const names = registry.overrides.size === 0 ? plan.names : compilePlan(label, roots, new Map(), false, false, registry.appScope).names
  const doc = documentRoute(roots, names)
  options.config = { ...config, swaggerTransform: createSwaggerTransform(doc, registry.xDependencies, config.swaggerTransform, context) } as RouteOptions['config']

  // The response hooks go only where something is to be finalized or timed: a route without
  // dependencies, or whose dependencies are all plain, pays nothing for them (Fastify's hook runners,
  // and the response listeners and clock reads an onResponse hook brings). Route-level hooks run after
  // the instance-level ones (other plugins' onSend: compression, etags) and before the route's own;
  // function-scoped cleanup still runs before a byte is written.
  const responseHooks = plan.tracked || registry.serverTiming
  const route: CompiledRoute = { label, roots, plan, validation, live: registry.live, responseHooks, version: registry.overrides.version, schemaVersion: registry.overrides.version }
  registry.routes.push(route)
  if (plan.early.length > 0) options.onRequest = prependHook(options.onRequest, createEarlyHook(route)) as RouteOptions['onRequest']
  options.preHandler = prependHook(options.preHandler, createResolveHook(route)) as RouteOptions['preHandler']
  if (responseHooks) {
    options.onSend = prependHook(options.onSend, responseProducedHook) as RouteOptions['onSend']
    options.onResponse = prependHook(options.onResponse, responseFinishedHook) as RouteOptions['onResponse']
    options.onError = prependHook(options.onError, responseFailedHook) as RouteOptions['onError']
  }
  const socketOptions = options as RouteOptions & { websocket?: unknown, wsHandler?: unknown }
  // `websocket: true`: the handler is the socket handler, wrapped by the registration guard
  // (lib/run/socket.ts); with a `wsHandler` beside it, the HTTP handler is wrapped for HTTP requests only.
  if (socketOptions.websocket !== true) options.handler = wrapHandler(options.handler, socketOptions.wsHandler !== undefined)
}

/** `instance.addDependencies(list)`: dependencies for every route of this context and its children. */
export function addDependencies (this: FastifyInstance, list: DependencyList): FastifyInstance {
  const context = this as DependsInstance
  const registry = context[kRegistry]
  let entries: RootEntry[]
  try {
    entries = normalizeDependencyList(list, 'addDependencies()')
  } catch (err) {
    registry.errors.push(err as Error)
    return this
  }
  const declared = registry.contextsWithRoutes.get(this)
  if (declared !== undefined) {
    const names = entries.map((entry) => `"${entry.use.dependency.name}"`).join(', ')
    registry.errors.push(new AddDependenciesTooLateError(names, declared))
    return this
  }
  context[kContextDependencies] = [...context[kContextDependencies], entries]
  return this
}
