import createError from '@fastify/error'

/** A request-scoped generator depends on a function-scoped dependency (FastAPI's DependencyScopeError). */
export const DependencyScopeError = createError<'FST_DEPENDS_SCOPE', [string]>('FST_DEPENDS_SCOPE', '%s', 500)
/** A dependency needs itself, directly or through other dependencies (possible through overrides). */
export const DependencyCycleError = createError<'FST_DEPENDS_CYCLE', [string]>('FST_DEPENDS_CYCLE', '%s', 500)
/** Not a dependency, bad options, misuse of the plugin API. */
export const DependencyInvalidError = createError<'FST_DEPENDS_INVALID', [string]>('FST_DEPENDS_INVALID', '%s', 500, TypeError)
/** Two declarations of one request parameter disagree. */
export const DependencyParamConflictError = createError<'FST_DEPENDS_PARAM_CONFLICT', [string]>('FST_DEPENDS_PARAM_CONFLICT', '%s', 500)
/** A generator dependency never yielded, or yielded more than once. */
export const DependencyGeneratorError = createError<'FST_DEPENDS_GENERATOR', [string]>('FST_DEPENDS_GENERATOR', '%s', 500)
/** A generator caught an error during cleanup and did not re-throw it: the request still fails. */
export const DependencyErrorSwallowedError = createError<'FST_DEPENDS_ERROR_SWALLOWED', [string]>('FST_DEPENDS_ERROR_SWALLOWED', '%s', 500)
/** Thrown into request-scoped generators when the client went away before the response was complete. */
export const DependencyClientAbortError = createError<'FST_DEPENDS_CLIENT_ABORTED', [string]>('FST_DEPENDS_CLIENT_ABORTED', '%s', 499)
