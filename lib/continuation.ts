import type { RequestState } from './request-state'

/**
 * Rather than a chain of async functions (a promise and a frame each, and a microtask per layer),
 * a request continues from the promise it waits on through callbacks made once per request, on
 * its first wait. Resolution and cleanup never wait at the same time (cleanup starts once
 * resolution ended, and one unwind runs at a time), so they share a pair and `state.phase` says
 * what the settled value is for. The handler has its own pair: it may still run while a cleanup
 * waits (a handler that sent its response and goes on).
 */
export const Phase = { Step: 0, Handler: 1, Cleanup: 2 } as const
export type PhaseValue = typeof Phase[keyof typeof Phase]

type Settled = (state: RequestState, value: unknown) => unknown

const onFulfilled: Settled[] = []
const onRejected: Settled[] = []

/** What to do when the promise a request waits on in `phase` settles; set once, by the module that waits. */
export function definePhase (phase: PhaseValue, fulfilled: Settled, rejected: Settled): void {
  onFulfilled[phase] = fulfilled
  onRejected[phase] = rejected
}

function makeCallbacks (state: RequestState): void {
  state.fulfilled = (value: unknown) => onFulfilled[state.phase](state, value)
  state.rejected = (err: unknown) => onRejected[state.phase](state, err)
}

function makeHandlerCallbacks (state: RequestState): void {
  state.handlerFulfilled = (value: unknown) => onFulfilled[Phase.Handler](state, value)
  state.handlerRejected = (err: unknown) => onRejected[Phase.Handler](state, err)
}

function adopt (pending: PromiseLike<unknown>): Promise<unknown> {
  return pending instanceof Promise ? pending : Promise.resolve(pending)
}

/**
 * Continues the request in `phase` when `pending` settles. A thenable that is not a native
 * promise is adopted first, so that no callback runs before this returns.
 */
export function waitFor (state: RequestState, phase: typeof Phase.Step | typeof Phase.Cleanup, pending: PromiseLike<unknown>): void {
  state.phase = phase
  if (state.fulfilled === null) makeCallbacks(state)
  adopt(pending).then(state.fulfilled, state.rejected)
}

/** The promise the wrapped handler returns: settles once the handler's own did and its callbacks ran. */
export function waitForHandler (state: RequestState, pending: PromiseLike<unknown>): Promise<unknown> {
  if (state.handlerFulfilled === null) makeHandlerCallbacks(state)
  return adopt(pending).then(state.handlerFulfilled, state.handlerRejected)
}
