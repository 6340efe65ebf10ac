import createError from '@fastify/error'

/** A request-scoped generator depends on a function-scoped dependency (FastAPI's DependencyScopeError). */
export const DependencyScopeError = createError<'FST_DEPENDS_SCOPE', [string]>('FST_DEPENDS_SCOPE', '%s', 500)
/** A dependency needs itself, directly or through other dependencies (possible through overrides). */
export const DependencyCycleError = createError<'FST_DEPENDS_CYCLE', [string]>('FST_DEPENDS_CYCLE', '%s', 500)
/** Not a dependency, bad options, misuse of the plugin API. */
export const DependencyInvalidError = createError<'FST_DEPENDS_INVALID', [string]>('FST_DEPENDS_INVALID', '%s', 500, TypeError)
/** Two declarations of one request parameter disagree. */
export const DependencyParamConflictError = createError<'FST_DEPENDS_PARAM_CONFLICT', [string]>('FST_DEPENDS_PARAM_CONFLICT', '%s', 500)
/** A generator dependency never yielded, or yielded more than once. */
export const DependencyGeneratorError = createError<'FST_DEPENDS_GENERATOR', [string]>('FST_DEPENDS_GENERATOR', '%s', 500)
/** A generator caught an error during cleanup and did not re-throw it: the request still fails. */
export const DependencyErrorSwallowedError = createError<'FST_DEPENDS_ERROR_SWALLOWED', [string]>('FST_DEPENDS_ERROR_SWALLOWED', '%s', 500)
/** Thrown into request-scoped generators when the client went away before the response was complete. */
export const DependencyClientAbortError = createError<'FST_DEPENDS_CLIENT_ABORTED', [string]>('FST_DEPENDS_CLIENT_ABORTED', '%s', 499)

// One class per mistake, its message template beside its code, as in Fastify's lib/errors.js:
// callers pass the parts. @fastify/error matches `instanceof` by code, so every FST_DEPENDS_INVALID
// class below is also a DependencyInvalidError (and so on for the other codes).

/** Routes declared before the plugin was registered in their context: they would skip their dependencies. */
export const DependencyNotRegisteredError = createError<'FST_DEPENDS_NOT_REGISTERED', [string]>(
  'FST_DEPENDS_NOT_REGISTERED',
  'These routes were declared before fastify-depends was registered in their context (or a parent), so they would run without their dependencies: %s. Register the plugin before the routes, and await it: await app.register(fastifyDepends)',
  500
)
export const SocketRouteUnguardedError = createError<'FST_DEPENDS_NOT_REGISTERED', [route: string]>(
  'FST_DEPENDS_NOT_REGISTERED',
  'Route %s: a WebSocket route with dependencies needs fastify-depends loaded before its Fastify instance is created (its socket handler is wrapped as the instance sees the route); import fastify-depends before calling fastify()',
  500
)
export const PluginRegisteredTwiceError = createError<'FST_DEPENDS_INVALID', []>(
  'FST_DEPENDS_INVALID', 'fastify-depends is already registered on this instance; register it once, at the root', 500, TypeError)
export const ConcurrencyOptionError = createError<'FST_DEPENDS_INVALID', [got: string]>(
  'FST_DEPENDS_INVALID', 'fastify-depends: concurrency must be "sequential" or "parallel", got %s', 500, TypeError)
export const CloseTimeoutOptionError = createError<'FST_DEPENDS_INVALID', [got: string]>(
  'FST_DEPENDS_INVALID', 'fastify-depends: closeTimeout must be a number of milliseconds, 0 or more, got %s', 500, TypeError)
export const ListTypeError = createError<'FST_DEPENDS_INVALID', [where: string, got: string]>(
  'FST_DEPENDS_INVALID', '%s: dependencies must be a record or an array of dependencies, got %s', 500, TypeError)
export const ListIsOneDependencyError = createError<'FST_DEPENDS_INVALID', [where: string, name: string, name: string, name: string]>(
  'FST_DEPENDS_INVALID', '%s: dependencies must be a record or an array of dependencies, got the dependency "%s" itself; write { %s } or [%s]', 500, TypeError)
export const ListIsPlainFunctionError = createError<'FST_DEPENDS_INVALID', [where: string, got: string, fn: string]>(
  'FST_DEPENDS_INVALID', '%s: dependencies must be a record or an array of dependencies, got %s, a plain function; wrap it with depends() and list it: [depends(%s)]', 500, TypeError)
export const EntryIsPlainFunctionError = createError<'FST_DEPENDS_INVALID', [where: string, entry: string, got: string, fn: string]>(
  'FST_DEPENDS_INVALID', '%s: dependency %s is a plain function (%s), not a dependency; wrap it with depends(): depends(%s)', 500, TypeError)
export const EntryNotADependencyError = createError<'FST_DEPENDS_INVALID', [where: string, entry: string, got: string]>(
  'FST_DEPENDS_INVALID', '%s: dependency %s is not a dependency, got %s; pass the dependency itself, not the result of calling it', 500, TypeError)
export const ProtoDependencyNameError = createError<'FST_DEPENDS_INVALID', [where: string]>(
  'FST_DEPENDS_INVALID', '%s: "__proto__" cannot be a dependency name', 500, TypeError)
export const DuplicateDependencyNameError = createError<'FST_DEPENDS_INVALID', [route: string, name: string]>(
  'FST_DEPENDS_INVALID', 'Route %s: two dependencies are named "%s"; names on request.deps must be unique across plugin, context and route dependencies', 500, TypeError)
export const AddDependenciesTooLateError = createError<'FST_DEPENDS_INVALID', [names: string, route: string]>(
  'FST_DEPENDS_INVALID', 'addDependencies() with %s was called after route %s was declared in this context (or a plugin inside it); call it before the routes it should apply to', 500, TypeError)
export const InputsTypeError = createError<'FST_DEPENDS_INVALID', [where: string, got: string]>(
  'FST_DEPENDS_INVALID', '%s: inputs must be a record of dependencies, got %s', 500, TypeError)
export const InputsIsOneDependencyError = createError<'FST_DEPENDS_INVALID', [where: string, name: string, name: string]>(
  'FST_DEPENDS_INVALID', '%s: inputs must be a record of dependencies, got the dependency "%s" itself; write depends({ %s }, fn)', 500, TypeError)
export const InputIsPlainFunctionError = createError<'FST_DEPENDS_INVALID', [where: string, input: string, got: string, fn: string]>(
  'FST_DEPENDS_INVALID', '%s: input "%s" is a plain function (%s), not a dependency; wrap it with depends(): depends(%s)', 500, TypeError)
export const InputNotADependencyError = createError<'FST_DEPENDS_INVALID', [where: string, input: string, got: string]>(
  'FST_DEPENDS_INVALID', '%s: input "%s" is not a dependency, got %s; pass the dependency itself, not the result of calling it', 500, TypeError)
export const ProtoInputNameError = createError<'FST_DEPENDS_INVALID', [where: string]>(
  'FST_DEPENDS_INVALID', '%s: "__proto__" cannot be an input name', 500, TypeError)
export const RouteCycleError = createError<'FST_DEPENDS_CYCLE', [route: string, chain: string]>(
  'FST_DEPENDS_CYCLE', 'Dependency cycle on route %s: %s', 500)
export const RouteScopeError = createError<'FST_DEPENDS_SCOPE', [name: string, route: string, input: string, inputName: string]>(
  'FST_DEPENDS_SCOPE',
  'The dependency "%s" has a scope of "request", it cannot depend on dependencies with scope "function". Route %s: its input "%s" ("%s") is function-scoped or needs one that is.',
  500
)
export const AppScopeInputError = createError<'FST_DEPENDS_SCOPE', [name: string, input: string, scope: string]>(
  'FST_DEPENDS_SCOPE', 'The dependency "%s" has a scope of "app", it cannot depend on "%s" with scope "%s".', 500)
export const AppScopeKindError = createError<'FST_DEPENDS_SCOPE', [name: string, kind: string]>(
  'FST_DEPENDS_SCOPE', 'The dependency "%s" is %s: it reads the request, so it cannot have a scope of "app".', 500)
export const AppScopeCacheError = createError<'FST_DEPENDS_INVALID', [name: string]>(
  'FST_DEPENDS_INVALID', 'The app-scoped dependency "%s" is used with useCache: false; an app-scoped dependency has one value for the whole app', 500, TypeError)
export const AppScopeCycleError = createError<'FST_DEPENDS_CYCLE', [chain: string]>(
  'FST_DEPENDS_CYCLE', 'Dependency cycle among app-scoped dependencies: %s', 500)
export const ResolveBeforeReadyError = createError<'FST_DEPENDS_INVALID', [name: string]>(
  'FST_DEPENDS_INVALID', 'resolveDependency(%s) was called before ready(): app-scoped dependencies start during ready(); await app.ready() first', 500, TypeError)
export const ResolveNotAppScopedError = createError<'FST_DEPENDS_INVALID', [got: string]>(
  'FST_DEPENDS_INVALID', 'resolveDependency() takes an app-scoped dependency (scope: "app"), got %s', 500, TypeError)
export const ResolveWhileClosingError = createError<'FST_DEPENDS_INVALID', [name: string]>(
  'FST_DEPENDS_INVALID', 'resolveDependency(%s) was called after close(): app-scoped dependencies were finalized', 500, TypeError)
export const AppScopeClosingError = createError<'FST_DEPENDS_INVALID', [name: string]>(
  'FST_DEPENDS_INVALID', 'The app-scoped dependency "%s" cannot start: the app is closing', 500)
