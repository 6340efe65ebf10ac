import diagnosticsChannel from 'node:diagnostics_channel'
import { performance } from 'node:perf_hooks'
import { DependencyKind } from '../define/dependency'
import type { Step } from '../compile/plan'
import type { RequestState } from '../run/request-state'

/** `tracing:fastify-depends:resolve:{start,end,asyncStart,asyncEnd,error}`: one dependency resolved. */
export const resolveChannel = diagnosticsChannel.tracingChannel<unknown, DependencyTraceContext>('fastify-depends:resolve')
/** `tracing:fastify-depends:cleanup:{start,end,asyncStart,asyncEnd,error}`: one generator finalized. */
export const cleanupChannel = diagnosticsChannel.tracingChannel<unknown, DependencyTraceContext>('fastify-depends:cleanup')

/** What subscribers receive. */
export interface DependencyTraceContext {
  /** The dependency's name. */
  readonly dependency: string
  /** The route, as `GET /items`. */
  readonly route: string
  /** The generator's scope, or `'app'` for an app-scoped dependency; `undefined` for plain dependencies. */
  readonly scope: 'request' | 'function' | 'app' | undefined
  readonly requestId: string
  /** `performance.now()` when it started. */
  readonly start: number
  /** Milliseconds, set at `end` (synchronous) or `asyncEnd`. */
  duration: number | undefined
  /** What it threw (set before `error` is published). */
  error: unknown
}

type TracingChannel = typeof resolveChannel

/** Whether this request needs tracing at all: read once per request, nothing allocated otherwise. */
export function isTraced (serverTiming: boolean): boolean {
  return serverTiming || resolveChannel.hasSubscribers || cleanupChannel.hasSubscribers
}

function contextFor (state: RequestState, step: Step): DependencyTraceContext {
  return {
    dependency: step.name,
    route: state.plan.route,
    scope: step.appScoped ? 'app' : step.kind === DependencyKind.Plain ? undefined : (step.functionScope ? 'function' : 'request'),
    requestId: state.request.id,
    start: performance.now(),
    duration: undefined,
    error: undefined
  }
}

function ended (state: RequestState, context: DependencyTraceContext, timed: boolean): void {
  context.duration = performance.now() - context.start
  if (timed && state.timings !== null) state.timings.push(context.dependency, context.duration)
}

/**
 * Runs `run` (one dependency's resolution or one generator's cleanup) with the tracing
 * channel's events around it; `run` returns a value, or a promise when it went asynchronous.
 */
export function traced<T> (state: RequestState, step: Step, channel: TracingChannel, timed: boolean, run: () => T): T {
  const context = contextFor(state, step)
  const publish = channel.hasSubscribers
  if (publish) channel.start.publish(context)
  let result: T
  try {
    result = run()
  } catch (err) {
    context.error = err
    ended(state, context, timed)
    if (publish) {
      channel.error.publish(context)
      channel.end.publish(context)
    }
    throw err
  }
  if (result === undefined || result === null || typeof (result as { then?: unknown }).then !== 'function') {
    ended(state, context, timed)
    if (publish) channel.end.publish(context)
    return result
  }
  if (publish) channel.end.publish(context)
  return (result as unknown as Promise<unknown>).then((value) => {
    ended(state, context, timed)
    if (publish) {
      channel.asyncStart.publish(context)
      channel.asyncEnd.publish(context)
    }
    return value
  }, (err: unknown) => {
    context.error = err
    ended(state, context, timed)
    if (publish) {
      channel.error.publish(context)
      channel.asyncStart.publish(context)
      channel.asyncEnd.publish(context)
    }
    throw err
  }) as T
}

/** The `Server-Timing` header value: `name;dur=1.23` per dependency, in resolution order. */
export function serverTimingHeader (timings: readonly (string | number)[]): string {
  const entries: string[] = []
  for (let i = 0; i < timings.length; i += 2) {
    const name = String(timings[i]).replace(/[^!#$%&'*+\-.^`|~\w]/g, '_')
    entries.push(`${name};dur=${(timings[i + 1] as number).toFixed(2)}`)
  }
  return entries.join(', ')
}
