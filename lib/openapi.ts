import type { FastifyInstance } from 'fastify'
import type { DependencyUseInternals } from './dependency'
import type { RootEntry } from './plan'
import { addScopes } from './scopes'
import type { SchemeSpec } from './security/scheme'
import { kDependency } from './symbols'

/** One scheme of a route's tree, with the scopes it is reached with (merged, first seen first). */
export interface SecurityUse {
  readonly scheme: SchemeSpec
  readonly scopes: string[]
}

export type SwaggerTransform = (input: { schema: unknown, url: string, route: unknown, openapiObject: OpenApiObject }) => unknown
interface OpenApiObject { components?: { securitySchemes?: Record<string, unknown> } }

/**
 * The schemes of a route's ORIGINAL tree (overrides do not change the documentation, FastAPI
 * B67), each visited once per distinct scope set (B78, B89), merged by scheme name (B88).
 */
export function collectSecurity (roots: readonly RootEntry[]): SecurityUse[] {
  const byName = new Map<string, SecurityUse>()
  const visited = new Set<string>()
  const ids = new Map<object, number>()

  function visit (use: DependencyUseInternals, parentScopes: readonly string[]): void {
    const definition = use.dependency[kDependency]
    const scopes = addScopes(parentScopes, use.scopes)
    let id = ids.get(definition)
    if (id === undefined) ids.set(definition, id = ids.size)
    const key = `${id}|${[...scopes].sort().join(' ')}`
    if (visited.has(key)) return
    visited.add(key)
    const { scheme } = definition
    if (scheme !== undefined) {
      const known = byName.get(scheme.schemeName)
      if (known === undefined) {
        byName.set(scheme.schemeName, { scheme, scopes: [...scopes] })
      } else {
        for (const scope of scopes) if (!known.scopes.includes(scope)) known.scopes.push(scope)
        // Two schemes with one name: the last definition wins (B88).
        byName.set(scheme.schemeName, { scheme, scopes: known.scopes })
      }
    }
    for (const input of definition.inputUses) visit(input, scopes)
  }

  for (const root of roots) visit(root.use, [])
  return [...byName.values()]
}

/** One requirement object: every scheme is required (AND), unlike FastAPI's one object per scheme (OR, B89). */
export function securityRequirement (uses: readonly SecurityUse[]): Record<string, string[]> {
  const requirement: Record<string, string[]> = {}
  for (const use of uses) requirement[use.scheme.schemeName] = use.scopes
  return requirement
}

/**
 * A route-level `config.swaggerTransform` that puts the route's schemes into
 * `components.securitySchemes` before @fastify/swagger builds the operation, then hands over
 * to the route's own transform, else to the global one.
 */
export function createSwaggerTransform (uses: readonly SecurityUse[], own: SwaggerTransform | false | undefined, global: () => SwaggerTransform | undefined): SwaggerTransform {
  return function addSecuritySchemes (input) {
    const components = input.openapiObject.components ??= {}
    const schemes = components.securitySchemes ??= {}
    for (const use of uses) schemes[use.scheme.schemeName] = use.scheme.openapi
    if (own === false) return {}
    const next = own ?? global()
    return next === undefined ? {} : next(input)
  }
}

const kPluginMeta = Symbol.for('plugin-meta')

/**
 * @fastify/swagger calls a route's own `swaggerTransform` instead of its global `transform`;
 * to hand over to the global one, the plugin notes it as @fastify/swagger is registered.
 */
export function watchSwaggerRegistration (fastify: FastifyInstance, onTransform: (transform: SwaggerTransform) => void): void {
  const register = fastify.register
  fastify.register = function registerNotingSwagger (this: FastifyInstance, plugin: unknown, options?: unknown) {
    const candidate = (plugin as { default?: unknown })?.default ?? plugin
    const meta = (candidate as Record<symbol, { name?: string } | undefined>)?.[kPluginMeta]
    if (meta?.name === '@fastify/swagger' && typeof (options as { transform?: unknown })?.transform === 'function') {
      onTransform((options as { transform: SwaggerTransform }).transform)
    }
    return (register as Function).call(this, plugin, options)
  } as FastifyInstance['register']
}
