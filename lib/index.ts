import '../types/fastify'
import { plugin } from './plugin'

export { depends, Depends, Security, isDependency } from './define/dependency'
export type {
  Dependency, DependencyUse, DependencyLike, DependencyValue, DependencyList, InferDeps,
  DependencyContext, AppDependencyContext, AppDependencyOptions, DependencyOptions, DependencyScope, UseOptions, SecurityScopes, ResponseDescription
} from './define/dependency'
export {
  DependencyScopeError, DependencyCycleError, DependencyInvalidError, DependencyParamConflictError,
  DependencyGeneratorError, DependencyErrorSwallowedError, DependencyClientAbortError, DependencyNotRegisteredError
} from './errors'
export { httpError, type HttpError } from './define/http-error'
export { Query, Header, Cookie, Path, Body, type ParamValue } from './params/params'
export {
  OAuth2PasswordBearer, OAuth2AuthorizationCodeBearer, OAuth2, OpenIdConnect,
  OAuth2PasswordRequestForm, OAuth2PasswordRequestFormStrict,
  type OAuth2PasswordBearerOptions, type OAuth2AuthorizationCodeBearerOptions, type OAuthFlows, type OAuth2PasswordRequest
} from './security/oauth2'
export { HTTPBearer, HTTPBasic, HTTPDigest, HTTPBase, type HTTPAuthorizationCredentials, type HTTPBasicCredentials } from './security/http'
export { APIKeyQuery, APIKeyHeader, APIKeyCookie } from './security/api-key'
export type { SchemeOptions, SchemeValue, SchemeDependency, SchemeUse } from './security/scheme'
export { anyOf, type AnyOfOptions, type AnyOfValue } from './security/any-of'
export { DependencyOverrides, type Override, type OverrideFunction } from './overrides'
export type { FastifyDependsOptions } from './plugin'
export type { PrintDependenciesOptions } from './describe/inspect'
export { resolveChannel, cleanupChannel, type DependencyTraceContext } from './describe/tracing'

export const fastifyDepends = plugin
export default plugin
