import type { RequestState } from './request-state'

/**
 * Where a request goes on once the promise it waits on settles: a dependency being resolved,
 * the handler, or a generator's cleanup. One `.then()` with two small callbacks per wait, instead
 * of a chain of async functions (a promise and a frame per layer, and a microtask each).
 *
 * The callbacks are made per wait, not once per request and kept on the state: kept there, they
 * made every young-generation GC about ten times slower under HTTP load (measured with
 * `--trace-gc`: 5.7 ms instead of 0.55 ms per scavenge), as objects of finished requests
 * survived it.
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

/** A thenable that is not a native promise is adopted first, so that no callback runs before `then()` returned. */
function adopt (pending: PromiseLike<unknown>): Promise<unknown> {
  return pending instanceof Promise ? pending : Promise.resolve(pending)
}

function continueWhen (state: RequestState, phase: PhaseValue, pending: PromiseLike<unknown>): Promise<unknown> {
  const fulfilled = onFulfilled[phase]
  const rejected = onRejected[phase]
  return adopt(pending).then((value: unknown) => fulfilled(state, value), (err: unknown) => rejected(state, err))
}

/** Resolution or cleanup continues when `pending` settles (their callbacks handle both outcomes and never throw). */
export function waitFor (state: RequestState, phase: typeof Phase.Step | typeof Phase.Cleanup, pending: PromiseLike<unknown>): void {
  continueWhen(state, phase, pending)
}

/** The promise the wrapped handler returns: settles once the handler's own did and its callbacks ran. */
export function waitForHandler (state: RequestState, pending: PromiseLike<unknown>): Promise<unknown> {
  return continueWhen(state, Phase.Handler, pending)
}
