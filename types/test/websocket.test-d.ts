import websocket from '@fastify/websocket'
import Fastify from 'fastify'
import { expectError, expectType } from 'tsd'
import type { WebSocket } from 'ws'
import fastifyDepends, { APIKeyQuery, depends } from '../..'

const app = Fastify()
app.register(websocket)
app.register(fastifyDepends)

const db = depends(async function * () { yield { query: (sql: string) => sql.length } }, { scope: 'request' })
const key = APIKeyQuery({ name: 'api_key' })

// `request.deps` is inferred from `dependencies` in a socket handler as in an HTTP handler.
app.get('/live', { websocket: true, dependencies: { db, key } }, (socket, request) => {
  expectType<WebSocket>(socket)
  expectType<string>(request.deps.key)
  expectType<number>(request.deps.db.query('SELECT 1'))
  expectError(request.deps.missing)
})

// Without `dependencies`, @fastify/websocket's own overload: `request.deps` is a plain record.
app.get('/plain', { websocket: true }, (socket, request) => {
  expectType<WebSocket>(socket)
  expectType<Record<string, unknown>>(request.deps)
})
