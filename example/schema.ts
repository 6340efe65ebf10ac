// The tables, created on start, and the seeded users, API keys and items.
import { randomBytes } from 'node:crypto'
import type { Database } from './db'
import { hashApiKey, hashPassword } from './passwords'

/** All scopes, with what they allow (shown in Swagger UI's Authorize dialog). */
export const SCOPES = {
  me: 'Read your own profile',
  'items:read': 'List, read and export items',
  'items:write': 'Create and delete items'
}

export type Scope = keyof typeof SCOPES

export const SEEDED_USERS = [
  { username: 'alice', password: 'secret', fullName: 'Alice Wonderson', email: 'alice@example.com', scopes: ['me', 'items:read', 'items:write'] },
  { username: 'bob', password: 'secret', fullName: 'Bob Builder', email: 'bob@example.com', scopes: ['me', 'items:read'] }
] as const

/**
 * Machine users: no password anyone knows (they never log in), an API key for `x-api-key` instead.
 * The key is fixed so that it can be printed and documented; a real one is random and shown once.
 */
export const SEEDED_MACHINE_USERS = [
  { username: 'reporting-bot', fullName: 'Reporting Bot', email: 'reporting-bot@example.com', scopes: ['items:read'], apiKey: 'demo-reporting-bot-key' }
] as const

const SEEDED_ITEMS = [
  { owner: 'alice', title: 'Teapot', description: 'Short and stout' },
  { owner: 'alice', title: 'Pocket watch', description: 'Runs two days slow' },
  { owner: 'alice', title: 'Playing cards', description: null }
]

const TABLES = [
  `CREATE TABLE IF NOT EXISTS users (
    id serial PRIMARY KEY,
    username text NOT NULL UNIQUE,
    full_name text NOT NULL,
    email text NOT NULL,
    password_hash text NOT NULL,
    scopes text[] NOT NULL DEFAULT '{}'
  )`,
  `CREATE TABLE IF NOT EXISTS items (
    id serial PRIMARY KEY,
    owner_id integer NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    title text NOT NULL,
    description text,
    created_at timestamptz NOT NULL DEFAULT now(),
    UNIQUE (owner_id, title)
  )`,
  // Only the key's hash is stored; its scopes, like a token's, never exceed its owner's.
  `CREATE TABLE IF NOT EXISTS api_keys (
    id serial PRIMARY KEY,
    owner_id integer NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    key_hash text NOT NULL UNIQUE,
    scopes text[] NOT NULL DEFAULT '{}'
  )`
]

/** Creates what is missing, in one transaction; safe to run on every start, also concurrently. */
export async function migrate (database: Database): Promise<void> {
  const db = await database.connect()
  try {
    await db.query('BEGIN')
    await db.query('SELECT pg_advisory_xact_lock(20250505)') // two processes starting at once take turns
    for (const statement of TABLES) await db.query(statement)
    for (const user of SEEDED_USERS) {
      const { rows } = await db.query('SELECT 1 FROM users WHERE username = $1', [user.username])
      if (rows.length > 0) continue
      await db.query(
        'INSERT INTO users (username, full_name, email, password_hash, scopes) VALUES ($1, $2, $3, $4, $5)',
        [user.username, user.fullName, user.email, await hashPassword(user.password), user.scopes]
      )
    }
    for (const machine of SEEDED_MACHINE_USERS) {
      const { rows } = await db.query('SELECT 1 FROM users WHERE username = $1', [machine.username])
      if (rows.length > 0) continue
      // A random password, thrown away: POST /token cannot tell this user from one with a wrong password.
      await db.query(
        'INSERT INTO users (username, full_name, email, password_hash, scopes) VALUES ($1, $2, $3, $4, $5)',
        [machine.username, machine.fullName, machine.email, await hashPassword(randomBytes(32).toString('base64')), machine.scopes]
      )
      await db.query(
        'INSERT INTO api_keys (owner_id, key_hash, scopes) SELECT id, $2, $3 FROM users WHERE username = $1',
        [machine.username, hashApiKey(machine.apiKey), machine.scopes]
      )
    }
    const { rows } = await db.query<{ n: number }>('SELECT count(*)::int AS n FROM items')
    if (rows[0].n === 0) {
      for (const item of SEEDED_ITEMS) {
        await db.query(
          'INSERT INTO items (owner_id, title, description) SELECT id, $2, $3 FROM users WHERE username = $1',
          [item.owner, item.title, item.description]
        )
      }
    }
    await db.query('COMMIT')
  } catch (err) {
    await db.query('ROLLBACK')
    throw err
  } finally {
    db.release()
  }
}
