// Private state lives on symbols so it never collides with user properties
// and stays out of `for...in` / JSON output.

/** Brands a dependency definition (the object `depends()` returns). */
export const kDependency = Symbol('fastify-depends.dependency')
/** Brands a use-site marker (`Depends(dep, opts)`, `Security(dep, scopes)`). */
export const kDependencyUse = Symbol('fastify-depends.use')
/** Per-context list of `addDependencies` lists, outermost first. */
export const kContextDependencies = Symbol('fastify-depends.context-dependencies')
/** The plugin's registry of compiled routes, on the root instance. */
export const kRegistry = Symbol('fastify-depends.registry')
/** Per-request resolution state. */
export const kRequestState = Symbol('fastify-depends.request-state')
/** The parsed, validated and coerced cookies of a request with `Cookie()` parameters. */
export const kCookieValues = Symbol('fastify-depends.cookie-values')
