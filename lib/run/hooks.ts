import type { FastifyReply, FastifyRequest, RouteHandlerMethod } from 'fastify'
import { failBeforeResponse, finalizeFunctionScope, finalizeRequestScope, handlerDone, hasEntered } from './cleanup'
import type { Plan } from '../compile/plan'
import { RequestState } from './request-state'
import { resolveEarly, resolveParallel, resolveSequential } from './resolve'
import { kRequestState } from '../symbols'
import { serverTimingHeader } from '../describe/tracing'
import { validatePending, type RouteValidation } from '../params/validation'
import { isThenable } from './thenable'
import { Phase, definePhase, waitForHandler } from './continuation'

/** What the hooks of one route read: the plan is swapped when overrides change. */
export interface RouteState {
  readonly label: string
  plan: Plan
  readonly validation: RouteValidation
}

type Done = (err?: unknown) => void
type StatefulRequest = FastifyRequest & { [kRequestState]: RequestState | null }

function startRequest (plan: Plan, request: FastifyRequest, reply: FastifyReply): RequestState {
  const state = new RequestState(plan, request, reply)
  ;(request as StatefulRequest)[kRequestState] = state
  return state
}

/** onRequest: security schemes answer 401 before the body is read. */
export function createEarlyHook (route: RouteState) {
  return function authenticate (request: FastifyRequest, reply: FastifyReply, done: Done): void {
    const plan = route.plan
    if (plan.early.length === 0) {
      done()
      return
    }
    const state = startRequest(plan, request, reply)
    try {
      resolveEarly(state)
    } catch (err) {
      done(err)
      return
    }
    done()
  }
}

/** preHandler: resolve the route's plan after Fastify validated the request. */
export function createResolveHook (route: RouteState) {
  return function resolveDependencies (request: FastifyRequest, reply: FastifyReply, done: Done): void {
    if (route.validation.pending !== null) {
      const invalid = validatePending(route.validation, request)
      if (invalid !== undefined) {
        done(invalid)
        return
      }
    }
    // The state onRequest started (security schemes done), or a new one.
    const state = (request as StatefulRequest)[kRequestState] ?? startRequest(route.plan, request, reply)
    if (state.plan.parallel) resolveParallel(state, done)
    else resolveSequential(state, done)
  }
}

/** onSend: function-scoped cleanup, before a byte is written. */
export function finalizeFunctionScopeHook (request: FastifyRequest, reply: FastifyReply, payload: unknown, done: (err: unknown, payload?: unknown) => void): void {
  const state = (request as StatefulRequest)[kRequestState]
  if (state === null || state.responded) {
    done(null, payload)
    return
  }
  if (state.hasDeferredError) {
    // An error response sent while the handler still runs (a timeout): cleanup waits for it.
    state.responded = true
    done(null, payload)
    return
  }
  if (state.timings !== null && reply.statusCode < 400) {
    const timings = state.timings
    // Only once the cleanup succeeded: a failing one turns the response into an error.
    finalizeFunctionScope(state, payload, (err, finalPayload) => {
      if (err == null) reply.header('server-timing', serverTimingHeader(timings))
      done(err, finalPayload)
    })
    return
  }
  finalizeFunctionScope(state, payload, done)
}

/** onResponse: request-scoped cleanup, after the response was sent. */
export function finalizeRequestScopeHook (request: FastifyRequest, _reply: FastifyReply, done: () => void): void {
  const state = (request as StatefulRequest)[kRequestState]
  if (state === null) {
    done()
    return
  }
  state.responseFinished = true
  if (state.handling) {
    state.deferredRequestScope = done
    return
  }
  finalizeRequestScope(state, done)
}

/**
 * onError: an error that reached Fastify without passing through resolution or the handler
 * (`reply.send(err)`, a serialization error): generators still see it, though it is too
 * late for them to replace it.
 */
export function errorHook (request: FastifyRequest, _reply: FastifyReply, error: unknown, done: () => void): void {
  const state = (request as StatefulRequest)[kRequestState]
  if (state === null || state.requestScopeClosing || !hasEntered(state)) {
    done()
    return
  }
  if (state.handling) {
    state.deferredError = error
    state.hasDeferredError = true
    done()
    return
  }
  failBeforeResponse(state, error, (final) => {
    if (final !== error) request.log.error({ err: final }, 'a dependency cleanup raised another error after the error response was decided')
    done()
  })
}

definePhase(Phase.Handler, function handlerFulfilled (state, value) {
  handlerDone(state)
  return value
}, function handlerRejected (state, err) {
  handlerDone(state)
  return new Promise((_resolve, reject) => failBeforeResponse(state, err, reject))
})

/**
 * The handler, wrapped so that its error is thrown into the generators before Fastify's
 * error handler builds the response (a generator may replace it), and so that nothing is
 * finalized while it runs.
 */
export function wrapHandler (handler: RouteHandlerMethod): RouteHandlerMethod {
  return function handlerWithDependencies (this: unknown, request: FastifyRequest, reply: FastifyReply) {
    // Set by this route's resolve hook, which always runs first.
    const state = (request as StatefulRequest)[kRequestState] as RequestState
    if (!hasEntered(state)) return (handler as Function).call(this, request, reply)
    state.handling = true
    let result: unknown
    try {
      result = (handler as Function).call(this, request, reply)
    } catch (err) {
      handlerDone(state)
      return new Promise((_resolve, reject) => failBeforeResponse(state, err, reject))
    }
    if (isThenable(result)) return waitForHandler(state, result)
    handlerDone(state)
    return result
  } as RouteHandlerMethod
}
