import type { FastifyReply, FastifyRequest } from 'fastify'
import type { DependencyContext } from '../define/dependency'
import type { Plan, Step } from '../compile/plan'
import { NO_SCOPES } from '../security/scopes'
import { kRequestState } from '../symbols'
import { isTraced } from '../describe/tracing'

/** `request.deps` where there are no named values (no dependencies, a list, not resolved yet): one shared object. */
export const EMPTY_DEPS: Readonly<Record<string, never>> = Object.freeze({})

type DepsRequest = FastifyRequest & { [kRequestState]: RequestState | null }

/**
 * `request.deps`, an accessor on Fastify's Request prototype reading the request's state: a route
 * without dependencies has no state and pays nothing per request (no field to initialize).
 */
export const depsAccessor = {
  getter (this: FastifyRequest): Record<string, unknown> {
    const state = (this as DepsRequest)[kRequestState]
    return state === null ? EMPTY_DEPS : state.deps
  },
  setter (this: FastifyRequest, value: Record<string, unknown>): void {
    const state = (this as DepsRequest)[kRequestState]
    if (state !== null) state.deps = value
    // No state to hold it (a route without dependencies): an own property shadows the accessor.
    else Object.defineProperty(this, 'deps', { value, writable: true, enumerable: true, configurable: true })
  }
}

/**
 * Everything one request's resolution owns. One object and one slots array per request;
 * the exit stacks are allocated only when a generator is entered.
 */
export class RequestState {
  readonly plan: Plan
  readonly slots: unknown[]
  readonly request: FastifyRequest
  readonly reply: FastifyReply
  /** `request.deps`: the named values once resolution succeeded. */
  deps: Record<string, unknown> = EMPTY_DEPS
  /** The context handed to dependencies that see no security scopes. */
  readonly ctx: DependencyContext
  /** Entered function-scoped generators and their steps, interleaved: [gen, step, gen, step, ...]. */
  functionStack: unknown[] | null = null
  /** Entered request-scoped generators and their steps, interleaved like `functionStack`. */
  requestStack: unknown[] | null = null
  /** An error is being thrown into generators while unwinding (any value, `undefined` too). */
  failing = false
  /** That error. */
  error: unknown = undefined
  /** An unwind is waiting on a generator's cleanup: a second one waits for it (`unwindWaiting`). */
  unwinding = false
  unwindWaiting: (() => void)[] | null = null
  /** The unwind in progress: whether it goes on to the request scope, what follows it, and with what. */
  unwindRequestStack = false
  unwindAfter = 0
  unwindDone: Function | undefined = undefined
  unwindExtra: unknown = undefined
  /** The generator whose asynchronous cleanup the unwind waits for, and its step. */
  unwindStep: Step | null = null
  unwindGenerator: unknown = undefined
  /** The step whose cleanup raised `error` (for logs); `null` when it came from elsewhere. */
  errorStep: Step | null = null
  /** The step that swallowed an error, and that error. */
  swallowedBy: Step | null = null
  swallowedError: unknown = undefined
  /** The security schemes already ran in onRequest. */
  earlyDone = false
  /** A request-scope unwind is in progress or done: never start a second one. */
  requestScopeClosing = false
  /** The handler has produced its response (onSend reached) or failed. */
  responded = false
  /** onResponse came: the response was sent completely. */
  responseFinished = false
  /** The connection closed before the response was fully sent. */
  aborted = false
  /** The streamed body failed: what request-scoped generators see instead of a client abort. */
  streamError: unknown = undefined
  /** The handler is running and generators are entered: nothing may be finalized under it. */
  handling = false
  /** An error that reached onError while the handler ran (a handler timeout): thrown in once it is done. */
  deferredError: unknown = undefined
  hasDeferredError = false
  /** Request-scope cleanup asked for while the handler ran: its continuation. */
  deferredRequestScope: (() => void) | null = null

  /** Sequential resolution: the preHandler's `done`, the next position in the order, the step waited for. */
  resolvedDone: ((err?: unknown) => void) | null = null
  position = 0
  waitingStep = 0

  /** Tracing subscribers or Server-Timing: every step goes through `traced()`. */
  readonly traced: boolean
  /** Server-Timing: name, duration, name, duration, ... */
  readonly timings: (string | number)[] | null

  constructor (plan: Plan, request: FastifyRequest, reply: FastifyReply) {
    this.plan = plan
    this.slots = new Array(plan.steps.length)
    this.request = request
    this.reply = reply
    this.ctx = { request, reply, securityScopes: NO_SCOPES }
    this.timings = plan.serverTiming ? [] : null
    this.traced = isTraced(plan.serverTiming)
  }
}
