// The example service: an items API with a real database, the OAuth2 password flow with
// scopes (or an API key, to list items), new items pushed over a WebSocket, and Swagger UI at /docs. `buildApp()` for tests (inject), example/server.ts to listen.
import Fastify, { type FastifyInstance, type FastifyServerOptions } from 'fastify'
import formbody from '@fastify/formbody'
import swagger from '@fastify/swagger'
import swaggerUi from '@fastify/swagger-ui'
import websocket from '@fastify/websocket'
import fastifyDepends from '../lib/index'
import { authRoutes } from './auth'
import { database, type Database } from './db'
import { itemRoutes } from './items'
import { ItemFeed, liveRoutes } from './live'
import { tokenIssuer, type TokenOptions } from './tokens'
import { logSlowDependencies } from './slow-dependencies'
import { userRoutes } from './users'

export interface AppOptions {
  /** Default: `openDatabase()` (PGlite, or DATABASE_URL), opened in ready() and closed with the app. A given one is left open. */
  database?: Database
  tokens?: TokenOptions
  logger?: FastifyServerOptions['logger']
  /** Log dependencies slower than this many milliseconds (tracing through diagnostics_channel). */
  slowDependencyMs?: number
}

export async function buildApp (options: AppOptions = {}): Promise<FastifyInstance> {
  const app = Fastify({ logger: options.logger ?? false })
  // The database itself is an app-scoped dependency (example/db.ts): opened and migrated in ready().
  app.decorate('givenDatabase', options.database ?? null)
  if (options.slowDependencyMs !== undefined) {
    const stop = logSlowDependencies(app.log, options.slowDependencyMs)
    app.addHook('onClose', async () => stop())
  }
  app.decorate('tokens', tokenIssuer(options.tokens))
  app.decorate('itemFeed', new ItemFeed())

  await app.register(formbody) // POST /token reads an application/x-www-form-urlencoded body
  await app.register(fastifyDepends)
  await app.register(websocket) // GET /items/live; before or after fastify-depends alike
  // Before or after fastify-depends alike: the routes' security, parameters and its transform reach the document.
  await app.register(swagger, {
    openapi: {
      info: {
        title: 'fastify-depends example',
        version: '1.0.0',
        description: 'Log in with **Authorize**: `alice` / `secret` (every scope) or `bob` / `secret` (read only). ' +
          '`GET /items` also takes the API key `demo-reporting-bot-key` (the machine user `reporting-bot`) in `x-api-key`.'
      },
      tags: [
        { name: 'auth', description: 'OAuth2 password flow' },
        { name: 'users', description: 'The logged-in user' },
        { name: 'items', description: 'Items, stored in PostgreSQL' },
        { name: 'meta', description: 'The service itself' }
      ]
    }
  })
  await app.register(swaggerUi, { routePrefix: '/docs' })

  app.get('/', { schema: { hide: true } }, async (_request, reply) => reply.redirect('/docs'))
  app.get('/health', { dependencies: { database }, schema: { tags: ['meta'], summary: 'Liveness, and the database connections in use' } }, async (request) => ({
    status: 'ok', database: request.deps.database.kind, connectionsInUse: request.deps.database.inUse
  }))

  await app.register(authRoutes)
  await app.register(userRoutes)
  await app.register(itemRoutes)
  await app.register(liveRoutes)
  return app
}
