import { DependencyKind, type DependencyContext } from '../define/dependency'
import { DependencyGeneratorError } from '../errors'
import type { Step } from '../compile/plan'
import type { RequestState } from './request-state'
import { NO_SCOPES } from '../security/scopes'
import type { AnyGenerator } from './exit-stack'
import { entered, resolutionEnded, resolutionFailed } from './lifecycle'
import { Stage } from './request-state'
import { isThenable } from './thenable'
import { resolveChannel, traced } from '../describe/tracing'

type Done = (err?: unknown) => void

function contextFor (state: RequestState, step: Step): DependencyContext {
  if (step.securityScopes === NO_SCOPES) return state.ctx
  return { request: state.request, reply: state.reply, securityScopes: step.securityScopes }
}

/** A generator reached its first `yield`: it goes on the exit stack, and its value is the yielded one. */
function enter (state: RequestState, step: Step, generator: AnyGenerator, first: IteratorResult<unknown>): unknown {
  if (first.done === true) {
    throw new DependencyGeneratorError(`The generator dependency "${step.name}" finished without yielding: it must yield exactly once`)
  }
  entered(state, step, generator)
  return first.value
}

/** Step `index`'s value arrived: a generator (waiting in its slot) is entered with its first result. */
function settle (state: RequestState, index: number, value: unknown): void {
  const step = state.plan.steps[index]
  state.slots[index] = step.kind === DependencyKind.Plain ? value : enter(state, step, state.slots[index] as AnyGenerator, value as IteratorResult<unknown>)
}

/** Runs step `index`; `undefined` when its value is already in its slot, else what to wait for before `settle()`. */
function runStep (state: RequestState, index: number): PromiseLike<unknown> | undefined {
  // An app-scoped value is read, not resolved: Server-Timing leaves it out (its start is not per request).
  if (state.traced) return traced(state, state.plan.steps[index], resolveChannel, !state.plan.steps[index].appScoped, () => startStep(state, index))
  return startStep(state, index)
}

function startStep (state: RequestState, index: number): PromiseLike<unknown> | undefined {
  const step = state.plan.steps[index]
  const result = step.fn(step.buildInputs(state.slots), contextFor(state, step))
  if (step.kind === DependencyKind.Plain) {
    // Fastify's reply is a thenable that settles once the response is sent: it is a value here.
    if (result !== state.reply && isThenable(result)) return result
    state.slots[index] = result
    return undefined
  }
  const generator = result as AnyGenerator
  const first = generator.next()
  if (isThenable(first)) {
    state.slots[index] = generator
    return first
  }
  state.slots[index] = enter(state, step, generator, first)
  return undefined
}

/**
 * Runs the steps from `state.position` on. `true` when they all finished synchronously or
 * resolution was stopped (a reply went out); `false` when one is pending: resolution goes on
 * when it settles and ends in `resolved()` or a failure.
 */
function advance (state: RequestState): boolean {
  const order = state.earlyDone ? state.plan.late : state.plan.all
  while (state.position < order.length) {
    // A dependency replied (or hijacked the reply), or Fastify answered (a timeout) while the last step was pending.
    if (state.stage !== Stage.Resolving || state.reply.sent) return true
    const index = order[state.position++]
    const pending = runStep(state, index)
    if (pending !== undefined) {
      state.waitingStep = index
      Promise.resolve(pending).then((value: unknown) => stepFulfilled(state, value), (err: unknown) => failed(state, err))
      return false
    }
  }
  return true
}

function resolved (state: RequestState): void {
  resolutionEnded(state, state.resolvedDone as Done)
}

function failed (state: RequestState, err: unknown): void {
  resolutionFailed(state, err, state.resolvedDone as Done)
}

function stepFulfilled (state: RequestState, value: unknown): void {
  try {
    settle(state, state.waitingStep, value)
    if (!advance(state)) return
  } catch (err) {
    failed(state, err)
    return
  }
  resolved(state)
}

/**
 * Resolves the plan in order, then sets `request.deps` and calls `done` (or fails with the first
 * error). Synchronous, with no promise and no closure, for as long as every dependency is; each
 * asynchronous one costs one `.then()` with two small callbacks.
 */
export function resolveSequential (state: RequestState, done: Done): void {
  state.resolvedDone = done
  state.resolutionRunning = true
  state.position = 0
  try {
    if (!advance(state)) return
  } catch (err) {
    failed(state, err)
    return
  }
  resolved(state)
}

/** onRequest: runs the security schemes, which are synchronous and read only raw request data. */
export function resolveEarly (state: RequestState): void {
  for (const index of state.plan.early) runStep(state, index)
  state.earlyDone = true
}

interface ParallelRun {
  readonly pending: Promise<void>[]
  failed: boolean
  error: unknown
}

async function runWhenReady (state: RequestState, index: number, run: ParallelRun): Promise<void> {
  const inputs = state.plan.steps[index].inputSteps
  for (const input of inputs) await run.pending[input]
  if (run.failed || state.stage !== Stage.Resolving) return
  const pending = runStep(state, index)
  if (pending !== undefined) settle(state, index, await pending)
}

async function runParallel (state: RequestState): Promise<void> {
  const count = state.plan.steps.length
  const run: ParallelRun = { pending: new Array(count), failed: false, error: undefined }
  const fail = (err: unknown): void => {
    if (!run.failed) {
      run.failed = true
      run.error = err
    }
  }
  for (let i = 0; i < count; i++) {
    run.pending[i] = state.earlyDone && state.plan.steps[i].early ? Promise.resolve() : runWhenReady(state, i, run)
    run.pending[i].catch(fail)
  }
  await Promise.allSettled(run.pending)
  if (run.failed) throw run.error
}

/**
 * Resolves the plan letting independent steps overlap: each starts once its inputs are ready.
 * After a failure no new step starts, and it waits for those in flight so every entered
 * generator is on its stack before cleanup begins.
 */
export function resolveParallel (state: RequestState, done: Done): void {
  state.resolvedDone = done
  state.resolutionRunning = true
  runParallel(state).then(() => resolved(state), (err: unknown) => failed(state, err))
}
