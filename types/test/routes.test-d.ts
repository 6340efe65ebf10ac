// `request.deps` inferred from a route's `dependencies`, and a `Deps` generic checked against them.
import Fastify, { type FastifyInstance } from 'fastify'
import { Type } from '@sinclair/typebox'
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox-legacy'
import { expectError, expectType } from 'tsd'
import fastifyDepends, {
  depends, Depends, Security, Query, OAuth2PasswordBearer, HTTPBearer,
  type DependencyList, type HTTPAuthorizationCredentials, type InferDeps
} from '../..'

interface User { id: number, name: string }
interface Db { query (sql: string): Promise<unknown[]> }

const oauth2 = OAuth2PasswordBearer({ tokenUrl: '/token', scopes: { me: 'Read yourself' } })
const currentUser = depends({ token: oauth2 }, async ({ token }): Promise<User> => ({ id: 1, name: token }))
const getDb = depends(async function * () {
  const db: Db = { query: async () => [] }
  yield db
})
const answer = depends(() => 42)

const app = Fastify()
app.register(fastifyDepends)

// inferred: no generic needed, in the handler and in the route's own hooks
app.get('/me', {
  dependencies: { user: Security(currentUser, ['me']), db: Depends(getDb, { scope: 'function' }), limit: Query('limit', Type.Integer()), token: oauth2 },
  preHandler: (request, _reply, done) => {
    expectType<User>(request.deps.user)
    done()
  }
}, async (request) => {
  expectType<{ user: User, db: Db, limit: number, token: string }>(request.deps)
  expectError(request.deps.usr)
  return request.deps.user.name
})
app.post('/ping', { dependencies: [answer, Depends(getDb)] }, async (request) => {
  expectType<Record<never, never>>(request.deps)
})
app.get('/plain', async (request) => {
  expectType<Record<string, unknown>>(request.deps)
})
app.get('/options-with-handler', {
  dependencies: { bearer: HTTPBearer() },
  handler: async (request) => {
    expectType<HTTPAuthorizationCredentials>(request.deps.bearer)
  }
})
app.route({
  method: ['GET', 'POST'],
  url: '/route',
  dependencies: { answer },
  handler: async (request) => {
    expectType<number>(request.deps.answer)
  }
})
// with a type provider: the schema types request.query, the dependencies type request.deps
app.withTypeProvider<TypeBoxTypeProvider>().get('/typed', {
  schema: { querystring: Type.Object({ page: Type.Integer() }) },
  dependencies: { user: currentUser }
}, async (request) => {
  expectType<number>(request.query.page)
  expectType<User>(request.deps.user)
})
// in a plugin
export async function routes (instance: FastifyInstance): Promise<void> {
  instance.get('/in-plugin', { dependencies: { user: currentUser } }, async (request) => {
    expectType<User>(request.deps.user)
  })
}
// a list whose type is only `DependencyList`: nothing is known about the names
export function listRoute (list: DependencyList): void {
  app.get('/list', { dependencies: list }, async (request) => {
    expectType<Record<string, unknown>>(request.deps)
  })
}

// a `Deps` generic: the dependencies must provide what it says
const deps = { user: currentUser, db: getDb }
app.get<{ Deps: InferDeps<typeof deps> }>('/explicit', { dependencies: deps }, async (request) => {
  expectType<User>(request.deps.user)
})
app.get<{ Deps: { user: User, limit: number } }>('/explicit-uses', {
  dependencies: { user: Security(currentUser, ['me']), limit: Query('limit', Type.Integer()) }
}, async (request) => request.deps.limit)
// a name the route does not give may come from the plugin or addDependencies; a list is run for effect
app.get<{ Deps: InferDeps<typeof deps> }>('/from-context', { dependencies: { user: currentUser } }, async (request) => request.deps.db)
app.get<{ Deps: InferDeps<typeof deps> }>('/list-with-deps', { dependencies: [answer] }, async (request) => request.deps.user)
// a generic without Deps leaves request.deps untyped
app.get<{ Querystring: { q: string } }>('/querystring', { dependencies: { user: currentUser } }, async (request) => {
  expectType<string>(request.query.q)
  expectType<Record<string, unknown>>(request.deps)
})

// mistakes
const others = { user: answer, db: getDb }
expectError(app.get<{ Deps: InferDeps<typeof deps> }>('/mismatch', { dependencies: others }, async () => 'x'))
expectError(app.get<{ Deps: InferDeps<typeof deps> }>('/mismatch-inline', { dependencies: { user: Depends(answer) } }, async () => 'x'))
expectError(app.get<{ Deps: { token: string } }>('/optional-token', { dependencies: { token: OAuth2PasswordBearer({ tokenUrl: '/t', autoError: false }) } }, async () => 'x'))
expectError(app.get<{ Deps: InferDeps<typeof deps> }>('/unknown-name', { dependencies: { user: currentUser, extra: answer } }, async () => 'x'))
expectError(app.route<{ Deps: { user: User } }>({ method: 'GET', url: '/route-mismatch', dependencies: { user: answer }, handler: async () => 'x' }))
expectError(app.get('/not-a-dependency', { dependencies: { x: 1 } }, async () => 'x'))
expectError(app.get('/not-a-dependency-in-a-list', { dependencies: [answer, 1] }, async () => 'x'))
