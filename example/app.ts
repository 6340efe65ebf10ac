// A tiny service showing the core: a session generator with commit/rollback, a user
// dependency built on it, router-level dependencies and request.deps. The full example
// (real database, OAuth2, Swagger UI) comes with the security and params work.
import Fastify, { type FastifyInstance } from 'fastify'
import fastifyDepends, { depends, httpError, type InferDeps } from '../lib/index'

interface Session {
  readonly id: number
  readonly log: string[]
}

let sessions = 0
export const events: string[] = []

/** One "transaction" per request: committed after the response, rolled back on error. */
export const getSession = depends(async function * getSession () {
  const session: Session = { id: ++sessions, log: [] }
  events.push(`session ${session.id}: begin`)
  try {
    yield session
    events.push(`session ${session.id}: commit`)
  } catch (err) {
    events.push(`session ${session.id}: rollback`)
    throw err
  }
})

const users: Record<string, { name: string }> = { 'token-alice': { name: 'alice' } }

export const currentUser = depends({ session: getSession }, ({ session }, { request }) => {
  const user = users[String(request.headers['x-token'])]
  if (user === undefined) throw httpError(401, 'Not authenticated', { 'www-authenticate': 'Token' })
  session.log.push(`read user ${user.name}`)
  return user
}, { name: 'currentUser' })

const requestTimer = depends(function * requestTimer (_inputs, { reply }) {
  const started = process.hrtime.bigint()
  yield started
  reply.header('x-elapsed-ns', String(process.hrtime.bigint() - started))
}, { scope: 'function' })

export async function buildApp (options: { logger?: boolean } = {}): Promise<FastifyInstance> {
  const app = Fastify({ logger: options.logger ?? false })
  await app.register(fastifyDepends, { dependencies: [requestTimer] })

  const meDeps = { user: currentUser, session: getSession }
  app.get<{ Deps: InferDeps<typeof meDeps> }>('/me', { dependencies: meDeps }, async (request) => {
    return { user: request.deps.user.name, session: request.deps.session.id, log: request.deps.session.log }
  })

  await app.register(async function admin (admin) {
    admin.addDependencies([depends({ user: currentUser }, ({ user }) => {
      if (user.name !== 'admin') throw httpError(403, 'Admins only')
    }, { name: 'requireAdmin' })])
    admin.get('/stats', async () => ({ sessions }))
  }, { prefix: '/admin' })

  app.get('/health', async () => ({ ok: true }))
  return app
}
