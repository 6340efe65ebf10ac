// OAuth2 password flow with scopes: POST /token hands out JWTs, `currentUser` checks them.
// `currentPrincipal` also takes a machine user's API key (`x-api-key`) instead of the token.
import { Type } from '@sinclair/typebox'
import type { FastifyInstance } from 'fastify'
import {
  anyOf, APIKeyHeader, depends, httpError, OAuth2PasswordBearer, OAuth2PasswordRequestForm, type InferDeps, type SecurityScopes
} from '../lib/index'
import { getDb, type Queryable } from './db'
import { hashApiKey, verifyNothing, verifyPassword } from './passwords'
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

/** A machine user's API key (table api_keys), for clients that cannot do the password flow. */
export const machineKey = APIKeyHeader({ name: 'x-api-key', description: 'An API key issued to a machine user' })

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

function toUser (row: UserRow, scopes: string[]): User {
  return { id: row.id, username: row.username, fullName: row.full_name, email: row.email, scopes }
}

/** The user of a valid token, with the token's scopes minus any the user lost since it was issued; else null. */
export async function userOfToken (db: Queryable, tokens: TokenIssuer, token: string): Promise<User | null> {
  const claims = await tokens.verify(token)
  if (claims === null) return null
  const { rows: [row] } = await db.query<UserRow>('SELECT * FROM users WHERE username = $1', [claims.sub])
  return row === undefined ? null : toUser(row, claims.scopes.filter((scope) => row.scopes.includes(scope)))
}

/** The owner of a known API key, with the key's scopes that the owner still has; else null. */
export async function userOfApiKey (db: Queryable, key: string): Promise<User | null> {
  const { rows: [row] } = await db.query<UserRow & { key_scopes: string[] }>(
    'SELECT u.*, k.scopes AS key_scopes FROM api_keys k JOIN users u ON u.id = k.owner_id WHERE k.key_hash = $1', [hashApiKey(key)])
  return row === undefined ? null : toUser(row, row.key_scopes.filter((scope) => row.scopes.includes(scope)))
}

/**
 * The user a credential gave (null: not valid), if it has every scope the route asked for. Else
 * FastAPI's 401, with the challenge of the scheme the credential came with.
 */
export function authorize (user: User | null, securityScopes: SecurityScopes, challenge: string): User {
  if (user === null) throw httpError(401, 'Could not validate credentials', { 'www-authenticate': challenge })
  for (const scope of securityScopes.scopes) {
    if (!user.scopes.includes(scope)) throw httpError(401, 'Not enough permissions', { 'www-authenticate': challenge })
  }
  return user
}

export const bearerChallenge = (securityScopes: SecurityScopes): string =>
  securityScopes.scopes.length > 0 ? `Bearer scope="${securityScopes.scopeStr}"` : 'Bearer'

/**
 * The user of the request's token. Reached through `Security(currentUser, [...scopes])`, it sees
 * every scope the route asked for in `securityScopes` and answers FastAPI's 401 when one is missing.
 */
export const currentUser = depends({ token: oauth2, db: getDb }, async ({ token, db }, { request, securityScopes }): Promise<User> => {
  return authorize(await userOfToken(db, request.server.tokens, token), securityScopes, bearerChallenge(securityScopes))
}, { name: 'currentUser' })

/**
 * The user of the token, or the machine user of the API key: whichever the request carries (the
 * token first). Once one is picked it decides: a bad token beside a good key is still a 401.
 * Neither: anyOf()'s 401 with both challenges. The scopes of `Security()` reach both alternatives.
 */
export const currentPrincipal = depends({ caller: anyOf(oauth2, machineKey), db: getDb }, async ({ caller, db }, { request, securityScopes }): Promise<User> => {
  if (caller.scheme === 'OAuth2PasswordBearer') {
    return authorize(await userOfToken(db, request.server.tokens, caller.value), securityScopes, bearerChallenge(securityScopes))
  }
  return authorize(await userOfApiKey(db, caller.value), securityScopes, 'APIKey')
}, { name: 'currentPrincipal' })

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
