// The database: PGlite (a real PostgreSQL compiled to WebAssembly, in this process) by default,
// a PostgreSQL server through `pg` when DATABASE_URL is set. Both behind the same small interface,
// and `getDb`, the request's connection and transaction, as a generator dependency.
import { PGlite } from '@electric-sql/pglite'
import pg from 'pg'
import { depends, httpError } from '../lib/index'
import { migrate } from './schema'

export interface Queryable {
  query<Row = Record<string, unknown>>(text: string, params?: unknown[]): Promise<{ rows: Row[] }>
}

export interface Connection extends Queryable {
  /** Gives the connection back; it must not be used afterwards. */
  release(): void
}

/** What `getDb` yields: the request's connection, inside its transaction. */
export interface Transaction extends Queryable {
  /** COMMITs now rather than when getDb finishes (once; later calls do nothing). */
  commit(): Promise<void>
  /** Runs `callback` once the transaction committed (never, if it rolls back). */
  afterCommit(callback: () => void): void
}

export interface Database {
  readonly kind: 'pglite' | 'postgres'
  connect(): Promise<Connection>
  /** Connections taken and not released yet (a leak shows here, and on GET /health). */
  readonly inUse: number
  close(): Promise<void>
}

declare module 'fastify' {
  interface FastifyInstance {
    /** A database given to buildApp() (tests): used instead of opening one, and left open. */
    givenDatabase: Database | null
  }
}

/**
 * The database, app-scoped: opened and migrated once during `ready()` (a failure fails `ready()` and
 * `listen()`, naming it), closed at `close()` after every request's cleanups, before `onClose` hooks.
 */
export const database = depends(async function * database (_inputs, { app, log }) {
  const given = app.givenDatabase
  const db = given ?? await openDatabase()
  try {
    await migrate(db)
    log.debug({ database: db.kind }, 'database ready')
    yield db
  } finally {
    if (given === null) await db.close()
  }
}, { scope: 'app' })

/** The request's connection inside its transaction: COMMIT on success, ROLLBACK on any error. */
async function * transaction ({ database }: { database: Database }): AsyncGenerator<Transaction> {
  const connection = await database.connect()
  let committed = false
  const committedCallbacks: Array<() => void> = []
  const transaction: Transaction = {
    query: (text, params) => connection.query(text, params),
    async commit () {
      if (committed) return
      await connection.query('COMMIT')
      committed = true
      for (const callback of committedCallbacks.splice(0)) callback()
    },
    afterCommit (callback) {
      committedCallbacks.push(callback)
    }
  }
  try {
    await connection.query('BEGIN')
    yield transaction
    // Request scope (the default for generators): after the response was sent, or after the
    // last byte of a streamed one, so a stream can read from this transaction until it ends.
    await transaction.commit()
  } catch (err) {
    // The handler, a later dependency or the COMMIT threw, or the client went away (FST_DEPENDS_CLIENT_ABORTED).
    if (!committed) await connection.query('ROLLBACK')
    throw err
  } finally {
    connection.release()
  }
}

/** One connection and one transaction per request: FastAPI's `get_db` with `yield`. */
export const getDb = depends({ database }, transaction, { name: 'getDb' })

/**
 * The same, finalized when the handler returns (function scope). For a WebSocket route, whose
 * request scope lasts as long as the socket: the upgrade's queries do not hold a connection
 * (PGlite's one session) for the socket's lifetime.
 */
export const getShortDb = depends({ database }, transaction, { name: 'getShortDb', scope: 'function' })

/**
 * For routes that write: COMMIT before the response. Function scope because its cleanup runs
 * after the handler and BEFORE the response is written, so a 201 goes out only once the data is
 * stored (a failed COMMIT becomes a 500), and the client's next request sees it. getDb's own
 * COMMIT, in request scope, would run after the client was already told "created".
 */
export const commitBeforeResponse = depends({ db: getDb }, async function * commitBeforeResponse ({ db }) {
  yield
  await db.commit() // only on success: an error thrown in at `yield` goes on to getDb's ROLLBACK
}, { scope: 'function' })

/** A connection that refuses queries once released, so a late query fails instead of landing in someone else's transaction. */
function guarded (query: (text: string, params?: unknown[]) => Promise<{ rows: unknown[] }>, giveBack: () => void): Connection {
  let released = false
  return {
    query<Row> (text: string, params?: unknown[]) {
      if (released) return Promise.reject(new Error('This database connection was already released'))
      return query(text, params) as Promise<{ rows: Row[] }>
    },
    release () {
      if (released) return
      released = true
      giveBack()
    }
  }
}

export interface PgliteOptions {
  /** How long a request waits for the session before a 503 (default 10 s). */
  acquireTimeoutMs?: number
}

/**
 * PGlite is ONE PostgreSQL session: connections are handed out one at a time, in order, so two
 * transactions never interleave. A connection that is never released shows up as 503s.
 */
export function pgliteDatabase (pglite: PGlite, options: PgliteOptions = {}): Database {
  const acquireTimeoutMs = options.acquireTimeoutMs ?? 10_000
  const waiting: Array<() => void> = []
  let held = false
  let inUse = 0

  function giveBack (): void {
    inUse--
    const next = waiting.shift()
    if (next === undefined) held = false
    else next() // the session goes straight to the next in line
  }

  function wait (): Promise<void> {
    return new Promise((resolve, reject) => {
      const take = (): void => {
        clearTimeout(timer)
        resolve()
      }
      const timer = setTimeout(() => {
        waiting.splice(waiting.indexOf(take), 1)
        reject(httpError(503, 'The database is busy, try again'))
      }, acquireTimeoutMs)
      waiting.push(take)
    })
  }

  return {
    kind: 'pglite',
    get inUse () { return inUse },
    async connect () {
      if (held) await wait()
      held = true
      inUse++
      return guarded((text, params) => pglite.query(text, params), giveBack)
    },
    close: () => pglite.close()
  }
}

/** A pool of connections to a PostgreSQL server. */
export function postgresDatabase (pool: pg.Pool): Database {
  let inUse = 0
  return {
    kind: 'postgres',
    get inUse () { return inUse },
    async connect () {
      const client = await pool.connect()
      inUse++
      return guarded((text, params) => client.query(text, params), () => {
        inUse--
        client.release()
      })
    },
    close: () => pool.end()
  }
}

/** DATABASE_URL set: that PostgreSQL server; else a fresh in-memory PGlite. */
export async function openDatabase (url = process.env.DATABASE_URL): Promise<Database> {
  if (url !== undefined && url !== '') {
    return postgresDatabase(new pg.Pool({ connectionString: url, max: 10, connectionTimeoutMillis: 10_000 }))
  }
  return pgliteDatabase(await PGlite.create())
}
