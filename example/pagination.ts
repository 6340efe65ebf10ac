// Query parameters as dependencies: Fastify validates and coerces them, Swagger documents them.
import { Type } from '@sinclair/typebox'
import { depends, Query } from '../lib/index'

export const pagination = depends({
  skip: Query('skip', Type.Integer({ minimum: 0, default: 0, description: 'Items to skip' })),
  limit: Query('limit', Type.Integer({ minimum: 1, maximum: 100, default: 20, description: 'Items per page (at most 100)' }))
}, ({ skip, limit }) => ({ skip, limit }), { name: 'pagination' })
