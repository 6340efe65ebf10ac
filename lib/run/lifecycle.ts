import type { FastifyReply, FastifyRequest } from 'fastify'
import type { Plan, Step } from '../compile/plan'
import { serverTimingHeader } from '../describe/tracing'
import { DependencyClientAbortError } from '../errors'
import { kRequestState } from '../symbols'
import { ExitStack, asError, type AnyGenerator } from './exit-stack'
import type { LiveRequests } from './live-requests'
import { RequestState, Stage } from './request-state'

/*
 * The one owner of a request's lifecycle (DESIGN §4 "Every exit path, one owner"). The hooks, the
 * resolver and the handler wrapper only report events here; which event ends what is decided
 * below, nowhere else.
 *
 *   Resolving --resolutionEnded--> Handling --responseProduced--> Responding --requestScopeDue--> Finished
 *       |  \--responseProduced (a dependency replied) / dependencyReplied (hijacked) --> Responding
 *       \--resolutionFailed / responseFailed (a timeout) ------------------------------> Finished
 *   Handling, Responding --handlerFailed / responseFailed / a function-scoped cleanup threw--> Finished
 *
 * Finalized on each transition: -> Responding: the function scope (success: `next()`);
 * -> Finished by failure: both scopes, the error thrown in, before the error response;
 * -> Finished when due: the request scope (and any function-scoped leftover, a hijacked reply),
 * with `next()`, or the abort or stream error thrown in. The request scope is due once the response
 * ended and its payload stream ended, or the connection closed; never while the handler runs.
 * A generator entered after resolution was stopped is finalized as soon as its scope is over.
 * On a WebSocket route the socket handler stands in for the response (lib/run/socket.ts).
 */

type Done = (err?: unknown) => void
type SendDone = (err: unknown, payload?: unknown) => void
type StatefulRequest = FastifyRequest & { [kRequestState]: RequestState | null }

/** A request of a route with dependencies starts (onRequest for security schemes, else preHandler). */
export function startRequest (plan: Plan, route: { readonly live: LiveRequests, readonly responseHooks: boolean }, request: FastifyRequest, reply: FastifyReply): RequestState {
  const state = new RequestState(plan, request, reply)
  ;(request as StatefulRequest)[kRequestState] = state
  if (plan.tracked) {
    if (!route.responseHooks) state.responseHooks = false
    route.live.add(state)
    watchConnection(state)
  }
  return state
}

// ---- resolution -------------------------------------------------------------------------------

/** A generator reached its first `yield`; after a stop its scope may be over already. */
export function entered (state: RequestState, step: Step, generator: AnyGenerator): void {
  const exits = state.exits ?? (state.exits = new ExitStack(state))
  exits.push(generator, step)
  if (state.stage === Stage.Resolving) return
  if (state.stage === Stage.Finished) {
    if (state.exitFailed) exits.unwindThrowing(state.exitError, true, afterResponseCleanup, undefined, state.exitError)
    else exits.unwind(true, afterResponseCleanup, undefined, undefined)
  } else if (step.functionScope) {
    exits.unwind(false, afterResponseCleanup, undefined, undefined)
  }
}

/** Every dependency resolved: on to the handler, unless a reply went out meanwhile. */
export function resolutionEnded (state: RequestState, done: Done): void {
  state.resolutionRunning = false
  if (state.stage !== Stage.Resolving) {
    release(state)
    return
  }
  if (state.reply.sent) {
    dependencyReplied(state)
    return
  }
  state.deps = state.plan.buildDeps(state.slots)
  state.stage = Stage.Handling
  done()
  // The connection closed during resolution and the handler hijacked the reply without a response
  // (a WebSocket upgrade that can no longer happen): nothing else comes for this request.
  if (state.aborted) requestScopeIfDue(state)
}

/** A dependency failed: its error goes through every entered generator, then becomes the response. */
export function resolutionFailed (state: RequestState, err: unknown, done: Done): void {
  state.resolutionRunning = false
  if (state.stage !== Stage.Resolving) {
    // The response was decided before this dependency settled: nothing else would see its error.
    state.request.log.warn({ err: asError(err) }, 'fastify-depends: a dependency failed after the response was decided')
    release(state)
    return
  }
  failBeforeResponse(state, err, done, false)
}

/** A dependency hijacked the reply or ended it by hand: no onSend comes, so the function scope ends now. */
function dependencyReplied (state: RequestState): void {
  state.stage = Stage.Responding
  if (state.exits === null) {
    requestScopeIfDue(state)
    release(state)
    return
  }
  state.exits.unwind(false, afterFunctionScope, undefined, undefined)
}

// ---- the handler ------------------------------------------------------------------------------

export function handlerStarted (state: RequestState): void {
  state.handlerRunning = true
}

export function handlerEnded (state: RequestState): void {
  state.handlerRunning = false
  if (state.hasDeferredError) {
    const error = state.deferredError
    state.hasDeferredError = false
    state.deferredError = undefined
    failBeforeResponse(state, error, undefined, true)
    return
  }
  requestScopeIfDue(state)
  release(state)
}

/** The handler threw or rejected: the promise Fastify gets rejects once the generators saw the error. */
export function handlerFailed (state: RequestState, err: unknown): Promise<never> {
  if (state.hasDeferredError || state.stage === Stage.Finished) {
    // The response is already an error (a timeout): the generators see that one.
    handlerEnded(state)
    return Promise.reject(err)
  }
  state.handlerRunning = false
  return new Promise((_resolve, reject) => failBeforeResponse(state, err, reject, false))
}

// ---- the response -----------------------------------------------------------------------------

/** onSend: the response exists. Function-scoped cleanup runs now, before a byte is written. */
export function responseProduced (state: RequestState, payload: unknown, done: SendDone): void {
  if (state.stage >= Stage.Responding) {
    done(null, payload)
    return
  }
  // From Resolving: a dependency replied (`return reply.code(403).send()`), resolution stops.
  state.stage = Stage.Responding
  if (state.hasDeferredError) {
    // An error response sent while the handler still runs (a timeout): cleanup waits for the handler.
    done(null, payload)
    return
  }
  if (state.exits === null) {
    addServerTiming(state)
    done(null, payload)
    return
  }
  state.exits.unwind(false, afterFunctionScope, done, payload)
}

function afterFunctionScope (exits: ExitStack, done: Function | undefined, payload: unknown): void {
  const state = exits.state
  if (exits.failing) {
    // A function-scoped cleanup threw: its error becomes the response, after the request scope saw it.
    failBeforeResponse(state, exits.error, done as Done | undefined, done === undefined)
    return
  }
  if (exits.hasRequestScope && isStream(payload)) watchPayload(state, payload)
  addServerTiming(state)
  requestScopeIfDue(state)
  if (done !== undefined) (done as SendDone)(null, payload)
  else release(state)
}

function addServerTiming (state: RequestState): void {
  // Only once the function scope closed cleanly: a failing cleanup turns the response into an error.
  if (state.timings !== null && state.reply.statusCode < 400) state.reply.header('server-timing', serverTimingHeader(state.timings))
}

/**
 * onError: an error response is being built. While dependencies resolve (a handler timeout,
 * `reply.send(err)` from a dependency) resolution stops and the generators see the error first;
 * while the handler runs they see it once the handler is done; after that it is too late for
 * them to replace it, but they still see it.
 */
export function responseFailed (state: RequestState, error: unknown, done: () => void): void {
  if (state.stage === Stage.Finished) {
    done()
    return
  }
  if (state.handlerRunning) {
    state.deferredError = error
    state.hasDeferredError = true
    done()
    return
  }
  if (state.stage !== Stage.Resolving && (state.exits === null || !state.exits.entered)) {
    done()
    return
  }
  failBeforeResponse(state, error, done, true)
}

/** onResponse: the response was sent completely. */
export function responseFinished (state: RequestState, done: () => void): void {
  state.responseEnded = true
  if (state.stage === Stage.Finished) {
    release(state)
    done()
    return
  }
  state.responseDone = done
  requestScopeIfDue(state)
}

/** The payload stream ended, closed or failed (an automatic HEAD route drains it after the response). */
function payloadEnded (state: RequestState): void {
  if (!state.payloadOpen) return
  state.payloadOpen = false
  requestScopeIfDue(state)
}

function connectionClosed (state: RequestState): void {
  // A completed response is finalized by onResponse, which runs on 'finish'; an upgraded
  // connection by its WebSocket's close (lib/run/socket.ts).
  if (state.responseEnded || state.socket !== null || state.reply.raw.writableFinished) return
  state.aborted = true
  requestScopeIfDue(state)
  release(state)
}

/**
 * A route registered without response hooks, whose plan an override gave a generator or an
 * app-scoped value: the raw response's 'finish' stands in for onResponse, and what is still entered
 * (function scope too) is finalized then, after the response.
 */
function finishedWithoutHooks (state: RequestState): void {
  state.responseEnded = true
  requestScopeIfDue(state)
  release(state)
}

// ---- finalization -----------------------------------------------------------------------------

/**
 * The request failed before its response exists (or, `decided`, while an error response is
 * being built): the error is thrown into every entered generator, function scope first, and
 * `done` gets the error the response is to be built from (or, `decided`, is called once it was
 * logged if a cleanup replaced it).
 */
function failBeforeResponse (state: RequestState, err: unknown, done: Done | undefined, decided: boolean): void {
  state.stage = Stage.Finished
  state.exitError = err
  state.exitFailed = true
  const exits = state.exits
  if (exits === null) {
    if (done !== undefined) decided ? done() : done(asError(err))
    afterFinished(state)
    return
  }
  exits.unwindThrowing(err, true, afterFailure, done, decided)
}

function afterFailure (exits: ExitStack, done: Function | undefined, decided: unknown): void {
  const state = exits.state
  const final = exits.finalError()
  if (decided === true) {
    if (final !== state.exitError) state.request.log.error({ err: final }, 'a dependency cleanup raised another error after the error response was decided')
    if (done !== undefined) (done as () => void)()
  } else {
    (done as Done)(final)
  }
  afterFinished(state)
}

export function requestScopeIfDue (state: RequestState): void {
  if (state.handlerRunning || state.stage === Stage.Finished) return
  // Without response hooks nothing else comes after an abort once the handler is done.
  if (state.stage !== Stage.Responding && !(state.stage === Stage.Handling && (state.reply.sent || (state.aborted && !state.responseHooks)))) return
  if (!state.aborted && (!state.responseEnded || state.payloadOpen)) return
  state.stage = Stage.Finished
  const done = state.responseDone
  state.responseDone = undefined
  const exits = state.exits
  if (exits === null) {
    if (done !== undefined) done()
    release(state)
    return
  }
  const reason = state.endError ?? (state.aborted ? new DependencyClientAbortError('The connection closed before the response was sent completely') : undefined)
  if (reason === undefined) {
    exits.unwind(true, afterResponseCleanup, done, undefined)
    return
  }
  state.exitError = reason
  state.exitFailed = true
  exits.unwindThrowing(reason, true, afterResponseCleanup, done, reason)
}

/** After cleanups whose errors can no longer change the response (request scope, late entries): they are logged. */
function afterResponseCleanup (exits: ExitStack, done: Function | undefined, reason: unknown): void {
  logCleanupFailure(exits, reason)
  if (done !== undefined) (done as () => void)()
  release(exits.state)
}

/** Errors here cannot change the response: they are logged with the dependency's name. */
function logCleanupFailure (exits: ExitStack, reason: unknown): void {
  if (!exits.failing || (reason !== undefined && exits.error === reason)) return
  const name = (exits.errorStep as Step).name
  exits.state.request.log.error({ err: asError(exits.error), dependency: name }, `cleanup of dependency "${name}" failed after the response was sent`)
}

function afterFinished (state: RequestState): void {
  const done = state.responseDone
  if (done !== undefined) {
    state.responseDone = undefined
    done()
  }
  release(state)
}

/** Off the in-flight list once nothing can run for this request any more (close() waits for the list). */
export function release (state: RequestState): void {
  if (state.live === null || state.stage !== Stage.Finished || state.resolutionRunning || state.handlerRunning) return
  const exits = state.exits
  if (exits !== null && (exits.unwinding || exits.entered)) return
  state.live.remove(state)
}

// ---- listening to the connection and the payload -----------------------------------------------

type Watched = { [kRequestState]?: RequestState }

// One listener function for every response and payload: the state rides on the emitter, no closure per request.
function onRawClose (this: Watched): void {
  connectionClosed(this[kRequestState] as RequestState)
}

function onRawFinish (this: Watched): void {
  finishedWithoutHooks(this[kRequestState] as RequestState)
}

function onPayloadEnd (this: Watched): void {
  payloadEnded(this[kRequestState] as RequestState)
}

function onPayloadError (this: Watched, err: unknown): void {
  const state = this[kRequestState] as RequestState
  state.endError ??= err
  payloadEnded(state)
}

/** Resources must be released even when the client goes away and no onResponse comes. */
function watchConnection (state: RequestState): void {
  const raw = state.reply.raw as FastifyReply['raw'] & Watched
  if (raw.closed) {
    state.aborted = !raw.writableFinished
    return
  }
  raw[kRequestState] = state
  // 'close' comes once per response, and the response is not reused: no need for once()'s wrapper.
  raw.on('close', onRawClose)
  if (!state.responseHooks) raw.on('finish', onRawFinish)
}

function isStream (payload: unknown): payload is NodeJS.ReadableStream & Watched {
  return typeof payload === 'object' && payload !== null && typeof (payload as { pipe?: unknown }).pipe === 'function' &&
    typeof (payload as { once?: unknown }).once === 'function'
}

function watchPayload (state: RequestState, payload: NodeJS.ReadableStream & Watched): void {
  const stream = payload as NodeJS.ReadableStream & Watched & { readableEnded?: boolean, destroyed?: boolean }
  if (stream.readableEnded === true || stream.destroyed === true) return
  state.payloadOpen = true
  stream[kRequestState] = state
  stream.on('end', onPayloadEnd)
  stream.on('close', onPayloadEnd)
  stream.on('error', onPayloadError)
}
