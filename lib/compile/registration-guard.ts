import { subscribe } from 'node:diagnostics_channel'
import type { FastifyInstance, RouteOptions } from 'fastify'
import { DependencyNotRegisteredError } from '../errors'
import { watchSwaggerRegistration } from '../describe/openapi'
import { wrapSocketHandler } from '../run/socket'
import { kContextDependencies, kDeclaredRoute, kGuarded, kSocketHandlerWrapped } from '../symbols'

/*
 * Registration mistakes fail loudly. Fastify runs onRoute hooks inside route(), so the plugin never
 * sees a route declared before it loaded, and such a route would run without its dependencies.
 * Fastify announces every new instance on `fastify.initialization`: from its creation on, this module
 * notes each route, and at ready() fails with the routes the plugin never saw that needed it.
 * Startup work only; a route the plugin compiled keeps no trace of the guard.
 */

interface DeclaredRoute {
  readonly label: string
  readonly context: object
  /** Fails the route's requests until the plugin sees it (set when the route declares dependencies). */
  readonly hook: Function | undefined
  seenByPlugin: boolean
}

type GuardedOptions = RouteOptions & {
  [kDeclaredRoute]?: DeclaredRoute
  [kSocketHandlerWrapped]?: true
  // @fastify/websocket's route options
  websocket?: unknown
  wsHandler?: unknown
}

const MAX_LISTED = 10

function declaresDependencies (list: unknown): boolean {
  if (list === undefined || list === null) return false
  // `dependencies: []` or `{}` skips nothing
  return typeof list !== 'object' || Object.keys(list).length > 0
}

/** Dependencies from the plugin's options or addDependencies() apply to every route of the context. */
function contextHasDependencies (context: object): boolean {
  const lists = (context as { [kContextDependencies]?: ReadonlyArray<readonly unknown[]> })[kContextDependencies]
  return lists !== undefined && lists.some((list) => list.length > 0)
}

function notRegisteredHook (label: string) {
  return function dependenciesNotRegistered (_request: unknown, _reply: unknown, done: (err: Error) => void): void {
    done(new DependencyNotRegisteredError(label))
  }
}

function listRoutes (labels: readonly string[]): string {
  const listed = labels.slice(0, MAX_LISTED).join(', ')
  return labels.length > MAX_LISTED ? `${listed} and ${labels.length - MAX_LISTED} more` : listed
}

/**
 * `@fastify/websocket` takes a route's socket handler in its own onRoute hook (and puts a
 * dispatcher in its place): wrapped here, first of all onRoute hooks, it gets the wrapped one in
 * either registration order.
 */
function wrapSocketHandlers (options: GuardedOptions): void {
  let wrapped = false
  // Fastify checked that the handler is a function before the onRoute hooks.
  if (options.websocket === true) {
    options.handler = wrapSocketHandler(options.handler as never) as never
    wrapped = true
  }
  if (typeof options.wsHandler === 'function') {
    options.wsHandler = wrapSocketHandler(options.wsHandler as never) as never
    wrapped = true
  }
  if (wrapped) options[kSocketHandlerWrapped] = true
}

/** The guard saw the route first and wrapped its socket handler (false for an instance created before this module loaded). */
export function socketHandlerWrapped (options: RouteOptions): boolean {
  return (options as GuardedOptions)[kSocketHandlerWrapped] === true
}

/** The plugin's onRoute saw the route: nothing of the guard stays on it. */
export function routeSeenByPlugin (options: RouteOptions): void {
  const route = (options as GuardedOptions)[kDeclaredRoute]
  if (route === undefined) return
  route.seenByPlugin = true
  if (route.hook !== undefined && Array.isArray(options.onRequest)) {
    const rest = options.onRequest.filter((fn) => fn !== route.hook)
    options.onRequest = rest.length === 0 ? undefined : rest as RouteOptions['onRequest']
  }
}

export function guardInstance (fastify: FastifyInstance): void {
  const instance = fastify as FastifyInstance & { [kGuarded]?: true }
  // Another copy of this package, loaded first, guards it already.
  if (instance[kGuarded] === true) return
  instance[kGuarded] = true
  let declared: DeclaredRoute[] = []

  fastify.addHook('onRoute', function noteRoute (this: FastifyInstance, options: RouteOptions) {
    const method = Array.isArray(options.method) ? options.method.join(',') : options.method
    const label = `${method} ${options.url}`
    const hook = declaresDependencies(options.dependencies) ? notRegisteredHook(label) : undefined
    if (hook !== undefined) options.onRequest = [hook, ...(options.onRequest == null ? [] : [options.onRequest].flat())] as RouteOptions['onRequest']
    const route: DeclaredRoute = { label, context: this, hook, seenByPlugin: false }
    ;(options as GuardedOptions)[kDeclaredRoute] = route
    declared.push(route)
    wrapSocketHandlers(options)
  })

  fastify.addHook('onReady', function checkDependenciesRegistered (done) {
    const skipped = declared.filter((route) => !route.seenByPlugin && (route.hook !== undefined || contextHasDependencies(route.context)))
    declared = []
    done(skipped.length === 0 ? undefined : new DependencyNotRegisteredError(listRoutes(skipped.map((route) => route.label))))
  })

  watchSwaggerRegistration(fastify)
}

// Instances created before this module was first loaded are not seen.
subscribe('fastify.initialization', (message) => { guardInstance((message as { fastify: FastifyInstance }).fastify) })
