// The Fastify module augmentation: route option `dependencies`, `request.deps`,
// `instance.addDependencies`, `instance.dependencyOverrides`.
// `RouteSchema`, `DependsRouteOptions`: a plugin augmenting `FastifySchema` or `RouteOptions` (@fastify/swagger, @fastify/compress) would put that name in scope below.
import type {
  ContextConfigDefault, FastifyBaseLogger, FastifySchema as RouteSchema, FastifyTypeProvider, FastifyTypeProviderDefault,
  RawReplyDefaultExpression, RawRequestDefaultExpression, RawServerBase, RawServerDefault,
  RequestGenericInterface, RouteHandlerMethod, RouteOptions as DependsRouteOptions, RouteShorthandOptionsWithHandler
} from 'fastify'
// @ts-ignore -- @fastify/websocket is an optional peer; without it this is `any`, reached only by `websocket: true` routes
import type { WebsocketHandler as SocketHandlerOfWebsocketPlugin } from '@fastify/websocket'
import type { Dependency, DependencyLike, DependencyList, InferDeps } from '../lib/define/dependency'
import type { DependencyOverrides } from '../lib/overrides'
import type { PrintDependenciesOptions } from '../lib/describe/inspect'

/**
 * What a route's `dependencies` may be, given its `RouteGeneric`: anything without `Deps`; with
 * `Deps`, a list, or a record whose every entry provides the type `Deps` gives that name. A name
 * of `Deps` the record lacks may come from the plugin or `addDependencies`, so it is not required.
 */
type DependenciesFor<RouteGeneric> = RouteGeneric extends { Deps: infer D }
  ? (unknown extends D ? DependencyList : { readonly [K in keyof D]?: DependencyLike<D[K]> } | readonly DependencyLike<any>[])
  : DependencyList

/** The route generic of a route typed by its `dependencies` option alone (none for a list typed `DependencyList`). */
type InferredRoute<Deps> = DependencyList extends Deps ? Record<never, never> : { Deps: InferDeps<Deps> }

declare module 'fastify' {
  interface RouteGenericInterface {
    /** The type of `request.deps`: `InferDeps<typeof dependencies>`. */
    Deps?: unknown
  }

  interface FastifyRequest<RouteGeneric extends RouteGenericInterface = RouteGenericInterface> {
    /** The resolved values of the route's named dependencies (an empty object where it has none). */
    deps: RouteGeneric extends { Deps: infer D } ? (unknown extends D ? Record<string, unknown> : D) : Record<string, unknown>
  }

  // Fastify's own type parameters, names, constraints and defaults as they are (declaration merging
  // needs that), up to the one used: `RouteGeneric` is the fourth.
  interface RouteShorthandOptions<
    RawServer extends RawServerBase = RawServerDefault,
    /* eslint-disable @typescript-eslint/no-unused-vars */
    RawRequest extends RawRequestDefaultExpression<RawServer> = RawRequestDefaultExpression<RawServer>,
    RawReply extends RawReplyDefaultExpression<RawServer> = RawReplyDefaultExpression<RawServer>,
    /* eslint-enable @typescript-eslint/no-unused-vars */
    RouteGeneric extends RouteGenericInterface = RouteGenericInterface
  > {
    /** A record (values on `request.deps`) or a list (run for effect) of dependencies. */
    dependencies?: DependenciesFor<RouteGeneric>
  }

  interface RouteShorthandMethod<
    RawServer extends RawServerBase = RawServerDefault,
    RawRequest extends RawRequestDefaultExpression<RawServer> = RawRequestDefaultExpression<RawServer>,
    RawReply extends RawReplyDefaultExpression<RawServer> = RawReplyDefaultExpression<RawServer>,
    TypeProvider extends FastifyTypeProvider = FastifyTypeProviderDefault,
    Logger extends FastifyBaseLogger = FastifyBaseLogger
  > {
    // Without type arguments, `request.deps` is inferred from `dependencies` (in the handler and the route's hooks).
    // A `websocket: true` route (@fastify/websocket): the handler is `(socket, request)`.
    <const Deps extends DependencyList, ContextConfig = ContextConfigDefault, const SchemaCompiler extends RouteSchema = RouteSchema>(
      path: string,
      opts: RouteShorthandOptions<RawServer, RawRequest, RawReply, InferredRoute<Deps>, ContextConfig, SchemaCompiler, TypeProvider, Logger> & { websocket: true, dependencies: Deps },
      handler: SocketHandlerOfWebsocketPlugin<RawServer, RawRequest, InferredRoute<Deps> & RequestGenericInterface, ContextConfig, SchemaCompiler, TypeProvider, Logger>
    ): FastifyInstance<RawServer, RawRequest, RawReply, Logger, TypeProvider>
    <const Deps extends DependencyList, ContextConfig = ContextConfigDefault, const SchemaCompiler extends RouteSchema = RouteSchema>(
      path: string,
      opts: RouteShorthandOptions<RawServer, RawRequest, RawReply, InferredRoute<Deps>, ContextConfig, SchemaCompiler, TypeProvider, Logger> & { dependencies: Deps },
      handler: RouteHandlerMethod<RawServer, RawRequest, RawReply, InferredRoute<Deps>, ContextConfig, SchemaCompiler, TypeProvider, Logger>
    ): FastifyInstance<RawServer, RawRequest, RawReply, Logger, TypeProvider>
    <const Deps extends DependencyList, ContextConfig = ContextConfigDefault, const SchemaCompiler extends RouteSchema = RouteSchema>(
      path: string,
      opts: RouteShorthandOptionsWithHandler<RawServer, RawRequest, RawReply, InferredRoute<Deps>, ContextConfig, SchemaCompiler, TypeProvider, Logger> & { dependencies: Deps }
    ): FastifyInstance<RawServer, RawRequest, RawReply, Logger, TypeProvider>
  }

  interface FastifyInstance<
    RawServer extends RawServerBase = RawServerDefault,
    RawRequest extends RawRequestDefaultExpression<RawServer> = RawRequestDefaultExpression<RawServer>,
    RawReply extends RawReplyDefaultExpression<RawServer> = RawReplyDefaultExpression<RawServer>,
    Logger extends FastifyBaseLogger = FastifyBaseLogger,
    TypeProvider extends FastifyTypeProvider = FastifyTypeProviderDefault
  > {
    /** `app.route({ ..., dependencies })`: `request.deps` inferred as for the shorthand methods. */
    route<const Deps extends DependencyList, ContextConfig = ContextConfigDefault, const SchemaCompiler extends RouteSchema = RouteSchema>(
      opts: DependsRouteOptions<RawServer, RawRequest, RawReply, InferredRoute<Deps>, ContextConfig, SchemaCompiler, TypeProvider, Logger> & { dependencies: Deps }
    ): FastifyInstance<RawServer, RawRequest, RawReply, Logger, TypeProvider>
    /** Dependencies for every route of this context and its children; call it before the routes. */
    addDependencies(dependencies: DependencyList): this
    /** Test-time replacements: `set(original, replacement)`; takes effect on the next request. */
    dependencyOverrides: DependencyOverrides
    /** Every route's dependency tree as text, like `printRoutes()`. */
    printDependencies(options?: PrintDependenciesOptions): string
    /** An app-scoped dependency's value outside a request (after `ready()`); one no route uses starts now. */
    resolveDependency<T>(dependency: Dependency<T>): Promise<T>
  }
}

export {}
