import { DependencyErrorSwallowedError, DependencyGeneratorError } from '../errors'
import type { Step } from '../compile/plan'
import type { RequestState } from './request-state'
import { isThenable } from './thenable'
import { cleanupChannel, traced } from '../describe/tracing'

export type AnyGenerator = Generator<unknown, unknown, unknown> | AsyncGenerator<unknown, unknown, unknown>

/** What follows an unwind: one of the lifecycle's named continuations (no closure per request). */
export type AfterUnwind = (exits: ExitStack, done: Function | undefined, extra: unknown) => void

function noop (): void {}

/** A thrown `undefined` or `null` still needs to become a response and a log entry. */
export function asError (value: unknown): unknown {
  if (value !== undefined && value !== null) return value
  return Object.assign(new Error(`A dependency threw ${String(value)}`), { statusCode: 500 })
}

/**
 * One request's entered generators (FastAPI's two exit stacks: function scope and request scope)
 * and the error being thrown into them. Each generator is resumed exactly once, newest first
 * (it is popped before it runs), and one unwind runs at a time: a second one asked for while an
 * asynchronous cleanup is pending waits for it, so LIFO order holds and each generator sees one error.
 */
export class ExitStack {
  readonly state: RequestState
  /** Entered function-scoped generators and their steps, interleaved: [gen, step, gen, step, ...]. */
  private functionEntries: unknown[] | null = null
  /** Entered request-scoped generators and their steps, interleaved like `functionEntries`. */
  private requestEntries: unknown[] | null = null

  /** An error is being thrown into the generators (any value, `undefined` too). */
  failing = false
  error: unknown = undefined
  /** The step whose cleanup raised `error` (for logs); `null` when it came from elsewhere. */
  errorStep: Step | null = null
  /** The step that swallowed an error, and that error. */
  swallowedBy: Step | null = null
  swallowedError: unknown = undefined

  /** An unwind waits on a generator's asynchronous cleanup. */
  unwinding = false
  private waiting: (() => void)[] | null = null
  private includeRequestScope = false
  private after: AfterUnwind = noop
  private done: Function | undefined = undefined
  private extra: unknown = undefined
  /** The generator whose asynchronous cleanup the unwind waits for, and its step. */
  private pendingStep: Step | null = null
  private pendingGenerator: AnyGenerator | undefined = undefined

  constructor (state: RequestState) {
    this.state = state
  }

  push (generator: AnyGenerator, step: Step): void {
    // A stack starts as the literal of its first entry: `[]` and a push would reserve 16 slots.
    if (step.functionScope) {
      if (this.functionEntries === null) this.functionEntries = [generator, step]
      else this.functionEntries.push(generator, step)
    } else if (this.requestEntries === null) {
      this.requestEntries = [generator, step]
    } else {
      this.requestEntries.push(generator, step)
    }
  }

  /** Some generator still waits for its cleanup. */
  get entered (): boolean {
    return (this.functionEntries !== null && this.functionEntries.length > 0) ||
      (this.requestEntries !== null && this.requestEntries.length > 0)
  }

  get hasRequestScope (): boolean {
    return this.requestEntries !== null && this.requestEntries.length > 0
  }

  /** The dependencies still holding something: the one whose cleanup runs, then those not finalized yet. */
  openNames (): string[] {
    const names: string[] = []
    if (this.pendingStep !== null) names.push(this.pendingStep.name)
    for (const entries of [this.functionEntries, this.requestEntries]) {
      if (entries === null) continue
      for (let i = entries.length - 1; i > 0; i -= 2) names.push((entries[i] as Step).name)
    }
    return names
  }

  private fail (err: unknown, step: Step | null): void {
    this.failing = true
    this.error = err
    this.errorStep = step
  }

  /**
   * Resumes the function-scoped generators, then (with `includeRequestScope`) the request-scoped
   * ones, and goes on with `after(this, done, extra)`. `done` and `extra` ride on the object
   * rather than in a closure: the request path allocates none for this.
   */
  unwind (includeRequestScope: boolean, after: AfterUnwind, done: Function | undefined, extra: unknown): void {
    if (this.unwinding) {
      this.wait(() => this.unwind(includeRequestScope, after, done, extra))
      return
    }
    this.includeRequestScope = includeRequestScope
    this.after = after
    this.done = done
    this.extra = extra
    if (this.run()) this.finish()
    else this.unwinding = true
  }

  /** The same, throwing `err` into every generator (a new failure: earlier swallowing is forgotten). */
  unwindThrowing (err: unknown, includeRequestScope: boolean, after: AfterUnwind, done: Function | undefined, extra: unknown): void {
    if (this.unwinding) {
      this.wait(() => this.unwindThrowing(err, includeRequestScope, after, done, extra))
      return
    }
    this.swallowedBy = null
    this.fail(err, null)
    this.unwind(includeRequestScope, after, done, extra)
  }

  private wait (retry: () => void): void {
    if (this.waiting === null) this.waiting = []
    this.waiting.push(retry)
  }

  /** `true` when every generator finished synchronously; `false` when one is pending (`continue()` follows). */
  private run (): boolean {
    for (;;) {
      let entries = this.functionEntries
      if (entries === null || entries.length === 0) {
        entries = this.includeRequestScope ? this.requestEntries : null
        if (entries === null || entries.length === 0) return true
      }
      const step = entries.pop() as Step
      const generator = entries.pop() as AnyGenerator
      const state = this.state
      let result: unknown
      try {
        result = state.traced ? traced(state, step, cleanupChannel, false, () => this.resume(generator)) : this.resume(generator)
      } catch (err) {
        this.threw(step, err)
        continue
      }
      if (isThenable(result)) {
        this.pendingStep = step
        this.pendingGenerator = generator
        // Callbacks made per wait, not kept on the object: kept, they made every young-generation GC
        // about ten times slower under HTTP load (objects of finished requests survived it).
        Promise.resolve(result).then(
          (value: unknown) => this.settled(value as IteratorResult<unknown>),
          (err: unknown) => this.rejected(err)
        )
        return false
      }
      this.returned(step, generator, result as IteratorResult<unknown>)
    }
  }

  private resume (generator: AnyGenerator): unknown {
    return this.failing ? generator.throw(this.error) : generator.next()
  }

  /** The cleanup threw: a new error replaces the one in flight; the same one goes on. */
  private threw (step: Step, err: unknown): void {
    if (!this.failing || err !== this.error) this.fail(err, step)
  }

  private returned (step: Step, generator: AnyGenerator, result: IteratorResult<unknown>): void {
    if (result.done !== true) {
      // Yielded a second time: finish it anyway so its `finally` blocks release what they hold.
      try {
        const closing = generator.return(undefined)
        if (isThenable(closing)) closing.then(noop, noop)
      } catch {}
      this.fail(new DependencyGeneratorError(`The generator dependency "${step.name}" yielded more than once: it must yield exactly once`), step)
    } else if (this.failing) {
      this.swallowedBy = step
      this.swallowedError = this.error
      this.failing = false
      this.error = undefined
      this.errorStep = null
    }
  }

  private settled (result: IteratorResult<unknown>): void {
    this.returned(this.pendingStep as Step, this.pendingGenerator as AnyGenerator, result)
    this.continue()
  }

  private rejected (err: unknown): void {
    this.threw(this.pendingStep as Step, err)
    this.continue()
  }

  private continue (): void {
    this.pendingStep = null
    this.pendingGenerator = undefined
    try {
      if (!this.run()) return
      this.unwinding = false
      this.finish()
      // Unwinds asked for meanwhile, in order; each may start (and await) its own.
      const waiting = this.waiting
      if (waiting === null) return
      while (waiting.length > 0 && !this.unwinding) (waiting.shift() as () => void)()
      /* c8 ignore start */
    } catch (err) {
      // Nothing else would see it: this runs in a promise callback.
      this.state.request.log.error({ err }, 'fastify-depends: cleanup bookkeeping failed')
    }
    /* c8 ignore stop */
  }

  private finish (): void {
    // Read before going on: what follows may start another unwind.
    const after = this.after
    const done = this.done
    const extra = this.extra
    this.after = noop
    this.done = undefined
    this.extra = undefined
    after(this, done, extra)
  }

  /** The error the response is built from once every generator has seen it. */
  finalError (): unknown {
    const swallowedBy = this.swallowedBy
    if (swallowedBy !== null) {
      this.state.request.log.error(
        { err: this.swallowedError, dependency: swallowedBy.name },
        `dependency "${swallowedBy.name}" caught an error during cleanup and did not re-throw it`
      )
    }
    if (this.failing || swallowedBy === null) return asError(this.error)
    return new DependencyErrorSwallowedError(`The dependency "${swallowedBy.name}" caught an error during cleanup and did not re-throw it; the request failed`)
  }
}
