import type { FastifyReply, FastifyRequest } from 'fastify'
import type { DependencyContext } from '../define/dependency'
import type { Plan } from '../compile/plan'
import { NO_SCOPES } from '../security/scopes'
import { kRequestState } from '../symbols'
import { isTraced } from '../describe/tracing'
import type { ExitStack } from './exit-stack'
import type { LiveRequests } from './live-requests'
import type { OpenSocket } from './socket'

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
 * Where a request is in its lifecycle (lib/run/lifecycle.ts owns the transitions):
 * - `Resolving`: dependencies run; generators may be entered.
 * - `Handling`: resolution ended; the handler runs or ran; no response yet.
 * - `Responding`: the response was produced; function scope finalized (or waiting for the handler).
 * - `Finished`: request scope finalized or being finalized; nothing is entered any more (a late
 *   entry is finalized at once).
 */
export const Stage = { Resolving: 0, Handling: 1, Responding: 2, Finished: 3 } as const
export type StageValue = typeof Stage[keyof typeof Stage]

/**
 * Everything one request's resolution owns. One object and one slots array per request;
 * the exit stack is allocated only when a generator is entered.
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
  /** The entered generators, once there is one. */
  exits: ExitStack | null = null

  stage: StageValue = Stage.Resolving
  /** Resolution code is still at work (a step may yet settle, also after resolution was stopped). */
  resolutionRunning = false
  /** The handler runs with generators entered: nothing may be finalized under it. */
  handlerRunning = false
  /** The route has the response hooks; without them the raw response's close ends the request (lib/run/lifecycle.ts). */
  responseHooks = true
  /** The connection closed before the response was fully sent. */
  aborted = false
  /** onResponse came: the response was sent completely. */
  responseEnded = false
  /** The payload is a stream that has not ended yet (an automatic HEAD route drains it after the response). */
  payloadOpen = false
  /** Why the response did not end cleanly (a stream failed, a WebSocket closed abnormally): what request-scoped generators see. */
  endError: unknown = undefined
  /** The WebSocket the socket handler got (lib/run/socket.ts): the request scope lives as long as it. */
  socket: OpenSocket | null = null
  /** `close()` ends this request's WebSocket: its request scope sees an abort. */
  serverClosing = false
  /** Why the request ended, thrown into a generator entered after that (`exitFailed`). */
  exitError: unknown = undefined
  exitFailed = false
  /** An error that reached onError while the handler ran (a handler timeout): thrown in once it is done. */
  deferredError: unknown = undefined
  hasDeferredError = false
  /** onResponse's callback, held while the request scope may not close yet. */
  responseDone: (() => void) | undefined = undefined

  /** The security schemes already ran in onRequest. */
  earlyDone = false
  /** Sequential resolution: the preHandler's `done`, the next position in the order, the step waited for. */
  resolvedDone: ((err?: unknown) => void) | null = null
  position = 0
  waitingStep = 0

  /** In-flight requests that entered or may enter generators, for `close()`; `null` once released. */
  live: LiveRequests | null = null
  livePrevious: RequestState | null = null
  liveNext: RequestState | null = null

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
