import { performance } from 'node:perf_hooks'
import type { FastifyInstance } from 'fastify'
import { DependencyKind, type AppDependencyContext, type Dependency, type DependencyDefinition } from '../define/dependency'
import { cleanupChannel, resolveChannel, type DependencyTraceContext } from '../describe/tracing'
import {
  AppScopeCacheError, AppScopeClosingError, AppScopeCycleError, AppScopeInputError, AppScopeKindError, DependencyGeneratorError
} from '../errors'
import { kDependency } from '../symbols'
import type { AnyGenerator } from './exit-stack'
import { isThenable } from './thenable'

/*
 * App-scoped dependencies (DESIGN §13): one value for the whole app, started during ready() in
 * dependency order, finalized at close() after the in-flight requests' cleanups, newest first.
 * A route's plan holds the cell itself: on the request path an app-scoped value is one property
 * read (`cell.read()`), no lookup.
 */

const Idle = 0
const Starting = 1
const Started = 2
const Finalized = 3

/** One app-scoped dependency (as overridden when its cell was made): its value and its generator. */
export class AppCell {
  readonly scope: AppScope
  readonly definition: DependencyDefinition
  readonly inputNames: readonly string[]
  readonly inputs: readonly AppCell[]
  state = Idle
  value: unknown = undefined
  generator: AnyGenerator | null = null
  private starting: Promise<unknown> | null = null
  /** The value once started; else a promise of it (an override set after ready(), a first resolveDependency()). */
  readonly read: () => unknown

  constructor (scope: AppScope, definition: DependencyDefinition, inputNames: readonly string[], inputs: readonly AppCell[]) {
    this.scope = scope
    this.definition = definition
    this.inputNames = inputNames
    this.inputs = inputs
    this.read = () => this.state === Started ? this.value : this.start()
  }

  get name (): string {
    return this.definition.name
  }

  /** Starts it (its inputs first) unless it is started or starting; concurrent callers share one start. */
  start (): Promise<unknown> {
    if (this.state === Started) return Promise.resolve(this.value)
    if (this.starting === null) {
      this.state = Starting
      this.starting = this.scope.run(this).then((value) => {
        this.starting = null
        return value
      }, (err: unknown) => {
        // Not started: a later need tries again.
        this.starting = null
        this.state = Idle
        throw err
      })
    }
    return this.starting
  }
}

/** The error names the dependency that failed to start (`err.dependency`), unless an input's failure named one already. */
function nameFailure (err: unknown, name: string): void {
  if (typeof err !== 'object' || err === null || 'dependency' in err) return
  try {
    Object.assign(err, { dependency: name })
  } catch {}
}

function traceContext (name: string): DependencyTraceContext {
  return { dependency: name, route: 'app', scope: 'app', requestId: '', start: performance.now(), duration: undefined, error: undefined }
}

async function traced<T> (channel: typeof resolveChannel, name: string, run: () => Promise<T>): Promise<T> {
  if (!channel.hasSubscribers) return await run()
  const context = traceContext(name)
  // tracePromise sets `context.error` itself when `run` rejects.
  return await channel.tracePromise(async () => {
    try {
      return await run()
    } finally {
      context.duration = performance.now() - context.start
    }
  }, context)
}

export class AppScope {
  /** By the dependency that provides the value (an override, or the original). */
  private readonly cells = new Map<Dependency, AppCell>()
  /** In the order they started: finalized the other way round. */
  private readonly started: AppCell[] = []
  private context: AppDependencyContext | null = null
  /** close() began: nothing starts any more. */
  closing = false

  constructor (private readonly app: FastifyInstance) {}

  /**
   * The cell of an app-scoped dependency (`effective`: the original or its override), made once,
   * its inputs checked: they must be app-scoped too, and no parameter or scheme (DependencyScopeError).
   */
  cellFor (effective: Dependency, overrides: ReadonlyMap<Dependency, Dependency>, path: readonly Dependency[] = []): AppCell {
    const existing = this.cells.get(effective)
    if (existing !== undefined) return existing
    const definition = effective[kDependency]
    if (definition.param !== undefined || definition.scheme !== undefined || definition.alternatives !== undefined) {
      throw new AppScopeKindError(definition.name, definition.param !== undefined ? 'a request parameter' : 'a security scheme')
    }
    if (path.includes(effective)) throw new AppScopeCycleError([...path, effective].map((dep) => `"${dep.name}"`).join(' -> '))
    const inputs = definition.inputUses.map((use) => {
      const inputDefinition = use.dependency[kDependency]
      const scope = use.scope ?? inputDefinition.scope
      if (scope !== 'app') throw new AppScopeInputError(definition.name, use.dependency.name, scope ?? 'request')
      if ((use.useCache ?? inputDefinition.useCache) === false) throw new AppScopeCacheError(use.dependency.name)
      return this.cellFor(overrides.get(use.dependency) ?? use.dependency, overrides, [...path, effective])
    })
    const cell = new AppCell(this, definition, definition.inputNames, inputs)
    this.cells.set(effective, cell)
    return cell
  }

  /** Runs one cell's function, its inputs started first (called once per start, by the cell). */
  async run (cell: AppCell): Promise<unknown> {
    const inputs: Record<string, unknown> = {}
    for (let i = 0; i < cell.inputs.length; i++) inputs[cell.inputNames[i]] = await cell.inputs[i].start()
    const context = this.context ??= { app: this.app, log: this.app.log }
    let value: unknown
    try {
      value = await traced(resolveChannel, cell.name, async () => {
        const result = cell.definition.fn(inputs, context as never)
        if (cell.definition.kind === DependencyKind.Plain) return isThenable(result) ? await result : result
        const generator = result as AnyGenerator
        const first = await generator.next()
        if (first.done === true) {
          throw new DependencyGeneratorError(`The generator dependency "${cell.name}" finished without yielding: it must yield exactly once`)
        }
        cell.generator = generator
        return first.value
      })
    } catch (err) {
      nameFailure(err, cell.name)
      throw err
    }
    cell.value = value
    cell.state = Started
    this.started.push(cell)
    if (this.closing) {
      // close() finalized the app scope while this one was starting: it is finalized at once.
      await this.finalizeAll()
      throw new AppScopeClosingError(cell.name)
    }
    return value
  }

  /** ready(): starts these cells (and their inputs) one after another; a failure finalizes what started, then throws. */
  async startAll (cells: Iterable<AppCell>): Promise<void> {
    for (const cell of cells) {
      try {
        await cell.start()
      } catch (err) {
        const name = (err as { dependency?: string } | undefined)?.dependency ?? cell.name
        this.app.log.error({ err, dependency: name }, `fastify-depends: the app-scoped dependency "${name}" failed to start`)
        await this.finalizeAll()
        throw err
      }
    }
  }

  /** close() (or a failed ready()): every started cell, newest first, each once; a failing cleanup is logged. */
  async finalizeAll (): Promise<void> {
    while (this.started.length > 0) {
      const cell = this.started.pop() as AppCell
      cell.state = Finalized
      const generator = cell.generator
      cell.generator = null
      cell.value = undefined
      if (generator === null) continue
      try {
        const result = await traced(cleanupChannel, cell.name, async () => await generator.next())
        if (result.done !== true) {
          await generator.return(undefined)
          throw new DependencyGeneratorError(`The generator dependency "${cell.name}" yielded more than once: it must yield exactly once`)
        }
      } catch (err) {
        this.app.log.error({ err, dependency: cell.name }, `fastify-depends: cleanup of the app-scoped dependency "${cell.name}" failed`)
      }
    }
  }
}
