import type { FastifyInstance } from 'fastify'
import type { DependencyUseInternals } from '../define/dependency'
import type { RootEntry } from '../compile/plan'
import { addScopes } from '../security/scopes'
import type { SchemeSpec } from '../security/scheme'
import { kDependency, kNotesSwagger, kSwaggerOptions } from '../symbols'

/** One scheme of a route's tree, with the scopes it is reached with (merged, first seen first). */
export interface SecurityUse {
  readonly scheme: SchemeSpec
  readonly scopes: string[]
}

export type SwaggerTransform = (input: { schema: unknown, url: string, route: unknown, openapiObject: OpenApiObject }) => unknown
interface OpenApiObject { components?: { securitySchemes?: Record<string, unknown> } }

/** What a route's ORIGINAL tree documents (overrides do not change the document, FastAPI B67). */
export interface RouteDocumentation {
  /** Every scheme of the tree (alternatives too), for `components.securitySchemes`. */
  readonly security: SecurityUse[]
  /**
   * The operation's `security`: one requirement object per way to authenticate. The schemes the tree
   * requires are AND-combined in each; each `anyOf()` multiplies the objects by its alternatives.
   */
  readonly requirements: Array<Record<string, string[]>>
  /** Error responses its dependencies can produce, by status; the first declaration wins. */
  readonly responses: Record<string, Record<string, unknown>>
  /** Dependency names in resolution order (`x-dependencies`). */
  readonly names: readonly string[]
}

/** Fastify's error body, which every error a dependency throws is answered with. */
const errorBody = {
  type: 'object',
  properties: {
    statusCode: { type: 'integer' },
    code: { type: 'string' },
    error: { type: 'string' },
    message: { type: 'string' }
  },
  required: ['statusCode', 'error', 'message']
}

// @fastify/swagger takes a response's description from `x-response-description`, leaving the
// body schema clean.
const kDescription = 'x-response-description'

const notAuthenticated = {
  [kDescription]: 'Not authenticated',
  headers: { 'www-authenticate': { type: 'string', description: 'The authentication challenge' } },
  ...errorBody
}

const validationError = { [kDescription]: 'Invalid request parameters', ...errorBody }

/** Adds `scheme` with `scopes` to `byName`, merging scopes by scheme name (B88: the last definition wins). */
function addScheme (byName: Map<string, SecurityUse>, scheme: SchemeSpec, scopes: readonly string[]): void {
  const known = byName.get(scheme.schemeName)
  const merged = known === undefined ? [...scopes] : known.scopes
  if (known !== undefined) for (const scope of scopes) if (!merged.includes(scope)) merged.push(scope)
  byName.set(scheme.schemeName, { scheme, scopes: merged })
}

export function documentRoute (roots: readonly RootEntry[], names: readonly string[]): RouteDocumentation {
  const byName = new Map<string, SecurityUse>()
  const everyScheme = new Map<string, SecurityUse>()
  /** Each anyOf() reached: its alternatives, each with the scopes it is reached with. */
  const groups: SecurityUse[][] = []
  const responses: Record<string, Record<string, unknown>> = {}
  const visited = new Set<string>()
  const ids = new Map<object, number>()
  let hasParams = false

  function visit (use: DependencyUseInternals, parentScopes: readonly string[]): void {
    const definition = use.dependency[kDependency]
    const scopes = addScopes(parentScopes, use.scopes)
    let id = ids.get(definition)
    if (id === undefined) ids.set(definition, id = ids.size)
    const key = `${id}|${[...scopes].sort().join(' ')}`
    if (visited.has(key)) return
    visited.add(key)
    const { scheme, alternatives } = definition
    if (alternatives !== undefined) {
      const group: SecurityUse[] = []
      for (const alternative of alternatives.uses) {
        const alternativeScheme = alternative.dependency[kDependency].scheme as SchemeSpec
        const alternativeScopes = addScopes(scopes, alternative.scopes)
        group.push({ scheme: alternativeScheme, scopes: [...alternativeScopes] })
        addScheme(everyScheme, alternativeScheme, alternativeScopes)
      }
      groups.push(group)
      responses['401'] ??= notAuthenticated
      // Its inputs are the alternatives' probes: documented above, not as schemes the route requires.
      return
    }
    if (scheme !== undefined) {
      addScheme(byName, scheme, scopes)
      addScheme(everyScheme, scheme, scopes)
      responses['401'] ??= notAuthenticated
    }
    if (definition.param !== undefined) hasParams = true
    for (const [status, response] of Object.entries(definition.responses ?? {})) {
      responses[status] ??= { ...(response.schema as Record<string, unknown> | undefined ?? errorBody), [kDescription]: response.description }
    }
    for (const input of definition.inputUses) visit(input, scopes)
  }

  for (const root of roots) visit(root.use, [])
  if (hasParams) responses['400'] ??= validationError
  const required = [...byName.values()]
  let requirements: SecurityUse[][] = required.length > 0 || groups.length > 0 ? [required] : []
  for (const group of groups) requirements = requirements.flatMap((base) => group.map((alternative) => [...base, alternative]))
  return { security: [...everyScheme.values()], requirements: requirements.map(securityRequirement), responses, names }
}

/** OpenAPI 3.0: only OAuth2 and OpenID Connect requirements list scopes; for other schemes the array must be empty. */
function takesScopes (scheme: SchemeSpec): boolean {
  return scheme.openapi.type === 'oauth2' || scheme.openapi.type === 'openIdConnect'
}

/** One requirement object: every scheme in it is required (AND), scopes merged by scheme name. */
export function securityRequirement (uses: readonly SecurityUse[]): Record<string, string[]> {
  const byName = new Map<string, SecurityUse>()
  for (const use of uses) addScheme(byName, use.scheme, takesScopes(use.scheme) ? use.scopes : [])
  const requirement: Record<string, string[]> = {}
  for (const [name, use] of byName) requirement[name] = use.scopes
  return requirement
}

/**
 * A route-level `config.swaggerTransform`: documents the dependencies' responses, security and
 * names, hands over to the route's own transform, else to the global one, and puts the route's
 * schemes into `components.securitySchemes` unless the operation is hidden (`schema.hide`,
 * @fastify/swagger's `hiddenTag` or `hideUntagged`: a `websocket: true` route, for one), before
 * @fastify/swagger builds the operation. Documentation only: the route's runtime schema is untouched.
 */
export function createSwaggerTransform (doc: RouteDocumentation, xDependencies: boolean, own: SwaggerTransform | false | undefined, context: object): SwaggerTransform {
  return function documentDependencies (input) {
    const schema: Record<string, unknown> = { ...(input.schema as Record<string, unknown> | undefined) }
    if (doc.requirements.length > 0 && schema.security === undefined) schema.security = doc.requirements.map((requirement) => ({ ...requirement }))
    if (Object.keys(doc.responses).length > 0) {
      // The route wins on a clash; without its own responses, keep @fastify/swagger's default 200.
      const ownResponses = schema.response as Record<string, unknown> | undefined
      schema.response = { ...doc.responses, ...(ownResponses ?? { 200: { type: 'null', [kDescription]: 'Default Response' } }) }
    }
    if (xDependencies) schema['x-dependencies'] = doc.names
    const options = swaggerOptions(context)
    const next = own === false ? undefined : own ?? globalTransform(options)
    let result: { schema?: unknown } = { schema }
    if (next !== undefined) {
      const transformed = next({ ...input, schema }) as { schema?: unknown } | undefined
      result = { ...transformed, schema: transformed?.schema ?? schema }
    }
    if (doc.security.length > 0 && !hidden(result.schema as Record<string, unknown>, options)) {
      const components = input.openapiObject.components ??= {}
      const schemes = components.securitySchemes ??= {}
      for (const use of doc.security) schemes[use.scheme.schemeName] = use.scheme.openapi
    }
    return result
  }
}

interface SwaggerOptions { transform?: unknown, hiddenTag?: string, hideUntagged?: boolean }

/** @fastify/swagger's rule for leaving an operation out of the document. */
function hidden (schema: Record<string, unknown>, options: SwaggerOptions | undefined): boolean {
  if (schema.hide === true) return true
  const tags = Array.isArray(schema.tags) ? schema.tags as unknown[] : []
  if (tags.length === 0 && options?.hideUntagged === true) return true
  return tags.includes(options?.hiddenTag ?? 'X-HIDDEN')
}

const kPluginMeta = Symbol.for('plugin-meta')

type Contextual = Record<symbol, unknown>
type RegisterFunction = ((this: unknown, plugin: unknown, options?: unknown) => unknown) & { [kNotesSwagger]?: true }

function isSwagger (plugin: unknown): boolean {
  const candidate = (plugin as { default?: unknown } | null)?.default ?? plugin
  return (candidate as Record<symbol, { name?: string } | undefined> | null)?.[kPluginMeta]?.name === '@fastify/swagger'
}

/** The options of @fastify/swagger's registration nearest to `context` (children read them through the prototype). */
function swaggerOptions (context: object): SwaggerOptions | undefined {
  return (context as Contextual)[kSwaggerOptions] as SwaggerOptions | undefined
}

/** @fastify/swagger's global `transform`, from its options. */
function globalTransform (options: SwaggerOptions | undefined): SwaggerTransform | undefined {
  const transform = options?.transform
  return typeof transform === 'function' ? transform as SwaggerTransform : undefined
}

/**
 * @fastify/swagger calls a route's own `swaggerTransform` instead of its global `transform`; to
 * hand over to the global one, `register` notes @fastify/swagger's options on the context it is
 * registered in, whether the plugin comes as a module, an `import()` promise, or with options
 * given as a function. Read when the document is built, so the order of registration does not matter.
 */
export function watchSwaggerRegistration (fastify: FastifyInstance): void {
  const register = fastify.register as unknown as RegisterFunction
  if (register[kNotesSwagger] === true) return
  function registerNotingSwagger (this: Contextual, plugin: unknown, options?: unknown): unknown {
    const note = (resolved: unknown): void => { if (typeof resolved === 'object' && resolved !== null) this[kSwaggerOptions] = resolved }
    if (typeof options === 'function') {
      const resolveOptions = options
      options = function swaggerOptions (this: unknown, ...args: unknown[]) {
        const resolved = resolveOptions.apply(this, args)
        if (isSwagger(plugin)) note(resolved)
        return resolved
      }
    } else if (isSwagger(plugin)) {
      note(options)
    } else if (typeof (plugin as PromiseLike<unknown> | null)?.then === 'function') {
      const noteOptions = options
      // Settles before avvio loads it (this handler is attached first); avvio reports a rejection.
      ;(plugin as PromiseLike<unknown>).then((module) => { if (isSwagger(module)) note(noteOptions) }, () => {})
    }
    return register.call(this, plugin, options)
  }
  ;(registerNotingSwagger as RegisterFunction)[kNotesSwagger] = true
  fastify.register = registerNotingSwagger as unknown as FastifyInstance['register']
}
