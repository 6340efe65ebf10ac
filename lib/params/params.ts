import { depends, describeValue, type Dependency, type DependencyDefinition } from '../define/dependency'
import { DependencyInvalidError } from '../errors'
import type { ParamSchema, ParamValue } from '../define/schema-static'
import { isOptionalMarked } from '../define/typebox-marks'
import { kCookieValues, kDependency } from '../symbols'

export type ParamLocation = 'query' | 'header' | 'cookie' | 'path' | 'body'

/** What a parameter dependency contributes to its route's schema. */
export interface ParamSpec {
  readonly in: ParamLocation
  /** `undefined` for `Body(schema)`, the whole body. */
  readonly name: string | undefined
  readonly schema: ParamSchema
  readonly required: boolean
  /** The body's media type, when it is not JSON (a form). */
  readonly mediaType?: string
}

/** A parameter as found in one route's tree, with the dependency that declared it (for conflicts). */
export interface ParamUse {
  readonly spec: ParamSpec
  readonly declaredBy: string
}

export type { ParamValue, ParamSchema } from '../define/schema-static'

function isRequired (schema: ParamSchema): boolean {
  return !isOptionalMarked(schema) && !('default' in schema)
}

function checkSchema (schema: unknown, where: string): ParamSchema {
  if (typeof schema !== 'object' || schema === null || Array.isArray(schema)) {
    throw new DependencyInvalidError(`${where}: the schema must be a JSON Schema object (TypeBox or a literal), got ${describeValue(schema)}`)
  }
  return schema
}

function checkName (name: unknown, where: string): string {
  if (typeof name !== 'string' || name === '') {
    throw new DependencyInvalidError(`${where}: the parameter name must be a non-empty string, got ${describeValue(name)}`)
  }
  return name
}

function param<S extends ParamSchema> (spec: ParamSpec, label: string, read: DependencyDefinition['fn']): Dependency<ParamValue<S>> {
  const dependency = depends(read as (inputs: Record<never, never>) => unknown, { name: label })
  return { name: label, [kDependency]: { ...dependency[kDependency], param: spec } } as Dependency<ParamValue<S>>
}

/** A query-string parameter, validated (and coerced) by Fastify. */
export function Query<S extends ParamSchema> (name: string, schema: S): Dependency<ParamValue<S>> {
  const label = `Query(${checkName(name, 'Query()')})`
  const spec: ParamSpec = { in: 'query', name, schema: checkSchema(schema, label), required: isRequired(schema) }
  return param<S>(spec, label, (_inputs, { request }) => (request.query as Record<string, unknown>)[name])
}

/** A request header (the name is case-insensitive), validated by Fastify. */
export function Header<S extends ParamSchema> (name: string, schema: S): Dependency<ParamValue<S>> {
  const header = checkName(name, 'Header()').toLowerCase()
  const label = `Header(${header})`
  const spec: ParamSpec = { in: 'header', name: header, schema: checkSchema(schema, label), required: isRequired(schema) }
  return param<S>(spec, label, (_inputs, { request }) => request.headers[header])
}

/** A path parameter: `Path('id', ...)` needs `:id` in the route's URL. */
export function Path<S extends ParamSchema> (name: string, schema: S): Dependency<ParamValue<S>> {
  const label = `Path(${checkName(name, 'Path()')})`
  const spec: ParamSpec = { in: 'path', name, schema: checkSchema(schema, label), required: true }
  return param<S>(spec, label, (_inputs, { request }) => (request.params as Record<string, unknown>)[name])
}

/** A cookie, validated against its schema before any dependency runs. */
export function Cookie<S extends ParamSchema> (name: string, schema: S): Dependency<ParamValue<S>> {
  const label = `Cookie(${checkName(name, 'Cookie()')})`
  const spec: ParamSpec = { in: 'cookie', name, schema: checkSchema(schema, label), required: isRequired(schema) }
  return param<S>(spec, label, (_inputs, { request }) => (request as unknown as Record<symbol, Record<string, unknown>>)[kCookieValues][name])
}

/** `Body(schema)`: the whole body. `Body(name, schema)`: one property of an object body; several combine. */
export function Body<S extends ParamSchema> (schema: S): Dependency<ParamValue<S>>
export function Body<S extends ParamSchema> (name: string, schema: S): Dependency<ParamValue<S>>
export function Body<S extends ParamSchema> (nameOrSchema: string | S, maybeSchema?: S): Dependency<ParamValue<S>> {
  if (typeof nameOrSchema !== 'string') {
    const spec: ParamSpec = { in: 'body', name: undefined, schema: checkSchema(nameOrSchema, 'Body()'), required: true }
    return param<S>(spec, 'Body', (_inputs, { request }) => request.body)
  }
  return bodyField(nameOrSchema, maybeSchema as S, undefined)
}

/** One property of an object body, of the given media type (JSON when `undefined`). */
export function bodyField<S extends ParamSchema> (name: string, schema: S, mediaType: string | undefined): Dependency<ParamValue<S>> {
  const label = `Body(${checkName(name, 'Body()')})`
  const spec: ParamSpec = { in: 'body', name, schema: checkSchema(schema, label), required: isRequired(schema), mediaType }
  return param<S>(spec, label, (_inputs, { request }) => (request.body as Record<string, unknown> | undefined)?.[name])
}
