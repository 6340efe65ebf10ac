import { DependencyErrorSwallowedError, DependencyGeneratorError, DependencyClientAbortError } from '../errors'
import type { Step } from '../compile/plan'
import type { RequestState } from './request-state'
import { kRequestState } from '../symbols'
import { isThenable } from './thenable'
import { Phase, definePhase, waitFor } from './continuation'
import { cleanupChannel, traced } from '../describe/tracing'

type AnyGenerator = Generator<unknown, unknown, unknown> | AsyncGenerator<unknown, unknown, unknown>

function noop (): void {}

function isStream (payload: unknown): payload is NodeJS.ReadableStream {
  return typeof payload === 'object' && payload !== null && typeof (payload as { pipe?: unknown }).pipe === 'function' &&
    typeof (payload as { once?: unknown }).once === 'function'
}

function fail (state: RequestState, err: unknown, step: Step | null): void {
  state.failing = true
  state.error = err
  state.errorStep = step
}

/** The cleanup threw: a new error replaces the one in flight; the same one goes on. */
function cleanupThrew (state: RequestState, step: Step, err: unknown): void {
  if (!state.failing || err !== state.error) fail(state, err, step)
}

function cleanupReturned (state: RequestState, step: Step, generator: AnyGenerator, result: IteratorResult<unknown>): void {
  if (result.done !== true) {
    // Yielded a second time: finish it anyway so its `finally` blocks release what they hold.
    try {
      const closing = generator.return(undefined)
      if (isThenable(closing)) closing.then(noop, noop)
    } catch {}
    fail(state, new DependencyGeneratorError(`The generator dependency "${step.name}" yielded more than once: it must yield exactly once`), step)
  } else if (state.failing) {
    state.swallowedBy = step
    state.swallowedError = state.error
    state.failing = false
    state.error = undefined
    state.errorStep = null
  }
}

function resume (state: RequestState, generator: AnyGenerator): unknown {
  return state.failing ? generator.throw(state.error) : generator.next()
}

/**
 * Resumes the entered generators, newest first, each exactly once (it is popped before it runs):
 * with `next()`, or with `throw(state.error)` while `state.failing`. The function-scoped ones,
 * then, when `state.unwindRequestStack`, the request-scoped ones (FastAPI's two stacks).
 * `true` when all finished synchronously; `false` when one is pending: the unwind goes on when it
 * settles and ends in `finishUnwind()`.
 */
function unwindStacks (state: RequestState): boolean {
  for (;;) {
    let stack = state.functionStack
    if (stack === null || stack.length === 0) {
      stack = state.unwindRequestStack ? state.requestStack : null
      if (stack === null || stack.length === 0) return true
    }
    const step = stack.pop() as Step
    const generator = stack.pop() as AnyGenerator
    let result: unknown
    try {
      result = state.traced ? traced(state, step, cleanupChannel, false, () => resume(state, generator)) : resume(state, generator)
    } catch (err) {
      cleanupThrew(state, step, err)
      continue
    }
    if (isThenable(result)) {
      state.unwindStep = step
      state.unwindGenerator = generator
      waitFor(state, Phase.Cleanup, result)
      return false
    }
    cleanupReturned(state, step, generator, result as IteratorResult<unknown>)
  }
}

/** What follows an unwind: building the error response, the rest of onSend, or the end of onResponse. */
const After = { Failure: 0, FunctionScope: 1, RequestScope: 2 } as const
type AfterValue = typeof After[keyof typeof After]

/**
 * Unwinds, then goes on with `after` (and `done`, and `extra`: the payload or the abort error).
 * Stored on the state rather than in a closure: the request path allocates none for this.
 */
function startUnwind (state: RequestState, requestStackToo: boolean, after: AfterValue, done: Function | undefined, extra: unknown): void {
  state.unwindRequestStack = requestStackToo
  state.unwindAfter = after
  state.unwindDone = done
  state.unwindExtra = extra
  if (unwindStacks(state)) {
    finishUnwind(state)
    return
  }
  state.unwinding = true
}

function finishUnwind (state: RequestState): void {
  // Read before going on: what follows may start another unwind.
  const done = state.unwindDone
  const extra = state.unwindExtra
  state.unwindDone = undefined
  state.unwindExtra = undefined
  if (state.unwindAfter === After.Failure) (done as (err: unknown) => void)(finalError(state))
  else if (state.unwindAfter === After.FunctionScope) afterFunctionScope(state, extra, done as (err: unknown, payload?: unknown) => void)
  else reportAfterResponse(state, extra, done as (() => void) | undefined)
}

function continueUnwind (state: RequestState): void {
  try {
    if (!unwindStacks(state)) return
    state.unwinding = false
    finishUnwind(state)
    // Finalizations asked for meanwhile, in order; each may start (and await) an unwind of its own.
    const waiting = state.unwindWaiting
    if (waiting === null) return
    while (waiting.length > 0 && !state.unwinding) (waiting.shift() as () => void)()
    /* c8 ignore start */
  } catch (err) {
    // Nothing else would see it: this runs in a promise callback.
    state.request.log.error({ err }, 'fastify-depends: cleanup bookkeeping failed')
  }
  /* c8 ignore stop */
}

definePhase(Phase.Cleanup, function cleanupFulfilled (state, result) {
  cleanupReturned(state, state.unwindStep as Step, state.unwindGenerator as AnyGenerator, result as IteratorResult<unknown>)
  continueUnwind(state)
}, function cleanupRejected (state, err) {
  cleanupThrew(state, state.unwindStep as Step, err)
  continueUnwind(state)
})

/**
 * One unwind at a time per request: a finalization asked for while an asynchronous one runs
 * (a client that leaves during a cleanup, a handler that fails after its timeout) waits for it,
 * so LIFO order holds and every generator sees one error.
 */
function busy (state: RequestState, retry: () => void): boolean {
  if (!state.unwinding) return false
  if (state.unwindWaiting === null) state.unwindWaiting = []
  state.unwindWaiting.push(retry)
  return true
}

function asError (value: unknown): unknown {
  if (value !== undefined && value !== null) return value
  return Object.assign(new Error(`A dependency threw ${String(value)}`), { statusCode: 500 })
}

/** The error the response is built from once every generator has seen `state.error`. */
function finalError (state: RequestState): unknown {
  const swallowedBy = state.swallowedBy
  if (swallowedBy !== null) {
    state.request.log.error(
      { err: state.swallowedError, dependency: swallowedBy.name },
      `dependency "${swallowedBy.name}" caught an error during cleanup and did not re-throw it`
    )
  }
  if (state.failing || swallowedBy === null) return asError(state.error)
  return new DependencyErrorSwallowedError(`The dependency "${swallowedBy.name}" caught an error during cleanup and did not re-throw it; the request failed`)
}

/**
 * A dependency, the handler or a function-scoped cleanup failed before the response exists:
 * throw the error into every entered generator (function scope, then request scope) and
 * hand the error the response is to be built from to `done`.
 */
export function failBeforeResponse (state: RequestState, err: unknown, done: (err: unknown) => void): void {
  if (busy(state, () => failBeforeResponse(state, err, done))) return
  state.responded = true
  state.requestScopeClosing = true
  state.swallowedBy = null
  fail(state, err, null)
  startUnwind(state, true, After.Failure, done, undefined)
}

/** Whether any generator is still waiting for its cleanup. */
export function hasEntered (state: RequestState): boolean {
  return (state.functionStack !== null && state.functionStack.length > 0) ||
    (state.requestStack !== null && state.requestStack.length > 0)
}

/**
 * Success path, in `onSend`: function-scoped cleanup runs before a byte is written. When it
 * throws, that error becomes the response (`done(err)`), after the request scope saw it too.
 */
export function finalizeFunctionScope (state: RequestState, payload: unknown, done: (err: unknown, payload?: unknown) => void): void {
  // No unwind can be in flight here: every one starts by marking the request responded, and
  // onSend skips responded requests.
  state.responded = true
  startUnwind(state, false, After.FunctionScope, done, payload)
}

function afterFunctionScope (state: RequestState, payload: unknown, done: (err: unknown, payload?: unknown) => void): void {
  if (state.failing) {
    failBeforeResponse(state, state.error, done)
    return
  }
  if (state.requestStack !== null && isStream(payload)) {
    payload.once('error', (err: unknown) => { state.streamError = err })
  }
  if (state.aborted) finalizeRequestScope(state)
  done(null, payload)
}

/**
 * After the response was sent (or the connection closed): request-scoped cleanup, newest
 * first, exactly once. Errors here cannot change the response; they are logged.
 */
export function finalizeRequestScope (state: RequestState, done?: () => void): void {
  if (busy(state, () => finalizeRequestScope(state, done))) return
  if (state.requestScopeClosing) {
    if (done !== undefined) done()
    return
  }
  state.requestScopeClosing = true
  const abort = state.aborted
    ? state.streamError ?? new DependencyClientAbortError('The connection closed before the response was sent completely')
    : undefined
  if (abort !== undefined) fail(state, abort, null)
  startUnwind(state, true, After.RequestScope, done, abort)
}

function reportAfterResponse (state: RequestState, abort: unknown, done: (() => void) | undefined): void {
  if (state.failing && (abort === undefined || state.error !== abort)) {
    // Every error raised by a cleanup records its step.
    const name = (state.errorStep as Step).name
    state.request.log.error({ err: asError(state.error), dependency: name }, `cleanup of dependency "${name}" failed after the response was sent`)
  }
  if (done !== undefined) done()
}

/** The response is out of the handler's hands: produced (onSend), hijacked or ended by hand. */
function responded (state: RequestState): boolean {
  return state.responded || state.responseFinished || state.reply.sent
}

function onConnectionClose (state: RequestState): void {
  // A completed response is finalized by onResponse, which runs on 'finish'.
  if (state.responseFinished || state.reply.raw.writableFinished) return
  state.aborted = true
  // While the handler runs, its generators stay open: onSend, the error path or the end of
  // the handler finalize them.
  if (state.handling) state.deferredRequestScope ??= noop
  else if (responded(state)) finalizeRequestScope(state)
}

/** The handler is done: run what was asked for while it ran (DESIGN §4: never under a running handler). */
export function handlerDone (state: RequestState): void {
  state.handling = false
  if (state.hasDeferredError) {
    state.hasDeferredError = false
    const error = state.deferredError
    failBeforeResponse(state, error, (final) => {
      if (final !== error) state.request.log.error({ err: final }, 'a dependency cleanup raised another error after the error response was decided')
    })
  }
  const continuation = state.deferredRequestScope
  // A response still to be produced finalizes in onSend (which sees `aborted`) or the error path.
  if (continuation !== null && responded(state)) {
    state.deferredRequestScope = null
    finalizeRequestScope(state, continuation)
  }
}

type WatchedResponse = RequestState['reply']['raw'] & { [kRequestState]?: RequestState }

// One listener function for every response: the state rides on the response, no closure per request.
function onRawClose (this: WatchedResponse): void {
  onConnectionClose(this[kRequestState] as RequestState)
}

/** Request-scoped resources must be released even when the client goes away and no onResponse comes. */
export function watchConnection (state: RequestState): void {
  const raw = state.reply.raw as WatchedResponse
  if (raw.closed) {
    onConnectionClose(state)
    return
  }
  raw[kRequestState] = state
  // 'close' comes once per response, and the response is not reused: no need for once()'s wrapper.
  raw.on('close', onRawClose)
}
