import { parseCookie } from 'cookie'
import type { FastifyRequest } from 'fastify'

// @fastify/cookie sets `request.cookies` (to `null` until its hook ran); without it, parse the header.
function parsedCookies (request: FastifyRequest): Record<string, unknown> | undefined {
  const parsed = (request as { cookies?: Record<string, unknown> | null }).cookies
  if (parsed != null) return parsed
  const header = request.headers.cookie
  return header === undefined ? undefined : parseCookie(header)
}

/** The request's cookies, as a fresh object (validation coerces it in place). */
export function readCookies (request: FastifyRequest): Record<string, unknown> {
  return { ...parsedCookies(request) }
}

/** One cookie's value. */
export function readCookie (request: FastifyRequest, name: string): unknown {
  return parsedCookies(request)?.[name]
}
