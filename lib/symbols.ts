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
// Global symbols (Symbol.for) where two copies of this package may meet on one Fastify instance:
// the first copy loaded watches every instance, and any copy's plugin must be able to answer it.
/** On an instance: the registration guard watches it (lib/registration-guard.ts). */
export const kGuarded = Symbol.for('fastify-depends.guarded')
/** On route options: the guard's record of the route, until the plugin's onRoute saw it. */
export const kDeclaredRoute = Symbol.for('fastify-depends.declared-route')
/** On the context @fastify/swagger was registered in: its options (children read them through the prototype). */
export const kSwaggerOptions = Symbol.for('fastify-depends.swagger-options')
/** On a `register` wrapper that notes @fastify/swagger's options. */
export const kNotesSwagger = Symbol.for('fastify-depends.notes-swagger')
/** On a security scheme and on `Security()` uses of one: its scheme name (its type is the name's literal, for `anyOf()`). */
export const kSchemeName = Symbol('fastify-depends.scheme-name')
/** On route options: the guard wrapped the route's WebSocket handler (lib/run/socket.ts). */
export const kSocketHandlerWrapped = Symbol.for('fastify-depends.socket-handler-wrapped')
