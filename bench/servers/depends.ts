// (b) fastify-depends: the same work as dependencies. W3 is W1 with getDb overridden.
import Fastify, { type FastifyInstance } from 'fastify'
import type { Dependency, InferDeps } from '../../lib/index'
import { LIMIT, Pool, REQUIRED_SCOPE, SKIP, findUser, itemsPage, missingScope, type Session } from '../workloads/w1'
import { W2_NODES, W2_PATH, W2_ROOTS } from '../workloads/w2'
import { lib } from './lib'
import { listenFastify, type RunningServer, type Workload } from './server'

const { OAuth2PasswordBearer, Query, Security, depends, httpError } = lib

/** W1's dependencies over one pool; `getDb` is exported for overriding (W3). */
export function w1Dependencies (pool: Pool) {
  const oauth2 = OAuth2PasswordBearer({ tokenUrl: '/token', scopes: { [REQUIRED_SCOPE]: 'Read items' } })

  const getDb = depends(async function * getDb () {
    const session = await pool.acquire()
    try {
      yield session
    } finally {
      pool.release(session)
    }
  })

  const currentUser = depends({ token: oauth2, db: getDb }, ({ token, db }, { securityScopes }) => {
    const user = findUser(db, token as string)
    if (user === undefined) throw httpError(401, 'Invalid token', { 'www-authenticate': 'Bearer' })
    if (missingScope(user, securityScopes.scopes) !== undefined) {
      throw httpError(401, 'Not enough permissions', { 'www-authenticate': `Bearer scope="${securityScopes.scopeStr}"` })
    }
    return user
  }, { name: 'currentUser' })

  const pagination = depends({ skip: Query('skip', SKIP), limit: Query('limit', LIMIT) }, ({ skip, limit }) => ({ skip, limit }), { name: 'pagination' })

  const routeDeps = { user: Security(currentUser, [REQUIRED_SCOPE]), db: getDb, page: pagination }
  return { getDb, routeDeps }
}

/** W3's replacement for getDb: the same session from the same pool, as a test double would be. */
export function dbOverride (pool: Pool): Dependency<Session> {
  return depends(async function * overriddenDb () {
    const session = await pool.acquire()
    try {
      yield session
    } finally {
      pool.release(session)
    }
  })
}

/** W2's 20 nodes as dependencies, by name. */
export function w2Dependencies (): Record<string, Dependency<number>> {
  const byName: Record<string, Dependency<number>> = {}
  for (const node of W2_NODES) {
    const inputs: Record<string, Dependency<number>> = {}
    for (const [key, name] of Object.entries(node.inputs)) inputs[key] = byName[name]
    byName[node.name] = depends(inputs, node.fn, { name: node.name })
  }
  return byName
}

export function w2RouteDeps (): Record<string, Dependency<number>> {
  const byName = w2Dependencies()
  return Object.fromEntries(W2_ROOTS.map((name) => [name, byName[name]]))
}

export async function buildDependsApp (workload: Workload): Promise<FastifyInstance> {
  const app = Fastify({ logger: false })
  await app.register(lib.default)
  if (workload === 'w2') {
    app.get(W2_PATH, { dependencies: w2RouteDeps() }, async (request) => request.deps)
    return app
  }
  const pool = new Pool()
  const { getDb, routeDeps } = w1Dependencies(pool)
  app.get<{ Deps: InferDeps<typeof routeDeps> }>('/items', { dependencies: routeDeps }, async (request) => {
    const { user, db, page } = request.deps
    return itemsPage(user, pool, db, page.skip, page.limit)
  })
  if (workload === 'w3') app.dependencyOverrides.set(getDb, dbOverride(pool))
  return app
}

export async function start (workload: Workload): Promise<RunningServer> {
  return await listenFastify(await buildDependsApp(workload))
}
