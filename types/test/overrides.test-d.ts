// `dependencyOverrides.set(original, replacement)`: the replacement provides the original's value type.
import Fastify from 'fastify'
import { expectError } from 'tsd'
import fastifyDepends, { depends, Depends, HTTPBearer, OAuth2PasswordBearer, type Dependency } from '../..'

interface User { id: number, role: 'admin' | 'user' }
interface Db { query (sql: string): Promise<unknown[]> }

const currentUser = depends(async (): Promise<User> => ({ id: 1, role: 'user' }))
const getDb = depends(async function * () {
  const db: Db = { query: async () => [] }
  yield db
})
const token = OAuth2PasswordBearer({ tokenUrl: '/token' })
const bearer = HTTPBearer()

const app = Fastify()
app.register(fastifyDepends)
const overrides = app.dependencyOverrides

// a dependency of the same value, or of a narrower one
overrides.set(currentUser, depends((): User => ({ id: 2, role: 'admin' })))
overrides.set(token, depends(() => 'a-token' as const))
overrides.set(getDb, depends({ user: currentUser }, function * ({ user }) { yield { query: async () => [user] } }))
// a function returning the value, a promise of it, or a generator yielding it; literals keep their types
overrides.set(currentUser, () => ({ id: 2, role: 'admin' }))
overrides.set(currentUser, async () => ({ id: 2, role: 'admin' }))
overrides.set(currentUser, function * () { yield { id: 2, role: 'admin' } })
overrides.set(getDb, async function * () { yield { query: async () => [] } })
overrides.set(token, (_inputs, { request }) => request.id)
overrides.set(bearer, () => ({ scheme: 'Bearer', credentials: 'test' }))
const role = depends((): 'admin' | 'user' => 'user')
overrides.set(role, () => 'admin')
// TypeScript widens a bare literal of an async or generator function (the contextual type is a union)
expectError(overrides.set(role, async () => 'admin'))
overrides.set(role, async () => 'admin' as const)
overrides.set(role, function * () { yield 'admin' as const })

// a replacement of another type is a compile error
expectError(overrides.set(currentUser, depends(() => 42)))
expectError(overrides.set(currentUser, () => ({ id: 2, role: 'root' })))
expectError(overrides.set(currentUser, async () => ({ id: '2', role: 'admin' })))
expectError(overrides.set(getDb, async function * () { yield 'not a db' }))
expectError(overrides.set(token, () => 42))
expectError(overrides.set(token, depends(() => 'x' as string | number)))
// a scheme with the default autoError never gives undefined, so neither may its replacement
expectError(overrides.set(token, () => undefined))
expectError(overrides.set(bearer, depends(() => undefined)))
// neither a use-site marker nor a value is a replacement (nor, at run time, accepted)
expectError(overrides.set(getDb, Depends(getDb)))
expectError(overrides.set(token, 'a-token'))
expectError(overrides.set(Depends(getDb), getDb))

// a replacement of another type on purpose: widen the key
overrides.set(currentUser as Dependency, () => ({ fixed: true }))
