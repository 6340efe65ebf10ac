// Routes about the logged-in user: scopes accumulate from Security() to currentUser.
import type { FastifyInstance } from 'fastify'
import { Security, type InferDeps } from '../lib/index'
import { currentUser, UserSchema } from './auth'
import { getDb } from './db'
import { ItemPageSchema, SELECT_ITEMS, type Item } from './items'
import { pagination } from './pagination'

const meDeps = { user: Security(currentUser, ['me']) }
// Both scopes are required: currentUser sees securityScopes.scopes = ['me', 'items:read'].
const myItemsDeps = { user: Security(currentUser, ['me', 'items:read']), page: pagination, db: getDb }

export async function userRoutes (app: FastifyInstance): Promise<void> {
  app.get<{ Deps: InferDeps<typeof meDeps> }>('/users/me', {
    dependencies: meDeps,
    schema: { tags: ['users'], operationId: 'readUsersMe', summary: 'Who am I', response: { 200: UserSchema } }
  }, async (request) => request.deps.user)

  app.get<{ Deps: InferDeps<typeof myItemsDeps> }>('/users/me/items', {
    dependencies: myItemsDeps,
    schema: { tags: ['users'], summary: 'My items', response: { 200: ItemPageSchema } }
  }, async (request) => {
    const { user, page, db } = request.deps
    const { rows: items } = await db.query<Item>(`${SELECT_ITEMS} WHERE i.owner_id = $1 ORDER BY i.id LIMIT $2 OFFSET $3`, [user.id, page.limit, page.skip])
    const { rows: [{ total }] } = await db.query<{ total: number }>('SELECT count(*)::int AS total FROM items WHERE owner_id = $1', [user.id])
    return { items, total, skip: page.skip, limit: page.limit }
  })
}
