import { parseCookie } from 'cookie'
import type { FastifyRequest } from 'fastify'

/** The request's cookies, as a fresh object: from `@fastify/cookie` when registered, else the header. */
export function readCookies (request: FastifyRequest): Record<string, unknown> {
  const parsed = (request as { cookies?: Record<string, unknown> }).cookies
  if (parsed != null) return { ...parsed }
  const header = request.headers.cookie
  return header === undefined ? {} : { ...parseCookie(header) }
}
