// Password hashing with node:crypto's scrypt: a random salt per password, a constant-time compare.
// API keys get a plain SHA-256 instead (hashApiKey).
import { createHash, randomBytes, scrypt, timingSafeEqual, type BinaryLike } from 'node:crypto'

const KEY_LENGTH = 64

function derive (password: BinaryLike, salt: Buffer): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    scrypt(password, salt, KEY_LENGTH, (err, key) => err === null ? resolve(key) : reject(err))
  })
}

/** `scrypt$<salt>$<key>`, both base64. */
export async function hashPassword (password: string): Promise<string> {
  const salt = randomBytes(16)
  const key = await derive(password, salt)
  return `scrypt$${salt.toString('base64')}$${key.toString('base64')}`
}

export async function verifyPassword (password: string, stored: string): Promise<boolean> {
  const [algorithm, salt, key] = stored.split('$')
  if (algorithm !== 'scrypt' || salt === undefined || key === undefined) return false
  const expected = Buffer.from(key, 'base64')
  const actual = await derive(password, Buffer.from(salt, 'base64'))
  return actual.length === expected.length && timingSafeEqual(actual, expected)
}

let dummy: Promise<string> | undefined

/** Spends the time a real check takes, so an unknown user cannot be told from a wrong password. */
export async function verifyNothing (password: string): Promise<false> {
  await verifyPassword(password, await (dummy ??= hashPassword('not a password')))
  return false
}

/**
 * An API key's hash, hex. No salt, and fast: a key is a long random string, not a guessable
 * password, and an unsalted hash can be looked up (`WHERE key_hash = $1`) instead of tried row by row.
 */
export function hashApiKey (key: string): string {
  return createHash('sha256').update(key).digest('hex')
}
