import type { FastifyRequest } from 'fastify'
import { readCookie } from '../cookies'
import type { Dependency } from '../dependency'
import { defineScheme, notAuthenticated, type SchemeOptions } from './scheme'

type ApiKeyOptions = SchemeOptions & { name: string }

function apiKeyScheme (factory: string, where: 'query' | 'header' | 'cookie', options: ApiKeyOptions, read: (request: FastifyRequest) => unknown): Dependency<string | undefined> {
  return defineScheme<string | undefined>(factory, options, { type: 'apiKey', in: where, name: options.name }, (request, autoError) => {
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
export function APIKeyQuery (options: ApiKeyOptions): Dependency<string | undefined> {
  return apiKeyScheme('APIKeyQuery', 'query', options, (request) => (request.query as Record<string, unknown> | undefined)?.[options.name])
}

/** An API key in a header, by case-insensitive name (FastAPI B97). */
export function APIKeyHeader (options: ApiKeyOptions): Dependency<string | undefined> {
  const header = options.name.toLowerCase()
  return apiKeyScheme('APIKeyHeader', 'header', options, (request) => request.headers[header])
}

/** An API key in a cookie: from `request.cookies` with `@fastify/cookie`, else the Cookie header (FastAPI B97). */
export function APIKeyCookie (options: ApiKeyOptions): Dependency<string | undefined> {
  return apiKeyScheme('APIKeyCookie', 'cookie', options, (request) => readCookie(request, options.name))
}
