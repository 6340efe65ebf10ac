import type { FastifySchema } from 'fastify'
import { DependencyInvalidError, DependencyParamConflictError } from '../errors'
import type { ParamLocation, ParamUse } from './params'
import type { ParamSchema } from '../define/schema-static'
import { markLike } from '../define/typebox-marks'

/** Where each kind of parameter lives in a Fastify route schema. */
const schemaPart: Record<ParamLocation, 'querystring' | 'headers' | 'params' | 'body' | 'cookies'> = {
  query: 'querystring',
  header: 'headers',
  path: 'params',
  body: 'body',
  cookie: 'cookies'
}

const kindLabel: Record<ParamLocation, string> = {
  query: 'query parameter',
  header: 'header',
  path: 'path parameter',
  body: 'body property',
  cookie: 'cookie'
}

/** JSON with sorted keys, symbols (TypeBox's Kind) ignored: equal schemas give equal strings. */
export function canonical (value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonical).join(',')}]`
  if (typeof value === 'object' && value !== null) {
    const keys = Object.keys(value).sort()
    return `{${keys.map((k) => `${JSON.stringify(k)}:${canonical((value as Record<string, unknown>)[k])}`).join(',')}}`
  }
  return String(JSON.stringify(value))
}

/** An object schema the plugin built by merging parameters. */
export interface ObjectSchema {
  type: 'object'
  properties: Record<string, ParamSchema>
  required?: string[]
  [option: string]: unknown
}

export interface MergedSchema {
  readonly schema: FastifySchema
  /** The cookie object schema, which Fastify does not validate: the plugin does. */
  readonly cookies: ObjectSchema | undefined
}

function isObjectSchema (schema: unknown): schema is { properties: Record<string, ParamSchema>, required?: string[] } {
  return typeof schema === 'object' && schema !== null &&
    (schema as { type?: unknown }).type === 'object' &&
    typeof (schema as { properties?: unknown }).properties === 'object'
}

/**
 * Merges every parameter of a route's tree into the route's schema so that Fastify validates
 * them, coerces them and `@fastify/swagger` documents them. Never mutates the route's own schema.
 */
export function mergeParams (route: string, url: string, methods: readonly string[], own: FastifySchema | undefined, params: readonly ParamUse[]): MergedSchema {
  const schema: Record<string, unknown> = { ...own }
  const byLocation = new Map<ParamLocation, Map<string, ParamUse>>()
  let wholeBody: ParamUse | undefined

  for (const use of params) {
    const { spec } = use
    if (spec.in === 'path' && !hasPathParam(url, spec.name as string)) {
      throw new DependencyInvalidError(`Route ${route}: "${use.declaredBy}" needs the path parameter "${spec.name}", but the URL has no ":${spec.name}"`)
    }
    if (spec.in === 'body' && methods.some((m) => m === 'GET' || m === 'HEAD')) {
      throw new DependencyInvalidError(`Route ${route}: "${use.declaredBy}" reads the body, which ${methods.join('/')} requests do not have`)
    }
    if (spec.in === 'body' && spec.name === undefined) {
      if (wholeBody !== undefined && canonical(wholeBody.spec.schema) !== canonical(spec.schema)) {
        throw new DependencyParamConflictError(`Route ${route}: the body is declared with different schemas by "${wholeBody.declaredBy}" and "${use.declaredBy}"`)
      }
      wholeBody = use
      continue
    }
    let named = byLocation.get(spec.in)
    if (named === undefined) byLocation.set(spec.in, named = new Map())
    const previous = named.get(spec.name as string)
    if (previous !== undefined && (previous.spec.required !== spec.required || canonical(previous.spec.schema) !== canonical(spec.schema))) {
      throw new DependencyParamConflictError(`Route ${route}: ${kindLabel[spec.in]} "${spec.name}" is declared with different schemas by "${previous.declaredBy}" and "${use.declaredBy}"`)
    }
    named.set(spec.name as string, use)
  }

  if (wholeBody !== undefined) {
    if (byLocation.has('body')) {
      throw new DependencyParamConflictError(`Route ${route}: "${wholeBody.declaredBy}" takes the whole body with Body(schema) while "${[...(byLocation.get('body') as Map<string, ParamUse>).values()][0].declaredBy}" takes a property with Body(name, schema); use one form`)
    }
    if (schema.body !== undefined && canonical(schema.body) !== canonical(wholeBody.spec.schema)) {
      throw new DependencyParamConflictError(`Route ${route}: the body schema of "${wholeBody.declaredBy}" differs from the route's own schema.body`)
    }
    schema.body = wholeBody.spec.schema
  }

  let cookies: ObjectSchema | undefined
  for (const [location, named] of byLocation) {
    const part = schemaPart[location]
    const existing = schema[part]
    if (existing !== undefined && !isObjectSchema(existing)) {
      throw new DependencyParamConflictError(`Route ${route}: its own schema.${part} is not an object schema with properties, so the ${kindLabel[location]}s of its dependencies cannot be merged into it`)
    }
    const properties: Record<string, ParamSchema> = { ...existing?.properties }
    const required = new Set<string>(existing?.required ?? [])
    for (const [name, use] of named) {
      const ownProperty = existing?.properties[name]
      if (ownProperty !== undefined && (canonical(ownProperty) !== canonical(use.spec.schema) || required.has(name) !== use.spec.required)) {
        throw new DependencyParamConflictError(`Route ${route}: ${kindLabel[location]} "${name}" of "${use.declaredBy}" differs from the route's own schema.${part}`)
      }
      properties[name] = use.spec.schema
      if (use.spec.required) required.add(name)
    }
    const { properties: _p, required: _r, type: _t, ...options } = (existing ?? {}) as Record<string, unknown>
    const merged: ObjectSchema = { ...options, type: 'object', properties }
    // A default makes a parameter optional: Fastify fills it in.
    if (required.size > 0) merged.required = [...required]
    markLike(merged, 'Object', existing === undefined ? Object.values(properties) : [existing, ...Object.values(properties)])
    schema[part] = merged
    if (location === 'cookie') cookies = merged
    const mediaType = [...named.values()].find((use) => use.spec.mediaType !== undefined)?.spec.mediaType
    if (location === 'body' && mediaType !== undefined && schema.consumes === undefined) schema.consumes = [mediaType]
  }
  return { schema: schema as FastifySchema, cookies }
}

function hasPathParam (url: string, name: string): boolean {
  if (name === '*') return url.includes('*')
  const escaped = name.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')
  return new RegExp(`:${escaped}(?!\\w)`).test(url)
}
