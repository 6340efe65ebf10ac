// OAuth2 password flow with scopes: POST /token hands out JWTs, `currentUser` checks them.
import { Type } from '@sinclair/typebox'
import type { FastifyInstance } from 'fastify'
import { depends, httpError, OAuth2PasswordBearer, OAuth2PasswordRequestForm, type InferDeps } from '../lib/index'
import { getDb } from './db'
import { verifyNothing, verifyPassword } from './passwords'
import { SCOPES } from './schema'
import type { TokenIssuer } from './tokens'

declare module 'fastify' {
  interface FastifyInstance {
    /** Issues and verifies the access tokens (example/tokens.ts). */
    tokens: TokenIssuer
  }
}

/** The bearer token; documented in OpenAPI as the password flow with these scopes. */
export const oauth2 = OAuth2PasswordBearer({ tokenUrl: '/token', scopes: SCOPES })

export interface User {
  id: number
  username: string
  fullName: string
  email: string
  /** The scopes of the token the request came with (never more than the user has). */
  scopes: string[]
}

export const UserSchema = Type.Object({
  username: Type.String(),
  fullName: Type.String(),
  email: Type.String(),
  scopes: Type.Array(Type.String())
}, { description: 'The logged-in user, with the scopes of the token' })

interface UserRow { id: number, username: string, full_name: string, email: string, password_hash: string, scopes: string[] }

/**
 * The user of the request's token. Reached through `Security(currentUser, [...scopes])`, it sees
 * every scope the route asked for in `securityScopes` and answers FastAPI's 401 when one is missing.
 */
export const currentUser = depends({ token: oauth2, db: getDb }, async ({ token, db }, { request, securityScopes }): Promise<User> => {
  const challenge = securityScopes.scopes.length > 0 ? `Bearer scope="${securityScopes.scopeStr}"` : 'Bearer'
  const claims = await request.server.tokens.verify(token)
  const { rows } = claims === null
    ? { rows: [] }
    : await db.query<UserRow>('SELECT * FROM users WHERE username = $1', [claims.sub])
  const user = rows[0]
  if (claims === null || user === undefined) {
    throw httpError(401, 'Could not validate credentials', { 'www-authenticate': challenge })
  }
  // The token's scopes, minus any the user lost since it was issued.
  const scopes = claims.scopes.filter((scope) => user.scopes.includes(scope))
  for (const scope of securityScopes.scopes) {
    if (!scopes.includes(scope)) throw httpError(401, 'Not enough permissions', { 'www-authenticate': challenge })
  }
  return { id: user.id, username: user.username, fullName: user.full_name, email: user.email, scopes }
}, { name: 'currentUser' })

const TokenSchema = Type.Object({
  access_token: Type.String(),
  token_type: Type.Literal('bearer'),
  expires_in: Type.Integer(),
  scope: Type.String({ description: 'The scopes granted, space-separated' })
}, { description: 'An access token (a JWT) for `Authorization: Bearer <token>`' })

const tokenDeps = { form: OAuth2PasswordRequestForm, db: getDb }

/** POST /token: the password flow's token endpoint (a form body, hence @fastify/formbody). */
export async function authRoutes (app: FastifyInstance): Promise<void> {
  app.post<{ Deps: InferDeps<typeof tokenDeps> }>('/token', {
    dependencies: tokenDeps,
    schema: {
      tags: ['auth'],
      summary: 'Log in: trade a username and password for an access token',
      description: 'Grants the requested scopes the user has; with no `scope`, all of them.',
      response: { 200: TokenSchema }
    }
  }, async (request) => {
    const { form, db } = request.deps
    const { rows } = await db.query<UserRow>('SELECT * FROM users WHERE username = $1', [form.username])
    const user = rows[0]
    const valid = user === undefined ? await verifyNothing(form.password) : await verifyPassword(form.password, user.password_hash)
    if (user === undefined || !valid) throw httpError(400, 'Incorrect username or password')
    const granted = form.scopes.length === 0 ? user.scopes : user.scopes.filter((scope) => form.scopes.includes(scope))
    const { token, expiresIn } = await app.tokens.issue(user.username, granted)
    return { access_token: token, token_type: 'bearer' as const, expires_in: expiresIn, scope: granted.join(' ') }
  })
}
