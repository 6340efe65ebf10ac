// App-scoped dependencies: their function gets { app, log }, not a request; values type like any other.
import Fastify, { type FastifyBaseLogger, type FastifyInstance } from 'fastify'
import { expectError, expectType } from 'tsd'
import fastifyDepends, { depends, type DependencyValue, type InferDeps } from '../..'

const pool = depends(async function * pool (_inputs, { app, log }) {
  expectType<FastifyInstance>(app)
  expectType<FastifyBaseLogger>(log)
  yield { query: (sql: string) => sql.length }
}, { scope: 'app' })

expectType<{ query: (sql: string) => number }>({} as DependencyValue<typeof pool>)

// No request in an app-scoped dependency's context.
expectError(depends((_inputs, { request }) => request.url, { scope: 'app' }))
expectError(depends({ pool }, (_inputs, { reply }) => reply.statusCode, { scope: 'app' }))

const getDb = depends({ pool }, ({ pool }, { request }) => pool.query(request.url))
const deps = { getDb, pool }
expectType<{ getDb: number, pool: { query: (sql: string) => number } }>({} as InferDeps<typeof deps>)

const app = Fastify()
app.register(fastifyDepends)
expectType<Promise<{ query: (sql: string) => number }>>(app.resolveDependency(pool))
app.get('/', { dependencies: deps }, async (request) => {
  expectType<number>(request.deps.getDb)
  expectType<number>(request.deps.pool.query('x'))
})
