import { depends, type Dependency } from '../define/dependency'
import { bodyField } from '../params/params'
import { markKind } from '../define/typebox-marks'
import { authorizationParts, defineScheme, notAuthenticated, type SchemeDependency, type SchemeOptions, type SchemeValue } from './scheme'

type Scopes = Record<string, string>

function bearerToken (factory: string, options: SchemeOptions, openapi: Record<string, unknown>): Dependency<string | undefined> {
  return defineScheme<string | undefined>(factory, options, openapi, 'Bearer', (request, autoError) => {
    const { value, scheme, param } = authorizationParts(request)
    if (value === '' || scheme.toLowerCase() !== 'bearer') {
      if (autoError) throw notAuthenticated('Bearer')
      return undefined
    }
    // "Bearer" with no token gives '' rather than failing, as in FastAPI (B91).
    return param
  })
}

function wholeHeader (factory: string, options: SchemeOptions, openapi: Record<string, unknown>): Dependency<string | undefined> {
  return defineScheme<string | undefined>(factory, options, openapi, 'Bearer', (request, autoError) => {
    const { value } = authorizationParts(request)
    if (value === '') {
      if (autoError) throw notAuthenticated('Bearer')
      return undefined
    }
    return value
  })
}

export interface OAuth2PasswordBearerOptions<AutoError extends boolean = boolean, Name extends string = string> extends SchemeOptions<AutoError, Name> {
  tokenUrl: string
  scopes?: Scopes
  refreshUrl?: string
}

/** The token of `Authorization: Bearer <token>`, documented as OAuth2's password flow (FastAPI B91). */
export function OAuth2PasswordBearer<AutoError extends boolean = true, Name extends string = 'OAuth2PasswordBearer'> (options: OAuth2PasswordBearerOptions<AutoError, Name>): SchemeDependency<SchemeValue<string, AutoError>, Name> {
  const password: Record<string, unknown> = {}
  if (options.refreshUrl !== undefined) password.refreshUrl = options.refreshUrl
  password.scopes = options.scopes ?? {}
  password.tokenUrl = options.tokenUrl
  return bearerToken('OAuth2PasswordBearer', options, { type: 'oauth2', flows: { password } }) as SchemeDependency<SchemeValue<string, AutoError>, Name>
}

export interface OAuth2AuthorizationCodeBearerOptions<AutoError extends boolean = boolean, Name extends string = string> extends SchemeOptions<AutoError, Name> {
  authorizationUrl: string
  tokenUrl: string
  refreshUrl?: string
  scopes?: Scopes
}

/** Like `OAuth2PasswordBearer`, documented as the authorization code flow (FastAPI B92). */
export function OAuth2AuthorizationCodeBearer<AutoError extends boolean = true, Name extends string = 'OAuth2AuthorizationCodeBearer'> (options: OAuth2AuthorizationCodeBearerOptions<AutoError, Name>): SchemeDependency<SchemeValue<string, AutoError>, Name> {
  const authorizationCode: Record<string, unknown> = {}
  if (options.refreshUrl !== undefined) authorizationCode.refreshUrl = options.refreshUrl
  authorizationCode.scopes = options.scopes ?? {}
  authorizationCode.authorizationUrl = options.authorizationUrl
  authorizationCode.tokenUrl = options.tokenUrl
  return bearerToken('OAuth2AuthorizationCodeBearer', options, { type: 'oauth2', flows: { authorizationCode } }) as SchemeDependency<SchemeValue<string, AutoError>, Name>
}

export interface OAuthFlows {
  implicit?: { authorizationUrl: string, refreshUrl?: string, scopes?: Scopes }
  password?: { tokenUrl: string, refreshUrl?: string, scopes?: Scopes }
  clientCredentials?: { tokenUrl: string, refreshUrl?: string, scopes?: Scopes }
  authorizationCode?: { authorizationUrl: string, tokenUrl: string, refreshUrl?: string, scopes?: Scopes }
}

/** Generic OAuth2: the whole Authorization header, any scheme (FastAPI B98). */
export function OAuth2<AutoError extends boolean = true, Name extends string = 'OAuth2'> (options: SchemeOptions<AutoError, Name> & { flows?: OAuthFlows } = {}): SchemeDependency<SchemeValue<string, AutoError>, Name> {
  const flows: Record<string, unknown> = {}
  for (const [flow, settings] of Object.entries(options.flows ?? {})) {
    flows[flow] = { scopes: {}, ...settings }
  }
  return wholeHeader('OAuth2', options, { type: 'oauth2', flows }) as SchemeDependency<SchemeValue<string, AutoError>, Name>
}

/** OpenID Connect: the whole Authorization header (FastAPI B99). */
export function OpenIdConnect<AutoError extends boolean = true, Name extends string = 'OpenIdConnect'> (options: SchemeOptions<AutoError, Name> & { openIdConnectUrl: string }): SchemeDependency<SchemeValue<string, AutoError>, Name> {
  return wholeHeader('OpenIdConnect', options, { type: 'openIdConnect', openIdConnectUrl: options.openIdConnectUrl }) as SchemeDependency<SchemeValue<string, AutoError>, Name>
}

/** The value of `OAuth2PasswordRequestForm`; wire fields stay snake_case. */
export interface OAuth2PasswordRequest {
  grantType: string | undefined
  username: string
  password: string
  /** The `scope` field split on whitespace. */
  scopes: string[]
  clientId: string | undefined
  clientSecret: string | undefined
}

const FORM = 'application/x-www-form-urlencoded'

// Marked for both TypeBox generations, so an app on either TypeBox validator compiler takes the form.
function formString<T extends string | undefined> (name: string, options: { pattern?: string, default?: string }, optional: boolean): Dependency<T> {
  return bodyField(name, markKind({ ...options, type: 'string' }, 'String', true, true, optional), FORM) as Dependency<T>
}

function passwordForm (strict: boolean): Dependency<OAuth2PasswordRequest> {
  return depends({
    grantType: formString<string | undefined>('grant_type', { pattern: '^password$' }, !strict),
    username: formString<string>('username', {}, false),
    password: formString<string>('password', {}, false),
    scope: formString<string>('scope', { default: '' }, false),
    clientId: formString<string | undefined>('client_id', {}, true),
    clientSecret: formString<string | undefined>('client_secret', {}, true)
  }, ({ grantType, username, password, scope, clientId, clientSecret }): OAuth2PasswordRequest => ({
    grantType,
    username,
    password,
    scopes: scope.split(/\s+/).filter((s) => s !== ''),
    clientId,
    clientSecret
  }), { name: strict ? 'OAuth2PasswordRequestFormStrict' : 'OAuth2PasswordRequestForm' })
}

/** The token route's form (B100): `{ form: OAuth2PasswordRequestForm }`; parse forms with `@fastify/formbody`. */
export const OAuth2PasswordRequestForm = passwordForm(false)
/** Like `OAuth2PasswordRequestForm`, with `grant_type` required. */
export const OAuth2PasswordRequestFormStrict = passwordForm(true)
