import '../types/fastify'
import { plugin } from './plugin'

export { depends, Depends, Security, isDependency } from './dependency'
export type {
  Dependency, DependencyUse, DependencyLike, DependencyValue, DependencyList, InferDeps,
  DependencyContext, DependencyOptions, DependencyScope, UseOptions, SecurityScopes, ResponseDescription
} from './dependency'
export {
  DependencyScopeError, DependencyCycleError, DependencyInvalidError, DependencyParamConflictError,
  DependencyGeneratorError, DependencyErrorSwallowedError, DependencyClientAbortError
} from './errors'
export { httpError, type HttpError } from './http-error'
export { Query, Header, Cookie, Path, Body, type ParamValue } from './params'
export { DependencyOverrides, type OverrideFunction } from './overrides'
export type { FastifyDependsOptions } from './plugin'

export const fastifyDepends = plugin
export default plugin
