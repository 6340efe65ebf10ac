import Fastify from 'fastify'
import { expectAssignable, expectError, expectType } from 'tsd'
import fastifyDepends, {
  depends, Depends, Security, httpError,
  type Dependency, type DependencyContext, type DependencyValue, type InferDeps, type SecurityScopes
} from '../..'

interface User { id: number, name: string }
interface Db { query (sql: string): Promise<unknown[]> }

const getDb = depends(async function * getDb () {
  const db: Db = { query: async () => [] }
  yield db
})
expectType<Dependency<Db>>(getDb)

const syncGen = depends(function * () { yield 42 })
expectType<Dependency<number>>(syncGen)

const requestId = depends((_inputs, ctx) => {
  expectType<DependencyContext>(ctx)
  expectType<SecurityScopes>(ctx.securityScopes)
  return ctx.request.id
})
expectType<Dependency<string>>(requestId)

const currentUser = depends({ db: getDb, id: requestId }, async ({ db, id }): Promise<User> => {
  expectType<Db>(db)
  expectType<string>(id)
  return { id: 1, name: id }
}, { name: 'currentUser' })
expectType<Dependency<User>>(currentUser)
expectType<User>({} as DependencyValue<typeof currentUser>)
expectType<User>({} as DependencyValue<ReturnType<typeof Depends<User>>>)

// inputs may be use-site markers; their values keep their types
depends({ user: Security(currentUser, ['me']), db: Depends(getDb, { scope: 'function' }) }, ({ user, db }) => {
  expectType<User>(user)
  expectType<Db>(db)
})

// an input that is not a dependency is a type error
expectError(depends({ db: 42 }, () => 1))
// bad use-site options are type errors
expectError(Depends(getDb, { scope: 'forever' }))
expectError(Depends(getDb, { useCache: 'no' }))
expectError(Security(getDb, 'me'))

const deps = { user: Security(currentUser, ['items:read']), db: getDb }
expectType<{ user: User, db: Db }>({} as InferDeps<typeof deps>)
expectType<Record<never, never>>({} as InferDeps<[typeof getDb]>)

const app = Fastify()
app.register(fastifyDepends, { dependencies: [requestId], concurrency: 'parallel' })
expectError(app.register(fastifyDepends, { concurrency: 'sometimes' }))
app.register(fastifyDepends, { closeTimeout: 5_000, serverTiming: true, xDependencies: false })
expectError(app.register(fastifyDepends, { closeTimeout: '5s' }))

app.get<{ Deps: InferDeps<typeof deps> }>('/items', { dependencies: deps }, async (request) => {
  expectType<User>(request.deps.user)
  expectType<Db>(request.deps.db)
  return request.deps.user.name
})
app.post('/ping', { dependencies: [getDb, Depends(requestId, { useCache: false })] }, async (request) => {
  expectType<Record<never, never>>(request.deps)
})
expectError(app.get('/bad', { dependencies: { x: 1 } }, async () => 'x'))

expectType<typeof app>(app.addDependencies([requestId]))
app.dependencyOverrides.set(getDb, depends(async function * () { yield { query: async () => [] } }))
app.dependencyOverrides.set(requestId, () => 'fixed')
expectError(app.dependencyOverrides.set(requestId, 'fixed'))
expectAssignable<Error & { statusCode: number }>(httpError(418, 'teapot', { 'x-a': 'b' }))
