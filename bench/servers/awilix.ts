// (c) @fastify/awilix: request-scoped registrations resolved from `request.diScope`; the db
// session's disposer gives it back when the plugin disposes the scope (onResponse).
import { fastifyAwilixPlugin } from '@fastify/awilix'
import { asFunction, asValue, createContainer, type AwilixContainer } from 'awilix'
import Fastify, { type FastifyInstance, type FastifyRequest } from 'fastify'
import {
  Pool, QUERYSTRING, REQUIRED_SCOPE, bearerToken, findUser, itemsPage, missingScope, unauthorized,
  type Session, type User
} from '../workloads/w1'
import { listenFastify, unsupported, type RunningServer, type Workload } from './server'

type W1Request = FastifyRequest & { query: { skip: number, limit: number } }

interface Cradle {
  pool: Pool
  request: W1Request
  token: string
  /** The session is acquired asynchronously: awilix resolves the promise, the consumer awaits it. */
  db: Promise<Session>
  currentUser: Promise<User>
  pagination: { skip: number, limit: number }
}

export async function buildAwilixApp (workload: Workload): Promise<FastifyInstance> {
  if (workload !== 'w1') unsupported('awilix', workload)
  const pool = new Pool()
  const container = createContainer<Cradle>({ injectionMode: 'PROXY', strict: true })
  container.register({
    pool: asValue(pool),
    token: asFunction(({ request }: Cradle) => {
      const token = bearerToken(request.headers.authorization)
      if (token === undefined) throw unauthorized('Not authenticated', 'Bearer')
      return token
    }).scoped(),
    db: asFunction(({ pool }: Cradle) => pool.acquire()).scoped().disposer(async (pending) => pool.release(await pending)),
    currentUser: asFunction(async ({ token, db }: Cradle) => {
      const user = findUser(await db, token)
      if (user === undefined) throw unauthorized('Invalid token', 'Bearer')
      return user
    }).scoped(),
    pagination: asFunction(({ request }: Cradle) => ({ skip: request.query.skip, limit: request.query.limit })).scoped()
  })

  const app = Fastify({ logger: false })
  await app.register(fastifyAwilixPlugin, {
    container: container as unknown as AwilixContainer,
    disposeOnResponse: true,
    disposeOnClose: true,
    asyncInit: false,
    asyncDispose: false,
    eagerInject: false
  })
  const scopeOf = (request: FastifyRequest) => request.diScope as unknown as AwilixContainer<Cradle>

  app.get('/items', {
    schema: { querystring: QUERYSTRING },
    onRequest: function registerRequest (request, _reply, done) {
      scopeOf(request).register({ request: asValue(request as W1Request) })
      done()
    },
    preHandler: async function authorize (request) {
      const user = await scopeOf(request).resolve('currentUser')
      if (missingScope(user, [REQUIRED_SCOPE]) !== undefined) throw unauthorized('Not enough permissions', `Bearer scope="${REQUIRED_SCOPE}"`)
    }
  }, async (request) => {
    const scope = scopeOf(request)
    const { skip, limit } = scope.resolve('pagination')
    return itemsPage(await scope.resolve('currentUser'), pool, await scope.resolve('db'), skip, limit)
  })
  return app
}

export async function start (workload: Workload): Promise<RunningServer> {
  return await listenFastify(await buildAwilixApp(workload))
}
