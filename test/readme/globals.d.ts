// What README.md's snippets take from the story around them (the example service, earlier
// snippets). Each snippet is compiled as a module against the built package: what a snippet
// declares or imports itself shadows these.
type Db = { query (sql: string, values?: unknown[]): Promise<{ rows: unknown[] }>, release (): void }
interface User { id: number, name: string, scopes: string[], admin: boolean }

declare const app: import('fastify').FastifyInstance
declare const fastifyDepends: typeof import('fastify-depends').default
declare const depends: typeof import('fastify-depends').depends
declare const Depends: typeof import('fastify-depends').Depends
declare const Security: typeof import('fastify-depends').Security
declare const httpError: typeof import('fastify-depends').httpError
declare const pool: { connect (): Promise<Db>, end (): Promise<void> }
declare const getDb: import('fastify-depends').Dependency<Db>
declare const testDb: Db
declare const currentUser: import('fastify-depends').Dependency<User>
declare const pagination: import('fastify-depends').Dependency<{ skip: number, limit: number }>
declare const checkApiVersion: import('fastify-depends').Dependency<void>
declare const verifyKey: import('fastify-depends').Dependency<void>
declare const requireAdmin: import('fastify-depends').Dependency<void>
declare const handler: import('fastify').RouteHandlerMethod
declare const log: import('fastify').FastifyBaseLogger
declare function findUserByToken (db: Db, token: string | undefined): Promise<User | undefined>
declare function issueToken (username: string, password: string, scopes: string[]): Promise<string>
