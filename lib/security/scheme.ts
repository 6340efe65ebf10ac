import type { FastifyRequest } from 'fastify'
import { depends, type Dependency, type DependencyUse } from '../define/dependency'
import { httpError } from '../define/http-error'
import { kDependency, kSchemeName } from '../symbols'

/** What a security scheme contributes to OpenAPI and how it reads a request. */
export interface SchemeSpec {
  /** The key in `components.securitySchemes` (default: the factory's name). */
  readonly schemeName: string
  /** The OpenAPI Security Scheme Object. */
  readonly openapi: Readonly<Record<string, unknown>>
  /** Its `WWW-Authenticate` challenge when nothing usable was sent. */
  readonly challenge: string
  /** Reads the request: the value, or with `autoError` a 401 (else `undefined`) when nothing usable was sent. */
  readonly read: (request: FastifyRequest, autoError: boolean) => unknown
}

/** A security scheme: a dependency that carries its scheme name, as a literal type (for `anyOf()`). */
export interface SchemeDependency<T = unknown, Name extends string = string> extends Dependency<T> {
  readonly name: Name
  readonly [kSchemeName]: Name
}

/** `Security(scheme, scopes)`: the use keeps the scheme's name (for `anyOf()`). */
export interface SchemeUse<T = unknown, Name extends string = string> extends DependencyUse<T> {
  readonly [kSchemeName]: Name
}

/** Options every scheme takes (FastAPI's, in camelCase); `AutoError` is the literal type of `autoError`. */
export interface SchemeOptions<AutoError extends boolean = boolean, Name extends string = string> {
  schemeName?: Name
  description?: string
  /** `false`: answer `undefined` instead of 401 when nothing usable was sent. */
  autoError?: AutoError
}

/** A scheme's value: `T`, plus `undefined` only where `autoError` may be `false`. */
export type SchemeValue<T, AutoError extends boolean> = false extends AutoError ? T | undefined : T

/** FastAPI's 401 for missing or unusable credentials, with the scheme's challenge. */
export function notAuthenticated (challenge: string): Error {
  return httpError(401, 'Not authenticated', { 'www-authenticate': challenge })
}

/** `Authorization: <scheme> <param>`: split at the first space, the param trimmed (FastAPI's `partition`). */
export function authorizationParts (request: FastifyRequest): { value: string, scheme: string, param: string } {
  const header = request.headers.authorization
  const value = typeof header === 'string' ? header : ''
  const space = value.indexOf(' ')
  if (space === -1) return { value, scheme: value, param: '' }
  return { value, scheme: value.slice(0, space), param: value.slice(space + 1).trim() }
}

export function withDescription (object: Record<string, unknown>, description: string | undefined): Record<string, unknown> {
  return description === undefined ? object : { type: object.type, description, ...object }
}

/**
 * A scheme is a dependency with no inputs that reads only raw request data, so the plugin can
 * run it in `onRequest`. It always "uses scopes" (FastAPI B29).
 */
export function defineScheme<T> (
  factory: string,
  options: SchemeOptions,
  openapi: Record<string, unknown>,
  challenge: string,
  read: (request: FastifyRequest, autoError: boolean) => T
): Dependency<T> {
  const schemeName = options.schemeName ?? factory
  const autoError = options.autoError ?? true
  const scheme: SchemeSpec = { schemeName, openapi: withDescription(openapi, options.description), challenge, read }
  const dependency = depends((_inputs, { request }) => read(request, autoError), { name: schemeName, usesScopes: true })
  return { name: schemeName, [kDependency]: { ...dependency[kDependency], scheme }, [kSchemeName]: schemeName } as Dependency<T>
}
