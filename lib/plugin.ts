import type { FastifyInstance } from 'fastify'
import fp from 'fastify-plugin'
import { describeValue, type DependencyList } from './define/dependency'
import { CloseTimeoutOptionError, ConcurrencyOptionError, PluginRegisteredTwiceError } from './errors'
import { LiveRequests } from './run/live-requests'
import { AppScope } from './run/app-scope'
import { appCellsInUse, resolveAppValue } from './compile/app-values'
import { closeOpenSockets } from './run/socket'
import { printPlans, type PrintDependenciesOptions } from './describe/inspect'
import { watchSwaggerRegistration } from './describe/openapi'
import { DependencyOverrides } from './overrides'
import { depsAccessor } from './run/request-state'
import { normalizeDependencyList } from './compile/plan'
import { addDependencies, onRoute, recompileAll, type Registry } from './compile/route'
import { kContextDependencies, kCookieValues, kRegistry, kRequestState } from './symbols'

export interface FastifyDependsOptions {
  /** Dependencies run for every route of the app, before any other. */
  dependencies?: DependencyList
  /** `'parallel'` lets independent dependencies resolve concurrently (default `'sequential'`). */
  concurrency?: 'sequential' | 'parallel'
  /** Add a `Server-Timing` header with each dependency's duration (development aid; not on errors). */
  serverTiming?: boolean
  /** OpenAPI operations list their dependencies in `x-dependencies` (default `true`). */
  xDependencies?: boolean
  /**
   * Milliseconds `close()` waits for in-flight requests' cleanups (default 10 000); one still running
   * then is logged with its dependency's name and abandoned.
   */
  closeTimeout?: number
}

const DEFAULT_CLOSE_TIMEOUT = 10_000

async function fastifyDepends (fastify: FastifyInstance, options: FastifyDependsOptions): Promise<void> {
  if (fastify.hasDecorator('dependencyOverrides')) {
    throw new PluginRegisteredTwiceError()
  }
  const concurrency = options.concurrency ?? 'sequential'
  if (concurrency !== 'sequential' && concurrency !== 'parallel') {
    throw new ConcurrencyOptionError(describeValue(concurrency))
  }
  const closeTimeout = options.closeTimeout ?? DEFAULT_CLOSE_TIMEOUT
  if (typeof closeTimeout !== 'number' || !(closeTimeout >= 0) || closeTimeout === Infinity) {
    throw new CloseTimeoutOptionError(describeValue(closeTimeout))
  }
  const overrides = new DependencyOverrides()
  const live = new LiveRequests()
  const appScope = new AppScope(fastify)
  const pluginRoots = normalizeDependencyList(options.dependencies, 'fastify-depends options')
  const registry: Registry = {
    root: fastify,
    parallel: concurrency === 'parallel',
    serverTiming: options.serverTiming === true,
    xDependencies: options.xDependencies !== false,
    overrides,
    routes: [],
    errors: [],
    contextsWithRoutes: new WeakMap(),
    ready: false,
    live,
    appScope,
    pluginRoots
  }
  overrides.listen(() => recompileAll(registry))
  // Already watched since the instance was created, unless it was created before this module loaded.
  watchSwaggerRegistration(fastify)

  fastify.decorate(kRegistry, registry)
  fastify.decorate(kContextDependencies, pluginRoots.length === 0 ? [] : [pluginRoots])
  fastify.decorate('dependencyOverrides', overrides)
  fastify.decorate('addDependencies', addDependencies)
  fastify.decorate('resolveDependency', function resolveDependency (dependency: unknown) {
    return resolveAppValue(registry, dependency)
  })
  fastify.decorate('printDependencies', function printDependencies (options?: PrintDependenciesOptions) {
    return printPlans(registry.routes.map((route) => route.plan), options)
  })
  fastify.decorateRequest('deps', depsAccessor)
  fastify.decorateRequest(kRequestState, null)
  fastify.decorateRequest(kCookieValues, null)
  fastify.addHook('onRoute', onRoute)
  // preClose runs before Fastify stops the server and before every onClose hook, wherever it was
  // registered: in-flight cleanups (COMMIT, release) finish before a pool's end().
  // Then the app scope, newest first: a pool ends after the last request released its connection.
  fastify.addHook('preClose', function finishInFlightCleanups (done) {
    closeOpenSockets(live)
    live.drain(closeTimeout, () => {
      appScope.closing = true
      appScope.finalizeAll().then(() => done(), done)
    })
  })
  fastify.addHook('onReady', async function checkRegistration () {
    if (registry.errors.length > 0) throw registry.errors[0]
    // Fastify has compiled the routes' validators: from now on they follow the overrides. A route
    // compiled for the overrides as they are now has its schema merged from the right plan already.
    registry.ready = true
    recompileAll(registry, true)
    await appScope.startAll(appCellsInUse(registry))
  })
}

export const plugin = fp(fastifyDepends, { fastify: '5.x', name: 'fastify-depends' })
