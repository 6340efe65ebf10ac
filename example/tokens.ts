// Access tokens: JWTs signed (HS256) and verified with jose.
import { randomBytes } from 'node:crypto'

// jose is an ES module and this package is CommonJS: load it with import().
const jose = import('jose')

export interface TokenClaims {
  /** The username. */
  readonly sub: string
  readonly scopes: string[]
}

export interface TokenIssuer {
  issue(username: string, scopes: readonly string[]): Promise<{ token: string, expiresIn: number }>
  /** The claims of a valid token, or `null` (bad signature, expired, malformed). */
  verify(token: string): Promise<TokenClaims | null>
}

export interface TokenOptions {
  /** The HS256 key; default: JWT_SECRET, else random (tokens then die with the process). */
  secret?: string | Uint8Array
  /** Lifetime in seconds (default 30 minutes). */
  expiresIn?: number
}

export function tokenIssuer (options: TokenOptions = {}): TokenIssuer {
  const configured = options.secret ?? process.env.JWT_SECRET
  const key = typeof configured === 'string' && configured !== ''
    ? new TextEncoder().encode(configured)
    : configured instanceof Uint8Array ? configured : new Uint8Array(randomBytes(32))
  const expiresIn = options.expiresIn ?? 30 * 60

  return {
    async issue (username, scopes) {
      const { SignJWT } = await jose
      const now = Math.floor(Date.now() / 1000)
      const token = await new SignJWT({ scope: scopes.join(' ') })
        .setProtectedHeader({ alg: 'HS256' })
        .setSubject(username)
        .setIssuedAt(now)
        .setExpirationTime(now + expiresIn)
        .sign(key)
      return { token, expiresIn }
    },
    async verify (token) {
      const { jwtVerify } = await jose
      try {
        const { payload } = await jwtVerify(token, key, { algorithms: ['HS256'] })
        if (typeof payload.sub !== 'string') return null
        const scope = typeof payload.scope === 'string' ? payload.scope : ''
        return { sub: payload.sub, scopes: scope.split(' ').filter((s) => s !== '') }
      } catch {
        return null
      }
    }
  }
}
