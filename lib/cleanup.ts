import { DependencyErrorSwallowedError, DependencyGeneratorError, DependencyClientAbortError } from './errors'
import type { Step } from './plan'
import type { RequestState } from './request-state'
import { isThenable } from './thenable'
import { cleanupChannel, traced } from './tracing'

type AnyGenerator = Generator<unknown, unknown, unknown> | AsyncGenerator<unknown, unknown, unknown>

function noop (): void {}

/** The cleanup threw: a new error replaces the one in flight; the same one goes on. */
function cleanupThrew (state: RequestState, step: Step, err: unknown): void {
  if (err !== state.error) {
    state.error = err
    state.errorStep = step
  }
}

function cleanupReturned (state: RequestState, step: Step, generator: AnyGenerator, result: IteratorResult<unknown>): void {
  if (result.done !== true) {
    // Yielded a second time: finish it anyway so its `finally` blocks release what they hold.
    try {
      const closing = generator.return(undefined)
      if (isThenable(closing)) closing.then(noop, noop)
    } catch {}
    state.error = new DependencyGeneratorError(`The generator dependency "${step.name}" yielded more than once: it must yield exactly once`)
    state.errorStep = step
  } else if (state.error !== undefined) {
    state.swallowedBy = step
    state.swallowedError = state.error
    state.error = undefined
    state.errorStep = null
  }
}

async function continueUnwind (state: RequestState, stack: unknown[], step: Step, generator: AnyGenerator, pending: PromiseLike<IteratorResult<unknown>>): Promise<void> {
  try {
    cleanupReturned(state, step, generator, await pending)
  } catch (err) {
    cleanupThrew(state, step, err)
  }
  const rest = unwind(state, stack)
  if (rest !== undefined) await rest
}

function resume (state: RequestState, generator: AnyGenerator): unknown {
  return state.error === undefined ? generator.next() : generator.throw(state.error)
}

/**
 * Resumes the generators of one exit stack, newest first, each exactly once (it is popped
 * before it runs): with `next()` while `state.error` is unset, else with `throw(state.error)`.
 * Synchronous while the generators are.
 */
function unwind (state: RequestState, stack: unknown[]): Promise<void> | undefined {
  while (stack.length > 0) {
    const step = stack.pop() as Step
    const generator = stack.pop() as AnyGenerator
    let result: unknown
    try {
      result = state.traced ? traced(state, step, cleanupChannel, false, () => resume(state, generator)) : resume(state, generator)
    } catch (err) {
      cleanupThrew(state, step, err)
      continue
    }
    if (isThenable(result)) return continueUnwind(state, stack, step, generator, result as PromiseLike<IteratorResult<unknown>>)
    cleanupReturned(state, step, generator, result as IteratorResult<unknown>)
  }
  return undefined
}

function unwindRequestStack (state: RequestState): Promise<void> | undefined {
  return state.requestStack === null ? undefined : unwind(state, state.requestStack)
}

/** Function scope first, then request scope (FastAPI's two stacks). */
function unwindAll (state: RequestState): Promise<void> | undefined {
  if (state.functionStack !== null) {
    const pending = unwind(state, state.functionStack)
    if (pending !== undefined) return pending.then(() => unwindRequestStack(state))
  }
  return unwindRequestStack(state)
}

/** The error the response is built from once every generator has seen `state.error`. */
function finalError (state: RequestState): unknown {
  if (state.swallowedBy !== null) {
    state.request.log.error(
      { err: state.swallowedError, dependency: state.swallowedBy.name },
      `dependency "${state.swallowedBy.name}" caught an error during cleanup and did not re-throw it`
    )
  }
  if (state.error !== undefined) return state.error
  return new DependencyErrorSwallowedError(`The dependency "${(state.swallowedBy as Step).name}" caught an error during cleanup and did not re-throw it; the request failed`)
}

/**
 * A dependency, the handler or a function-scoped cleanup failed before the response exists:
 * throw the error into every entered generator (function scope, then request scope) and
 * hand the error the response is to be built from to `done`.
 */
export function failBeforeResponse (state: RequestState, err: unknown, done: (err: unknown) => void): void {
  state.responded = true
  state.requestScopeClosing = true
  state.error = err
  state.errorStep = null
  const pending = unwindAll(state)
  if (pending === undefined) done(finalError(state))
  else pending.then(() => done(finalError(state)), /* c8 ignore next */ done)
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
  state.responded = true
  const stack = state.functionStack
  const pending = stack === null ? undefined : unwind(state, stack)
  if (pending === undefined) afterFunctionScope(state, payload, done)
  else pending.then(() => afterFunctionScope(state, payload, done), /* c8 ignore next */ done)
}

function afterFunctionScope (state: RequestState, payload: unknown, done: (err: unknown, payload?: unknown) => void): void {
  if (state.error !== undefined) {
    failBeforeResponse(state, state.error, done)
    return
  }
  if (state.aborted) finalizeRequestScope(state)
  done(null, payload)
}

/**
 * After the response was sent (or the connection closed): request-scoped cleanup, newest
 * first, exactly once. Errors here cannot change the response; they are logged.
 */
export function finalizeRequestScope (state: RequestState, done?: () => void): void {
  if (state.requestScopeClosing) {
    if (done !== undefined) done()
    return
  }
  state.requestScopeClosing = true
  const abort = state.aborted ? new DependencyClientAbortError('The connection closed before the response was sent completely') : undefined
  state.error = abort
  state.errorStep = null
  const pending = unwindAll(state)
  if (pending === undefined) reportAfterResponse(state, abort, done)
  else pending.then(() => reportAfterResponse(state, abort, done), /* c8 ignore next */ noop)
}

function reportAfterResponse (state: RequestState, abort: unknown, done: (() => void) | undefined): void {
  if (state.error !== undefined && state.error !== abort) {
    // Every error raised by a cleanup records its step.
    const name = (state.errorStep as Step).name
    state.request.log.error({ err: state.error, dependency: name }, `cleanup of dependency "${name}" failed after the response was sent`)
  }
  if (done !== undefined) done()
}

function onConnectionClose (state: RequestState): void {
  // A completed response is finalized by onResponse, which runs on 'finish'.
  if (state.responseFinished || state.reply.raw.writableFinished) return
  state.aborted = true
  // While the handler runs, its generators stay open: onSend, the error path or the end of
  // the handler finalize them.
  if (state.handling) state.deferredRequestScope ??= noop
  else if (state.responded) finalizeRequestScope(state)
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
  if (continuation !== null && (state.responded || state.responseFinished)) {
    state.deferredRequestScope = null
    finalizeRequestScope(state, continuation)
  }
}

/** Request-scoped resources must be released even when the client goes away and no onResponse comes. */
export function watchConnection (state: RequestState): void {
  const raw = state.reply.raw
  if (raw.closed) {
    onConnectionClose(state)
    return
  }
  raw.once('close', () => onConnectionClose(state))
}
