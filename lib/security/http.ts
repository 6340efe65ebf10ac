import { authorizationParts, defineScheme, notAuthenticated, type SchemeDependency, type SchemeOptions, type SchemeValue } from './scheme'

/** What `HTTPBearer`, `HTTPDigest` and `HTTPBase` return. */
export interface HTTPAuthorizationCredentials {
  scheme: string
  credentials: string
}

/** What `HTTPBasic` returns. */
export interface HTTPBasicCredentials {
  username: string
  password: string
}

function titleCase (word: string): string {
  return word.replace(/[a-z]+/gi, (part) => part[0].toUpperCase() + part.slice(1).toLowerCase())
}

function httpScheme (factory: string, expected: string | undefined, challenge: string, openapi: Record<string, unknown>, options: SchemeOptions) {
  return defineScheme<HTTPAuthorizationCredentials | undefined>(factory, options, openapi, challenge, (request, autoError) => {
    const { value, scheme, param } = authorizationParts(request)
    if (value === '' || scheme === '' || param === '' || (expected !== undefined && scheme.toLowerCase() !== expected)) {
      if (autoError) throw notAuthenticated(challenge)
      return undefined
    }
    return { scheme, credentials: param }
  })
}

/** `Authorization: Bearer <token>` as `{ scheme, credentials }` (FastAPI B94). */
export function HTTPBearer<AutoError extends boolean = true, Name extends string = 'HTTPBearer'> (options: SchemeOptions<AutoError, Name> & { bearerFormat?: string } = {}): SchemeDependency<SchemeValue<HTTPAuthorizationCredentials, AutoError>, Name> {
  const openapi: Record<string, unknown> = { type: 'http', scheme: 'bearer' }
  if (options.bearerFormat !== undefined) openapi.bearerFormat = options.bearerFormat
  return httpScheme('HTTPBearer', 'bearer', 'Bearer', openapi, options) as SchemeDependency<SchemeValue<HTTPAuthorizationCredentials, AutoError>, Name>
}

/** `Authorization: Digest ...`, credentials not parsed (FastAPI B95). */
export function HTTPDigest<AutoError extends boolean = true, Name extends string = 'HTTPDigest'> (options: SchemeOptions<AutoError, Name> = {}): SchemeDependency<SchemeValue<HTTPAuthorizationCredentials, AutoError>, Name> {
  return httpScheme('HTTPDigest', 'digest', 'Digest', { type: 'http', scheme: 'digest' }, options) as SchemeDependency<SchemeValue<HTTPAuthorizationCredentials, AutoError>, Name>
}

/** Any `Authorization: <scheme> <credentials>`; the challenge is the configured scheme (FastAPI B96). */
export function HTTPBase<AutoError extends boolean = true, Name extends string = 'HTTPBase'> (options: SchemeOptions<AutoError, Name> & { scheme: string }): SchemeDependency<SchemeValue<HTTPAuthorizationCredentials, AutoError>, Name> {
  return httpScheme('HTTPBase', undefined, titleCase(options.scheme), { type: 'http', scheme: options.scheme }, options) as SchemeDependency<SchemeValue<HTTPAuthorizationCredentials, AutoError>, Name>
}

// Python's b64decode (non-validating): characters outside the alphabet are dropped, then the
// padding must be right.
function decodeBase64Ascii (param: string): string | undefined {
  const cleaned = param.replace(/[^a-z0-9+/=]/gi, '')
  // Trailing '=' counted by a loop: /=+$/ retries from every '=' of a run that is not at the end (quadratic).
  let end = cleaned.length
  while (end > 0 && cleaned.charCodeAt(end - 1) === 0x3d) end--
  const data = cleaned.slice(0, end)
  const remainder = data.length % 4
  const padding = cleaned.length - data.length
  if (data.includes('=') || remainder === 1 || (remainder !== 0 && padding < 4 - remainder)) return undefined
  const bytes = Buffer.from(data, 'base64')
  for (const byte of bytes) if (byte > 0x7f) return undefined
  return bytes.toString('ascii')
}

/** `Authorization: Basic base64(user:password)` as `{ username, password }` (FastAPI B93). */
export function HTTPBasic<AutoError extends boolean = true, Name extends string = 'HTTPBasic'> (options: SchemeOptions<AutoError, Name> & { realm?: string } = {}): SchemeDependency<SchemeValue<HTTPBasicCredentials, AutoError>, Name> {
  const challenge = options.realm === undefined || options.realm === '' ? 'Basic' : `Basic realm="${options.realm}"`
  return defineScheme<HTTPBasicCredentials | undefined>('HTTPBasic', options, { type: 'http', scheme: 'basic' }, challenge, (request, autoError) => {
    const { value, scheme, param } = authorizationParts(request)
    if (value === '' || scheme.toLowerCase() !== 'basic') {
      if (autoError) throw notAuthenticated(challenge)
      return undefined
    }
    // Malformed credentials are an error even with autoError: false, as in FastAPI.
    const decoded = decodeBase64Ascii(param)
    const colon = decoded === undefined ? -1 : decoded.indexOf(':')
    if (colon === -1) throw notAuthenticated(challenge)
    return { username: (decoded as string).slice(0, colon), password: (decoded as string).slice(colon + 1) }
  }) as SchemeDependency<SchemeValue<HTTPBasicCredentials, AutoError>, Name>
}
