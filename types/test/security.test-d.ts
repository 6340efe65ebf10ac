// A scheme's value is `undefined`-free with the default `autoError`; only `autoError: false` (or a
// `boolean` that may be false) adds `undefined`.
import { expectError, expectNotAssignable, expectType } from 'tsd'
import {
  depends, Security, OAuth2PasswordBearer, OAuth2AuthorizationCodeBearer, OAuth2, OpenIdConnect,
  HTTPBearer, HTTPBasic, HTTPDigest, HTTPBase, APIKeyHeader, APIKeyQuery, APIKeyCookie,
  type Dependency, type HTTPAuthorizationCredentials, type HTTPBasicCredentials,
  type OAuth2PasswordBearerOptions, type SchemeValue, type SchemeDependency, type SchemeUse, type DependencyUse
} from '../..'

const tokenUrl = '/token'
const authorizationUrl = '/authorize'

// the default, and `autoError: true`: never undefined
expectType<SchemeDependency<string, 'OAuth2PasswordBearer'>>(OAuth2PasswordBearer({ tokenUrl }))
expectType<SchemeDependency<string, 'OAuth2PasswordBearer'>>(OAuth2PasswordBearer({ tokenUrl, autoError: true }))
expectType<SchemeDependency<string, 'OAuth2AuthorizationCodeBearer'>>(OAuth2AuthorizationCodeBearer({ authorizationUrl, tokenUrl }))
expectType<SchemeDependency<string, 'OAuth2'>>(OAuth2())
expectType<SchemeDependency<string, 'OAuth2'>>(OAuth2({ flows: { password: { tokenUrl } } }))
expectType<SchemeDependency<string, 'OpenIdConnect'>>(OpenIdConnect({ openIdConnectUrl: '/.well-known/openid-configuration' }))
expectType<SchemeDependency<HTTPAuthorizationCredentials, 'HTTPBearer'>>(HTTPBearer())
expectType<SchemeDependency<HTTPAuthorizationCredentials, 'HTTPBearer'>>(HTTPBearer({ bearerFormat: 'JWT' }))
expectType<SchemeDependency<HTTPAuthorizationCredentials, 'HTTPDigest'>>(HTTPDigest())
expectType<SchemeDependency<HTTPAuthorizationCredentials, 'HTTPBase'>>(HTTPBase({ scheme: 'Other' }))
expectType<SchemeDependency<HTTPBasicCredentials, 'HTTPBasic'>>(HTTPBasic())
expectType<SchemeDependency<HTTPBasicCredentials, 'HTTPBasic'>>(HTTPBasic({ realm: 'app', autoError: true }))
expectType<SchemeDependency<string, 'APIKeyHeader'>>(APIKeyHeader({ name: 'x-key' }))
expectType<SchemeDependency<string, 'APIKeyQuery'>>(APIKeyQuery({ name: 'key' }))
expectType<SchemeDependency<string, 'APIKeyCookie'>>(APIKeyCookie({ name: 'session' }))

// `autoError: false`: undefined when nothing usable was sent
expectType<SchemeDependency<string | undefined, 'OAuth2PasswordBearer'>>(OAuth2PasswordBearer({ tokenUrl, autoError: false }))
expectType<SchemeDependency<string | undefined, 'OAuth2AuthorizationCodeBearer'>>(OAuth2AuthorizationCodeBearer({ authorizationUrl, tokenUrl, autoError: false }))
expectType<SchemeDependency<string | undefined, 'OAuth2'>>(OAuth2({ autoError: false }))
expectType<SchemeDependency<string | undefined, 'OpenIdConnect'>>(OpenIdConnect({ openIdConnectUrl: '/oidc', autoError: false }))
expectType<SchemeDependency<HTTPAuthorizationCredentials | undefined, 'HTTPBearer'>>(HTTPBearer({ autoError: false }))
expectType<SchemeDependency<HTTPAuthorizationCredentials | undefined, 'HTTPDigest'>>(HTTPDigest({ autoError: false }))
expectType<SchemeDependency<HTTPAuthorizationCredentials | undefined, 'HTTPBase'>>(HTTPBase({ scheme: 'Other', autoError: false }))
expectType<SchemeDependency<HTTPBasicCredentials | undefined, 'HTTPBasic'>>(HTTPBasic({ autoError: false }))
expectType<SchemeDependency<string | undefined, 'APIKeyHeader'>>(APIKeyHeader({ name: 'x-key', autoError: false }))
expectType<SchemeDependency<string | undefined, 'APIKeyQuery'>>(APIKeyQuery({ name: 'key', autoError: false }))
expectType<SchemeDependency<string | undefined, 'APIKeyCookie'>>(APIKeyCookie({ name: 'session', autoError: false }))

// not a literal: it may be false, so undefined is possible
declare const strict: boolean
expectType<SchemeDependency<string | undefined, 'OAuth2PasswordBearer'>>(OAuth2PasswordBearer({ tokenUrl, autoError: strict }))
expectType<SchemeDependency<HTTPBasicCredentials | undefined, 'HTTPBasic'>>(HTTPBasic({ autoError: strict }))
declare const options: OAuth2PasswordBearerOptions
expectType<SchemeDependency<string | undefined, string>>(OAuth2PasswordBearer(options))
const notConst = { name: 'x-key', autoError: false }
expectType<SchemeDependency<string | undefined, 'APIKeyHeader'>>(APIKeyHeader(notConst))
expectType<string>({} as SchemeValue<string, true>)
expectType<string | undefined>({} as SchemeValue<string, false>)
expectType<string | undefined>({} as SchemeValue<string, boolean>)

// values arrive narrowed in inputs, through Security() too
const oauth2 = OAuth2PasswordBearer({ tokenUrl, scopes: { me: 'Read yourself' } })
const optional = HTTPBearer({ autoError: false })
expectType<Dependency<number>>(depends({ token: Security(oauth2, ['me']), bearer: optional }, ({ token, bearer }) => {
  expectType<string>(token)
  expectType<HTTPAuthorizationCredentials | undefined>(bearer)
  expectNotAssignable<HTTPAuthorizationCredentials>(bearer)
  return token.length
}))

// options are checked
expectError(OAuth2PasswordBearer({ tokenUrl, autoError: 'no' }))
expectError(OAuth2PasswordBearer({ autoError: false }))
expectError(APIKeyHeader({}))
expectError(HTTPBase({}))

// a scheme's name is its type's `name`: the factory's, or the literal `schemeName`
expectType<'HTTPBearer'>(HTTPBearer().name)
expectType<'machine'>(APIKeyHeader({ name: 'x-key', schemeName: 'machine' }).name)
expectType<SchemeUse<string, 'OAuth2PasswordBearer'>>(Security(OAuth2PasswordBearer({ tokenUrl }), ['me']))
expectType<DependencyUse<number>>(Security(depends(() => 1), ['me']))
