import type { FastifyRequest } from 'fastify'
import { readCookie } from '../params/cookies'
import type { Dependency } from '../define/dependency'
import { defineScheme, notAuthenticated, type SchemeDependency, type SchemeOptions, type SchemeValue } from './scheme'

type ApiKeyOptions<AutoError extends boolean = boolean, Name extends string = string> = SchemeOptions<AutoError, Name> & { name: string }

function apiKeyScheme (factory: string, where: 'query' | 'header' | 'cookie', options: ApiKeyOptions, read: (request: FastifyRequest) => unknown): Dependency<string | undefined> {
  return defineScheme<string | undefined>(factory, options, { type: 'apiKey', in: where, name: options.name }, 'APIKey', (request, autoError) => {
    let key = read(request)
    if (Array.isArray(key)) key = key[key.length - 1]
    // Missing or empty: FastAPI B97.
    if (typeof key !== 'string' || key === '') {
      if (autoError) throw notAuthenticated('APIKey')
      return undefined
    }
    return key
  })
}

/** An API key in the query string (FastAPI B97). */
export function APIKeyQuery<AutoError extends boolean = true, Name extends string = 'APIKeyQuery'> (options: ApiKeyOptions<AutoError, Name>): SchemeDependency<SchemeValue<string, AutoError>, Name> {
  return apiKeyScheme('APIKeyQuery', 'query', options, (request) => (request.query as Record<string, unknown> | undefined)?.[options.name]) as SchemeDependency<SchemeValue<string, AutoError>, Name>
}

/** An API key in a header, by case-insensitive name (FastAPI B97). */
export function APIKeyHeader<AutoError extends boolean = true, Name extends string = 'APIKeyHeader'> (options: ApiKeyOptions<AutoError, Name>): SchemeDependency<SchemeValue<string, AutoError>, Name> {
  const header = options.name.toLowerCase()
  return apiKeyScheme('APIKeyHeader', 'header', options, (request) => request.headers[header]) as SchemeDependency<SchemeValue<string, AutoError>, Name>
}

/** An API key in a cookie: from `request.cookies` with `@fastify/cookie`, else the Cookie header (FastAPI B97). */
export function APIKeyCookie<AutoError extends boolean = true, Name extends string = 'APIKeyCookie'> (options: ApiKeyOptions<AutoError, Name>): SchemeDependency<SchemeValue<string, AutoError>, Name> {
  return apiKeyScheme('APIKeyCookie', 'cookie', options, (request) => readCookie(request, options.name)) as SchemeDependency<SchemeValue<string, AutoError>, Name>
}
