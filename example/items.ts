// The items API: paginated reads, writes that COMMIT before they answer, and an NDJSON export
// streamed from a server-side cursor of the request's transaction.
import { Readable } from 'node:stream'
import { Type } from '@sinclair/typebox'
import type { FastifyInstance } from 'fastify'
import { Body, depends, httpError, Path, Query, Security, type InferDeps } from '../lib/index'
import { currentPrincipal, currentUser } from './auth'
import { commitBeforeResponse, getDb, type Queryable } from './db'
import { pagination } from './pagination'

export const ItemSchema = Type.Object({
  id: Type.Integer(),
  title: Type.String(),
  description: Type.Union([Type.String(), Type.Null()]),
  owner: Type.String(),
  createdAt: Type.String({ format: 'date-time' })
}, { description: 'An item' })

export const ItemPageSchema = Type.Object({
  items: Type.Array(ItemSchema),
  total: Type.Integer(),
  skip: Type.Integer(),
  limit: Type.Integer()
}, { description: 'One page of items, and how many there are in all' })

export interface Item { id: number, title: string, description: string | null, owner: string, createdAt: Date }

export const SELECT_ITEMS = `SELECT i.id, i.title, i.description, u.username AS owner, i.created_at AS "createdAt"
  FROM items i JOIN users u ON u.id = i.owner_id`

const NewItemSchema = Type.Object({
  title: Type.String({ minLength: 1, maxLength: 200 }),
  description: Type.Optional(Type.String({ maxLength: 2000 }))
})

/** `$1`: a text the title contains (any case), or null for every item. */
const TITLE_FILTER = '($1::text IS NULL OR strpos(lower(i.title), lower($1)) > 0)'

/** Rows per FETCH while exporting. */
export const EXPORT_BATCH = 100

const itemId = Path('id', Type.Integer({ minimum: 1 }))

/**
 * Adds one item; a title its owner already uses is a 409. ON CONFLICT DO NOTHING keeps the
 * transaction usable: it is the thrown 409 that makes getDb roll back what came before.
 */
async function insertItem (db: Queryable, owner: { id: number, username: string }, item: { title: string, description?: string }): Promise<Item> {
  const { rows } = await db.query<Omit<Item, 'owner'>>(
    `INSERT INTO items (owner_id, title, description) VALUES ($1, $2, $3)
     ON CONFLICT (owner_id, title) DO NOTHING
     RETURNING id, title, description, created_at AS "createdAt"`,
    [owner.id, item.title, item.description ?? null]
  )
  if (rows.length === 0) throw httpError(409, `You already have an item titled "${item.title}"`)
  return { ...rows[0], owner: owner.username }
}

/** The export's body: pulls the cursor a batch at a time, as fast as the client reads. */
async function * exportLines (db: Queryable): AsyncGenerator<string> {
  while (true) {
    const { rows } = await db.query(`FETCH ${EXPORT_BATCH} FROM export_items`)
    if (rows.length === 0) return
    yield rows.map((row) => JSON.stringify(row) + '\n').join('')
  }
}

// Listing is open to machine clients too: the token or an API key (the others need a token).
const listDeps = {
  user: Security(currentPrincipal, ['items:read']),
  page: pagination,
  q: Query('q', Type.Optional(Type.String({ minLength: 1, maxLength: 100, description: 'Only titles containing this (any case)' }))),
  db: getDb
}
const readDeps = { user: Security(currentUser, ['items:read']), id: itemId, db: getDb }
const createDeps = {
  user: Security(currentUser, ['items:write']),
  item: depends({
    title: Body('title', NewItemSchema.properties.title),
    description: Body('description', NewItemSchema.properties.description)
  }, (item) => item, { name: 'newItem' }),
  db: getDb
}
const bulkDeps = {
  user: Security(currentUser, ['items:write']),
  items: Body('items', Type.Array(NewItemSchema, { minItems: 1, maxItems: 100 })),
  db: getDb
}
const deleteDeps = { user: Security(currentUser, ['items:write']), id: itemId, db: getDb }
const exportDeps = { user: Security(currentUser, ['items:read']), db: getDb }

export async function itemRoutes (app: FastifyInstance): Promise<void> {
  app.get<{ Deps: InferDeps<typeof listDeps> }>('/items', {
    dependencies: listDeps,
    schema: { tags: ['items'], summary: 'List items', response: { 200: ItemPageSchema } }
  }, async (request) => {
    const { page, q, db } = request.deps
    const { rows: items } = await db.query<Item>(`${SELECT_ITEMS} WHERE ${TITLE_FILTER} ORDER BY i.id LIMIT $2 OFFSET $3`, [q ?? null, page.limit, page.skip])
    const { rows: [{ total }] } = await db.query<{ total: number }>(`SELECT count(*)::int AS total FROM items i WHERE ${TITLE_FILTER}`, [q ?? null])
    return { items, total, skip: page.skip, limit: page.limit }
  })

  app.get<{ Deps: InferDeps<typeof exportDeps> }>('/items/export', {
    dependencies: exportDeps,
    schema: {
      tags: ['items'],
      summary: 'Export every item as NDJSON (one JSON object per line), streamed',
      response: { 200: { description: 'One item per line', content: { 'application/x-ndjson': { schema: ItemSchema } } } }
    }
  }, async (request, reply) => {
    const { db } = request.deps
    // A server-side cursor lives in the transaction: getDb (request scope) keeps it open until
    // the last line was sent, or rolls it back when the client goes away.
    await db.query(`DECLARE export_items NO SCROLL CURSOR FOR ${SELECT_ITEMS} ORDER BY i.id`)
    reply.type('application/x-ndjson')
    return Readable.from(exportLines(db))
  })

  app.get<{ Deps: InferDeps<typeof readDeps> }>('/items/:id', {
    dependencies: readDeps,
    schema: { tags: ['items'], summary: 'Read one item', response: { 200: ItemSchema } }
  }, async (request) => {
    const { id, db } = request.deps
    const { rows } = await db.query<Item>(`${SELECT_ITEMS} WHERE i.id = $1`, [id])
    if (rows.length === 0) throw httpError(404, `Item ${id} not found`)
    return rows[0]
  })

  // The routes that write commit before they answer (the why is on commitBeforeResponse).
  await app.register(async function writes (writes) {
    writes.addDependencies([commitBeforeResponse])

    writes.post<{ Deps: InferDeps<typeof createDeps> }>('/items', {
      dependencies: createDeps,
      schema: { tags: ['items'], summary: 'Create an item', response: { 201: ItemSchema } }
    }, async (request, reply) => {
      const { user, item, db } = request.deps
      const created = await insertItem(db, user, item)
      db.afterCommit(() => { request.server.itemFeed.publish(created) })
      reply.code(201)
      return created
    })

    writes.post<{ Deps: InferDeps<typeof bulkDeps> }>('/items/bulk', {
      dependencies: bulkDeps,
      schema: {
        tags: ['items'],
        summary: 'Create several items, all or none',
        description: 'One transaction: when an item fails (409), the ones already inserted are rolled back.',
        response: { 201: Type.Object({ items: Type.Array(ItemSchema) }, { description: 'The new items' }) }
      }
    }, async (request, reply) => {
      const { user, items, db } = request.deps
      const created: Item[] = []
      for (const item of items) created.push(await insertItem(db, user, item))
      // All or none, and only once stored: a 409 rolls back, and nobody hears of the others.
      db.afterCommit(() => { for (const item of created) request.server.itemFeed.publish(item) })
      reply.code(201)
      return { items: created }
    })

    writes.delete<{ Deps: InferDeps<typeof deleteDeps> }>('/items/:id', {
      dependencies: deleteDeps,
      schema: { tags: ['items'], summary: 'Delete one of your items', response: { 204: Type.Null({ description: 'Deleted' }) } }
    }, async (request, reply) => {
      const { user, id, db } = request.deps
      const { rows } = await db.query<{ owner_id: number }>('SELECT owner_id FROM items WHERE id = $1', [id])
      if (rows.length === 0) throw httpError(404, `Item ${id} not found`)
      if (rows[0].owner_id !== user.id) throw httpError(403, 'You can only delete your own items')
      await db.query('DELETE FROM items WHERE id = $1', [id])
      reply.code(204)
    })
  })
}
