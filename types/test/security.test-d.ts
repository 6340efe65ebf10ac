// A scheme's value is `undefined`-free with the default `autoError`; only `autoError: false` (or a
// `boolean` that may be false) adds `undefined`.
import { expectError, expectNotAssignable, expectType } from 'tsd'
import {
  depends, Security, OAuth2PasswordBearer, OAuth2AuthorizationCodeBearer, OAuth2, OpenIdConnect,
  HTTPBearer, HTTPBasic, HTTPDigest, HTTPBase, APIKeyHeader, APIKeyQuery, APIKeyCookie,
  type Dependency, type HTTPAuthorizationCredentials, type HTTPBasicCredentials,
  type OAuth2PasswordBearerOptions, type SchemeValue
} from '../..'

const tokenUrl = '/token'
const authorizationUrl = '/authorize'

// the default, and `autoError: true`: never undefined
expectType<Dependency<string>>(OAuth2PasswordBearer({ tokenUrl }))
expectType<Dependency<string>>(OAuth2PasswordBearer({ tokenUrl, autoError: true }))
expectType<Dependency<string>>(OAuth2AuthorizationCodeBearer({ authorizationUrl, tokenUrl }))
expectType<Dependency<string>>(OAuth2())
expectType<Dependency<string>>(OAuth2({ flows: { password: { tokenUrl } } }))
expectType<Dependency<string>>(OpenIdConnect({ openIdConnectUrl: '/.well-known/openid-configuration' }))
expectType<Dependency<HTTPAuthorizationCredentials>>(HTTPBearer())
expectType<Dependency<HTTPAuthorizationCredentials>>(HTTPBearer({ bearerFormat: 'JWT' }))
expectType<Dependency<HTTPAuthorizationCredentials>>(HTTPDigest())
expectType<Dependency<HTTPAuthorizationCredentials>>(HTTPBase({ scheme: 'Other' }))
expectType<Dependency<HTTPBasicCredentials>>(HTTPBasic())
expectType<Dependency<HTTPBasicCredentials>>(HTTPBasic({ realm: 'app', autoError: true }))
expectType<Dependency<string>>(APIKeyHeader({ name: 'x-key' }))
expectType<Dependency<string>>(APIKeyQuery({ name: 'key' }))
expectType<Dependency<string>>(APIKeyCookie({ name: 'session' }))

// `autoError: false`: undefined when nothing usable was sent
expectType<Dependency<string | undefined>>(OAuth2PasswordBearer({ tokenUrl, autoError: false }))
expectType<Dependency<string | undefined>>(OAuth2AuthorizationCodeBearer({ authorizationUrl, tokenUrl, autoError: false }))
expectType<Dependency<string | undefined>>(OAuth2({ autoError: false }))
expectType<Dependency<string | undefined>>(OpenIdConnect({ openIdConnectUrl: '/oidc', autoError: false }))
expectType<Dependency<HTTPAuthorizationCredentials | undefined>>(HTTPBearer({ autoError: false }))
expectType<Dependency<HTTPAuthorizationCredentials | undefined>>(HTTPDigest({ autoError: false }))
expectType<Dependency<HTTPAuthorizationCredentials | undefined>>(HTTPBase({ scheme: 'Other', autoError: false }))
expectType<Dependency<HTTPBasicCredentials | undefined>>(HTTPBasic({ autoError: false }))
expectType<Dependency<string | undefined>>(APIKeyHeader({ name: 'x-key', autoError: false }))
expectType<Dependency<string | undefined>>(APIKeyQuery({ name: 'key', autoError: false }))
expectType<Dependency<string | undefined>>(APIKeyCookie({ name: 'session', autoError: false }))

// not a literal: it may be false, so undefined is possible
declare const strict: boolean
expectType<Dependency<string | undefined>>(OAuth2PasswordBearer({ tokenUrl, autoError: strict }))
expectType<Dependency<HTTPBasicCredentials | undefined>>(HTTPBasic({ autoError: strict }))
declare const options: OAuth2PasswordBearerOptions
expectType<Dependency<string | undefined>>(OAuth2PasswordBearer(options))
const notConst = { name: 'x-key', autoError: false }
expectType<Dependency<string | undefined>>(APIKeyHeader(notConst))
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
