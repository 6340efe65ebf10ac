// (a) The floor: the same work written by hand in a route's preHandler and onResponse hooks.
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify'
import {
  Pool, QUERYSTRING, REQUIRED_SCOPE, bearerToken, findUser, itemsPage, missingScope, unauthorized,
  type Session, type User
} from '../workloads/w1'
import { W2_PATH, w2Direct, type W2Result } from '../workloads/w2'
import { listenFastify, unsupported, type RunningServer, type Workload } from './server'

// Fields decorated on the request (typed by a cast rather than a global module augmentation).
type W1Request = FastifyRequest & { query: { skip: number, limit: number }, benchSession: Session | null, benchUser: User | null }
type W2Request = FastifyRequest & { benchW2: W2Result | null }

export async function buildHooksApp (workload: Workload): Promise<FastifyInstance> {
  const app = Fastify({ logger: false })
  if (workload === 'w1') {
    const pool = new Pool()
    app.decorateRequest('benchSession', null)
    app.decorateRequest('benchUser', null)
    app.get('/items', {
      schema: { querystring: QUERYSTRING },
      preHandler: async function authenticate (request: FastifyRequest) {
        const req = request as W1Request
        const token = bearerToken(req.headers.authorization)
        if (token === undefined) throw unauthorized('Not authenticated', 'Bearer')
        const session = await pool.acquire()
        req.benchSession = session
        const user = findUser(session, token)
        if (user === undefined) throw unauthorized('Invalid token', 'Bearer')
        if (missingScope(user, [REQUIRED_SCOPE]) !== undefined) throw unauthorized('Not enough permissions', `Bearer scope="${REQUIRED_SCOPE}"`)
        req.benchUser = user
      },
      onResponse: function releaseSession (request: FastifyRequest, _reply: FastifyReply, done: () => void) {
        const session = (request as W1Request).benchSession
        if (session !== null) pool.release(session)
        done()
      }
    }, async (request) => {
      const req = request as W1Request
      return itemsPage(req.benchUser as User, pool, req.benchSession as Session, req.query.skip, req.query.limit)
    })
  } else if (workload === 'w2') {
    app.decorateRequest('benchW2', null)
    app.get(W2_PATH, {
      preHandler: function computeTree (request: FastifyRequest, _reply: FastifyReply, done: () => void) {
        (request as W2Request).benchW2 = w2Direct()
        done()
      }
    }, async (request) => (request as W2Request).benchW2)
  } else {
    unsupported('hooks', workload)
  }
  return app
}

export async function start (workload: Workload): Promise<RunningServer> {
  return await listenFastify(await buildHooksApp(workload))
}
