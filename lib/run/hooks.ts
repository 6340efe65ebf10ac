import type { FastifyReply, FastifyRequest, RouteHandlerMethod } from 'fastify'
import type { Plan } from '../compile/plan'
import { validatePending, type RouteValidation } from '../params/validation'
import { kRequestState } from '../symbols'
import {
  handlerEnded, handlerFailed, handlerStarted, responseFailed, responseFinished, responseProduced, startRequest
} from './lifecycle'
import type { LiveRequests } from './live-requests'
import type { RequestState } from './request-state'
import { resolveEarly, resolveParallel, resolveSequential } from './resolve'
import { isThenable } from './thenable'

// The hooks translate Fastify's callbacks into lifecycle events (lib/run/lifecycle.ts) and decide nothing.

/** What the hooks of one route read: the plan is swapped when overrides change. */
export interface RouteState {
  readonly label: string
  plan: Plan
  readonly validation: RouteValidation
  readonly live: LiveRequests
  /**
   * The route carries the response hooks (onSend, onResponse, onError): its plan at registration had
   * something to finalize. Without them, the raw response's `finish` (or an abort's `close`)
   * finalizes what an override brought (lib/run/lifecycle.ts).
   */
  readonly responseHooks: boolean
}

type Done = (err?: unknown) => void
type StatefulRequest = FastifyRequest & { [kRequestState]: RequestState | null }

/** onRequest: security schemes answer 401 before the body is read. */
export function createEarlyHook (route: RouteState) {
  return function authenticate (request: FastifyRequest, reply: FastifyReply, done: Done): void {
    const plan = route.plan
    if (plan.early.length === 0) {
      done()
      return
    }
    const state = startRequest(plan, route, request, reply)
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
    const state = (request as StatefulRequest)[kRequestState] ?? startRequest(route.plan, route, request, reply)
    if (state.plan.parallel) resolveParallel(state, done)
    else resolveSequential(state, done)
  }
}

/** onSend: the response exists (function-scoped cleanup runs before a byte is written). */
export function responseProducedHook (request: FastifyRequest, _reply: FastifyReply, payload: unknown, done: (err: unknown, payload?: unknown) => void): void {
  const state = (request as StatefulRequest)[kRequestState]
  if (state === null) done(null, payload)
  else responseProduced(state, payload, done)
}

/** onResponse: the response was sent (request-scoped cleanup, once its payload ended too). */
export function responseFinishedHook (request: FastifyRequest, _reply: FastifyReply, done: () => void): void {
  const state = (request as StatefulRequest)[kRequestState]
  if (state === null) done()
  else responseFinished(state, done)
}

/** onError: an error response is being built (also one Fastify makes itself: a handler timeout). */
export function responseFailedHook (request: FastifyRequest, _reply: FastifyReply, error: unknown, done: () => void): void {
  const state = (request as StatefulRequest)[kRequestState]
  if (state === null) done()
  else responseFailed(state, error, done)
}

/**
 * The handler, wrapped so that its error is thrown into the generators before Fastify's
 * error handler builds the response (a generator may replace it), and so that nothing is
 * finalized while it runs.
 */
export function wrapHandler (handler: RouteHandlerMethod, besideSocketHandler: boolean): RouteHandlerMethod {
  return besideSocketHandler ? httpHandlerOfSocketRoute(handlerWithDependencies(handler), handler) : handlerWithDependencies(handler)
}

/** A route with `handler` and `wsHandler`: an upgrade request goes to the socket handler (lib/run/socket.ts). */
function httpHandlerOfSocketRoute (wrapped: RouteHandlerMethod, handler: RouteHandlerMethod): RouteHandlerMethod {
  return function httpOrSocketHandler (this: unknown, request: FastifyRequest, reply: FastifyReply) {
    const target = (request as FastifyRequest & { ws?: boolean }).ws === true ? handler : wrapped
    return (target as Function).call(this, request, reply)
  } as RouteHandlerMethod
}

function handlerWithDependencies (handler: RouteHandlerMethod): RouteHandlerMethod {
  return function handlerWithDependencies (this: unknown, request: FastifyRequest, reply: FastifyReply) {
    // Set by this route's resolve hook, which always runs first.
    const state = (request as StatefulRequest)[kRequestState] as RequestState
    if (state.exits === null || !state.exits.entered) return (handler as Function).call(this, request, reply)
    handlerStarted(state)
    let result: unknown
    try {
      result = (handler as Function).call(this, request, reply)
    } catch (err) {
      return handlerFailed(state, err)
    }
    if (!isThenable(result)) {
      handlerEnded(state)
      return result
    }
    return Promise.resolve(result).then((value: unknown) => {
      handlerEnded(state)
      return value
    }, (err: unknown) => handlerFailed(state, err))
  } as RouteHandlerMethod
}
