// The Fastify module augmentation: route option `dependencies`, `request.deps`,
// `instance.addDependencies`, `instance.dependencyOverrides`.
import type { DependencyList } from '../lib/dependency'
import type { DependencyOverrides } from '../lib/overrides'
import type { PrintDependenciesOptions } from '../lib/inspect'

declare module 'fastify' {
  interface RouteGenericInterface {
    /** The type of `request.deps`: `InferDeps<typeof dependencies>`. */
    Deps?: unknown
  }

  interface FastifyRequest<RouteGeneric extends RouteGenericInterface = RouteGenericInterface> {
    /** The resolved values of the route's named dependencies. */
    deps: RouteGeneric extends { Deps: infer D } ? (unknown extends D ? Record<string, unknown> : D) : Record<string, unknown>
  }

  interface RouteShorthandOptions {
    /** A record (values on `request.deps`) or a list (run for effect) of dependencies. */
    dependencies?: DependencyList
  }

  interface FastifyInstance {
    /** Dependencies for every route of this context and its children; call it before the routes. */
    addDependencies(dependencies: DependencyList): this
    /** Test-time replacements: `set(original, replacement)`; takes effect on the next request. */
    dependencyOverrides: DependencyOverrides
    /** Every route's dependency tree as text, like `printRoutes()`. */
    printDependencies(options?: PrintDependenciesOptions): string
  }
}

export {}
