import type { FastifyInstance, InjectOptions } from 'fastify'
import type { Test } from 'tap'
import { build } from './helpers'
import type { Dependency } from '../lib/index'

/** Fastify's error body for a scheme's 401. */
export const NOT_AUTHENTICATED = { statusCode: 401, error: 'Unauthorized', message: 'Not authenticated' }

export const noAuthorization: InjectOptions = { url: '/x' }

/** GET /x provides the scheme's value as `{ value }`, or `{ isUndefined: true }`. */
export async function schemeApp (t: Test, scheme: Dependency<unknown>, before?: (app: FastifyInstance) => Promise<void>): Promise<FastifyInstance> {
  const app = await build(t)
  if (before !== undefined) await before(app)
  app.get('/x', { dependencies: { credentials: scheme } }, async (request) => {
    const value = request.deps.credentials
    return value === undefined ? { isUndefined: true } : { value }
  })
  return app
}

export function auth (authorization: string): InjectOptions {
  return { url: '/x', headers: { authorization } }
}

/** Every request answers 200 with the value. */
export async function provides (t: Test, app: FastifyInstance, cases: Array<[InjectOptions, unknown]>): Promise<void> {
  for (const [request, expected] of cases) {
    const res = await app.inject(request)
    const label = JSON.stringify(request)
    t.equal(res.statusCode, 200, label)
    t.strictSame(res.json(), { value: expected }, label)
    t.equal(res.headers['www-authenticate'], undefined, label)
  }
}

/** Every request answers 401 with the challenge and Fastify's error body. */
export async function rejects (t: Test, app: FastifyInstance, requests: InjectOptions[], challenge: string): Promise<void> {
  for (const request of requests) {
    const res = await app.inject(request)
    const label = JSON.stringify(request)
    t.equal(res.statusCode, 401, label)
    t.equal(res.headers['www-authenticate'], challenge, label)
    t.strictSame(res.json(), NOT_AUTHENTICATED, label)
  }
}

/** Every request answers 200 with an undefined value (autoError: false). */
export async function givesUndefined (t: Test, app: FastifyInstance, requests: InjectOptions[]): Promise<void> {
  for (const request of requests) {
    const res = await app.inject(request)
    const label = JSON.stringify(request)
    t.equal(res.statusCode, 200, label)
    t.strictSame(res.json(), { isUndefined: true }, label)
    t.equal(res.headers['www-authenticate'], undefined, label)
  }
}
