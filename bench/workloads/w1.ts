// W1, the reference workload, as plain data and functions every implementation shares, so the
// servers differ only in how they wire the same work: a bearer token, a user looked up through a
// request-scoped "db session" (an in-memory pool counter), a scope check and two query params.
import { Type } from '@sinclair/typebox'

export interface User {
  readonly name: string
  readonly scopes: readonly string[]
}

export interface Item {
  readonly id: number
  readonly name: string
  readonly price: number
}

/** What a request borrows from the pool: the tables it reads. */
export interface Session {
  readonly id: number
  readonly users: ReadonlyMap<string, User>
  readonly items: readonly Item[]
}

export interface ItemsPage {
  readonly user: string
  /** Sessions open while the handler ran: 1 when every earlier request gave its session back. */
  readonly open: number
  readonly items: readonly Item[]
}

export const TOKEN = 'tok'
export const REQUIRED_SCOPE = 'items:read'

const USERS: ReadonlyMap<string, User> = new Map([
  [TOKEN, { name: 'alice', scopes: ['me', REQUIRED_SCOPE] }],
  ['tok-bob', { name: 'bob', scopes: ['me'] }]
])

const ITEMS: readonly Item[] = Array.from({ length: 100 }, (_, i) => ({ id: i, name: `item ${i}`, price: (i * 37) % 100 + 0.5 }))

/** An in-memory connection pool: `acquire` is async like a real one, `release` gives the session back. */
export class Pool {
  open = 0
  #issued = 0

  async acquire (): Promise<Session> {
    this.open++
    return { id: ++this.#issued, users: USERS, items: ITEMS }
  }

  release (_session: Session): void {
    this.open--
  }
}

export const SKIP = Type.Integer({ minimum: 0, default: 0 })
export const LIMIT = Type.Integer({ minimum: 1, maximum: 100, default: 20 })
/** The querystring schema the hand-written servers declare; fastify-depends builds the same from `Query()`. */
export const QUERYSTRING = Type.Object({ skip: SKIP, limit: LIMIT })

/** The token of `Authorization: Bearer <token>` (scheme case-insensitive), as OAuth2PasswordBearer reads it. */
export function bearerToken (header: string | undefined): string | undefined {
  if (header === undefined) return undefined
  const space = header.indexOf(' ')
  if (space === -1 || header.slice(0, space).toLowerCase() !== 'bearer') return undefined
  return header.slice(space + 1).trim()
}

export function findUser (session: Session, token: string): User | undefined {
  return session.users.get(token)
}

/** The first scope of `required` the user lacks, or `undefined`. */
export function missingScope (user: User, required: readonly string[]): string | undefined {
  for (const scope of required) if (!user.scopes.includes(scope)) return scope
  return undefined
}

export function itemsPage (user: User, pool: Pool, session: Session, skip: number, limit: number): ItemsPage {
  return { user: user.name, open: pool.open, items: session.items.slice(skip, skip + limit) }
}

/** The same 401 as fastify-depends' `httpError`, for the hand-written servers. */
export function unauthorized (message: string, challenge: string): Error {
  return Object.assign(new Error(message), { statusCode: 401, headers: { 'www-authenticate': challenge } })
}

/** The timed request. */
export const W1_PATH = '/items?skip=10&limit=10'
export const W1_HEADERS = { authorization: `Bearer ${TOKEN}` }

/** Requests every implementation must answer alike (checked before timing); the first is the timed one. */
export const W1_CHECKS: readonly { readonly path: string, readonly headers: Record<string, string>, readonly status: number }[] = [
  { path: W1_PATH, headers: W1_HEADERS, status: 200 },
  { path: W1_PATH, headers: W1_HEADERS, status: 200 },
  { path: '/items', headers: W1_HEADERS, status: 200 },
  { path: W1_PATH, headers: {}, status: 401 },
  { path: W1_PATH, headers: { authorization: 'Bearer nobody' }, status: 401 },
  { path: W1_PATH, headers: { authorization: 'Bearer tok-bob' }, status: 401 },
  { path: '/items?limit=1000', headers: W1_HEADERS, status: 400 },
  { path: W1_PATH, headers: W1_HEADERS, status: 200 }
]
