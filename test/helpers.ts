import Fastify, { type FastifyInstance, type FastifyServerOptions } from 'fastify'
import type { Test } from 'tap'
import fastifyDepends, { depends, type Dependency, type FastifyDependsOptions } from '../lib/index'

/** A Fastify app with the plugin registered, closed when the test ends. */
export async function build (t: Test, options: FastifyDependsOptions = {}, fastifyOptions: FastifyServerOptions = {}): Promise<FastifyInstance> {
  const app = Fastify(fastifyOptions)
  t.after(() => app.close())
  await app.register(fastifyDepends, options)
  return app
}

/** An ordered event log; `until(event)` resolves once that event was recorded. */
export class EventLog extends Array<string> {
  #waiters: Array<{ event: string, resolve: () => void }> = []

  static override get [Symbol.species] (): ArrayConstructor {
    return Array
  }

  record (event: string): void {
    this.push(event)
    for (const waiter of this.#waiters.filter((w) => w.event === event)) waiter.resolve()
    this.#waiters = this.#waiters.filter((w) => w.event !== event)
  }

  until (event: string): Promise<void> {
    if (this.includes(event)) return Promise.resolve()
    return new Promise((resolve) => this.#waiters.push({ event, resolve }))
  }

  list (): string[] {
    return [...this]
  }
}

/** Lets pending callbacks and immediates run (request-scope cleanup runs after the response). */
export function settle (): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, 10))
}

/** Collects log lines written by Fastify's logger. */
export function logCollector (): { stream: { write: (line: string) => void }, lines: Array<Record<string, unknown>> } {
  const lines: Array<Record<string, unknown>> = []
  return { stream: { write: (line: string) => { lines.push(JSON.parse(line)) } }, lines }
}

/** Rejects when `promise` has not settled within `ms`, so a lost cleanup fails a test instead of hanging it. */
export function within<T> (promise: Promise<T>, label: string, ms = 5000): Promise<T> {
  let timer: NodeJS.Timeout | undefined
  const timeout = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out waiting for ${label}`)), ms)
  })
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer))
}

export type CodedError = Error & { code?: string }

/** The error `app.ready()` fails with, or `undefined` when it succeeds. */
export async function readyError (app: FastifyInstance): Promise<CodedError | undefined> {
  try {
    await app.ready()
  } catch (err) {
    return err as CodedError
  }
  return undefined
}

/** Collects unhandledRejection/uncaughtException while the test runs; assert on it at the end. */
export function watchProcess (t: Test): string[] {
  const problems: string[] = []
  const onUnhandled = (err: unknown): void => { problems.push(`unhandledRejection: ${String(err)}`) }
  const onUncaught = (err: unknown): void => { problems.push(`uncaughtException: ${String(err)}`) }
  process.on('unhandledRejection', onUnhandled)
  process.on('uncaughtException', onUncaught)
  t.teardown(() => {
    process.off('unhandledRejection', onUnhandled)
    process.off('uncaughtException', onUncaught)
  })
  return problems
}

/**
 * A generator dependency that records `name:enter`, then `name:exit` or `name:saw <code or message>`:
 * one line per finalization. `delay` ms pass before it is entered.
 */
export function recording (events: EventLog, name: string, scope: 'request' | 'function', delay = 0): Dependency<string> {
  return depends(async function * () {
    if (delay > 0) await new Promise((resolve) => setTimeout(resolve, delay))
    events.record(`${name}:enter`)
    try {
      yield name
      events.record(`${name}:exit`)
    } catch (err) {
      events.record(`${name}:saw ${(err as { code?: string }).code ?? (err as Error).message}`)
      throw err
    }
  }, { name, scope })
}

/** A function-scoped and a request-scoped `recording` generator, named after their scopes. */
export function bothScopes (events: EventLog): { f: Dependency<string>, r: Dependency<string> } {
  return { f: recording(events, 'function', 'function'), r: recording(events, 'request', 'request') }
}
