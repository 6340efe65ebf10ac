import { DependencyKind, type DependencyContext } from './dependency'
import { DependencyGeneratorError } from './errors'
import type { Step } from './plan'
import type { RequestState } from './request-state'
import { NO_SCOPES } from './scopes'
import { watchConnection } from './cleanup'
import { isThenable } from './thenable'
import { resolveChannel, traced } from './tracing'

type AnyGenerator = Generator<unknown, unknown, unknown> | AsyncGenerator<unknown, unknown, unknown>

function contextFor (state: RequestState, step: Step): DependencyContext {
  if (step.securityScopes === NO_SCOPES) return state.ctx
  return { request: state.request, reply: state.reply, securityScopes: step.securityScopes }
}

/** Records a generator that reached its first `yield` on its exit stack and returns the yielded value. */
function enter (state: RequestState, step: Step, generator: AnyGenerator, first: IteratorResult<unknown>): unknown {
  if (first.done === true) {
    throw new DependencyGeneratorError(`The generator dependency "${step.name}" finished without yielding: it must yield exactly once`)
  }
  if (step.functionScope) {
    if (state.functionStack === null) state.functionStack = []
    state.functionStack.push(generator, step)
  } else {
    if (state.requestStack === null) {
      state.requestStack = []
      watchConnection(state)
    }
    state.requestStack.push(generator, step)
  }
  return first.value
}

async function settleValue (state: RequestState, index: number, pending: PromiseLike<unknown>): Promise<void> {
  state.slots[index] = await pending
}

async function settleGenerator (state: RequestState, index: number, generator: AnyGenerator, pending: PromiseLike<IteratorResult<unknown>>): Promise<void> {
  state.slots[index] = enter(state, state.plan.steps[index], generator, await pending)
}

/** Runs step `index`; `undefined` when its value is already in its slot, else a promise that puts it there. */
function runStep (state: RequestState, index: number): Promise<void> | undefined {
  if (state.traced) return traced(state, state.plan.steps[index], resolveChannel, true, () => startStep(state, index))
  return startStep(state, index)
}

function startStep (state: RequestState, index: number): Promise<void> | undefined {
  const step = state.plan.steps[index]
  const result = step.fn(step.buildInputs(state.slots), contextFor(state, step))
  if (step.kind === DependencyKind.Plain) {
    // Fastify's reply is a thenable that settles once the response is sent: it is a value here.
    if (result !== state.reply && isThenable(result)) return settleValue(state, index, result)
    state.slots[index] = result
    return undefined
  }
  const generator = result as AnyGenerator
  const first = generator.next()
  if (isThenable(first)) return settleGenerator(state, index, generator, first)
  state.slots[index] = enter(state, step, generator, first)
  return undefined
}

async function continueSequential (state: RequestState, order: readonly number[], from: number, pending: Promise<void>): Promise<void> {
  await pending
  for (let k = from; k < order.length; k++) {
    const next = runStep(state, order[k])
    if (next !== undefined) await next
  }
}

/**
 * Resolves the plan in order. Stays synchronous (returns `undefined`, creates no promise) for as
 * long as every dependency does; throws or rejects with the first error.
 */
export function resolveSequential (state: RequestState): Promise<void> | undefined {
  const order = state.earlyDone ? state.plan.late : state.plan.all
  for (let k = 0; k < order.length; k++) {
    const pending = runStep(state, order[k])
    if (pending !== undefined) return continueSequential(state, order, k + 1, pending)
  }
  return undefined
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
  if (run.failed) return
  await runStep(state, index)
}

/**
 * Resolves the plan letting independent steps overlap: each starts once its inputs are ready.
 * After a failure no new step starts, and it waits for those in flight so every entered
 * generator is on its stack before cleanup begins.
 */
export async function resolveParallel (state: RequestState): Promise<void> {
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
