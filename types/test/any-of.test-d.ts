// anyOf(): a discriminated union of the alternatives' values, narrowed by `scheme`.
import { expectError, expectType } from 'tsd'
import {
  anyOf, depends, Security, APIKeyHeader, HTTPBasic, HTTPBearer, OAuth2PasswordBearer,
  type Dependency, type HTTPAuthorizationCredentials, type HTTPBasicCredentials
} from '../..'

const bearer = HTTPBearer()
const apiKey = APIKeyHeader({ name: 'x-api-key' })
const token = OAuth2PasswordBearer({ tokenUrl: '/token', schemeName: 'oauth' })

type Caller =
  | { readonly scheme: 'HTTPBearer', readonly value: HTTPAuthorizationCredentials }
  | { readonly scheme: 'APIKeyHeader', readonly value: string }

expectType<Dependency<Caller>>(anyOf(bearer, apiKey))
expectType<Dependency<Caller | undefined>>(anyOf(bearer, apiKey, { autoError: false }))
expectType<Dependency<Caller>>(anyOf(bearer, apiKey, { autoError: true }))

// a scheme with `autoError: false` inside still gives a defined value when it is the one chosen
expectType<Dependency<{ readonly scheme: 'HTTPBasic', readonly value: HTTPBasicCredentials } | { readonly scheme: 'oauth', readonly value: string }>>(
  anyOf(HTTPBasic({ autoError: false }), Security(token, ['me']))
)

depends({ caller: anyOf(bearer, apiKey, Security(token, ['items'])) }, ({ caller }) => {
  if (caller.scheme === 'HTTPBearer') {
    expectType<HTTPAuthorizationCredentials>(caller.value)
    return caller.value.credentials
  }
  if (caller.scheme === 'oauth') return expectType<string>(caller.value)
  expectType<'APIKeyHeader'>(caller.scheme)
  expectError(caller.value.credentials)
  return caller.value
})

// only schemes
expectError(anyOf(bearer, depends(() => 1)))
expectError(anyOf(bearer, 'x'))
