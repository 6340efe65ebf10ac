import type { FastifyBaseLogger, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import { DependencyInvalidError, InputIsPlainFunctionError, InputNotADependencyError, InputsIsOneDependencyError, InputsTypeError, ProtoInputNameError } from '../errors'
import type { ParamSpec } from '../params/params'
import type { AlternativesSpec } from '../security/any-of'
import type { SchemeDependency, SchemeSpec, SchemeUse } from '../security/scheme'
import { kDependency, kDependencyUse, kSchemeName } from '../symbols'

export type DependencyScope = 'request' | 'function' | 'app'

/** The OAuth2 scopes accumulated from the route down to a dependency (FastAPI's `SecurityScopes`). */
export interface SecurityScopes {
  readonly scopes: readonly string[]
  readonly scopeStr: string
}

/** The second argument of every dependency function. */
export interface DependencyContext {
  readonly request: FastifyRequest
  readonly reply: FastifyReply
  readonly securityScopes: SecurityScopes
}

/** The second argument of an app-scoped dependency (`scope: 'app'`): there is no request. */
export interface AppDependencyContext {
  /** The instance the plugin was registered on. */
  readonly app: FastifyInstance
  readonly log: FastifyBaseLogger
}

export interface ResponseDescription {
  description: string
  schema?: unknown
}

export interface DependencyOptions {
  /** Used in errors and logs; defaults to the function's name. */
  name?: string
  /** Reuse the value within a request (default `true`). */
  useCache?: boolean
  /**
   * When a generator's cleanup runs: `'request'` (after the response, default) or `'function'`
   * (before it). `'app'`: one value for the whole app, started during `ready()`, finalized at `close()`.
   */
  scope?: DependencyScope
  /** The dependency reads `ctx.securityScopes`: its cache key includes the accumulated scopes. */
  usesScopes?: boolean
  /** Error responses this dependency can produce, by status code. */
  responses?: Record<number | string, ResponseDescription>
}

export interface UseOptions {
  useCache?: boolean
  scope?: DependencyScope
}

export const DependencyKind = { Plain: 0, Generator: 1, AsyncGenerator: 2 } as const
export type DependencyKindValue = typeof DependencyKind[keyof typeof DependencyKind]

/** What the compiler needs to know about a definition; never read on the request path. */
export interface DependencyDefinition {
  readonly fn: (inputs: any, ctx: DependencyContext) => unknown
  readonly kind: DependencyKindValue
  readonly name: string
  readonly inputNames: readonly string[]
  readonly inputUses: readonly DependencyUseInternals[]
  readonly useCache: boolean | undefined
  readonly scope: DependencyScope | undefined
  readonly usesScopes: boolean
  readonly responses: Record<number | string, ResponseDescription> | undefined
  /** Set on `Query`, `Header`, `Cookie`, `Path` and `Body` dependencies. */
  readonly param?: ParamSpec
  /** Set on security schemes (`HTTPBearer()`, `OAuth2PasswordBearer()`, ...). */
  readonly scheme?: SchemeSpec
  /** Set on `anyOf()`: its alternatives, for the compiler (run in onRequest) and OpenAPI (one requirement each). */
  readonly alternatives?: AlternativesSpec
  /** Set on the probe `anyOf()` makes of a scheme: overriding the scheme overrides the probe. */
  readonly probeOf?: Dependency
}

export interface DependencyUseInternals {
  readonly dependency: Dependency<unknown>
  readonly useCache: boolean | undefined
  readonly scope: DependencyScope | undefined
  /** Scopes declared at this use site by `Security()`. */
  readonly scopes: readonly string[]
}

declare const valueType: unique symbol

/** A dependency definition, as returned by `depends()`. `T` is the value it provides. */
export interface Dependency<T = unknown> {
  readonly name: string
  readonly [kDependency]: DependencyDefinition
  /** Type-level only: the value this dependency provides (a function, so `undefined` is not absorbed by `?`). */
  readonly [valueType]?: () => T
}

/** A dependency at a use site with its own options, as returned by `Depends()` or `Security()`. */
export interface DependencyUse<T = unknown> {
  readonly [kDependencyUse]: DependencyUseInternals
  readonly [valueType]?: () => T
}

export type DependencyLike<T = unknown> = Dependency<T> | DependencyUse<T>

/** The value type of a dependency or use-site marker. */
export type DependencyValue<D> = D extends DependencyLike<infer T> ? T : never

/** A route's (or context's) dependencies: a record whose values land on `request.deps`, or a list run for effect. */
export type DependencyList = Readonly<Record<string, DependencyLike<any>>> | readonly DependencyLike<any>[]

/** The shape of `request.deps` for a dependency record (`{}` for a list). */
export type InferDeps<D> = D extends readonly unknown[]
  ? Record<never, never>
  : { -readonly [K in keyof D]: DependencyValue<D[K]> }

type ValueOf<R> = R extends Generator<infer Y, any, any>
  ? Y
  : R extends AsyncGenerator<infer Y, any, any>
    ? Y
    : Awaited<R>

export type DependencyInputs = Readonly<Record<string, DependencyLike<any>>>

const EMPTY_SCOPES: readonly string[] = Object.freeze([])

export function isDependency (value: unknown): value is Dependency {
  return typeof value === 'object' && value !== null && kDependency in value
}

export function isDependencyUse (value: unknown): value is DependencyUse {
  return typeof value === 'object' && value !== null && kDependencyUse in value
}

/** Normalizes a bare dependency or a use-site marker to the use-site record; `undefined` when it is neither. */
export function toUse (value: unknown): DependencyUseInternals | undefined {
  if (isDependencyUse(value)) return value[kDependencyUse]
  if (isDependency(value)) return { dependency: value, useCache: undefined, scope: undefined, scopes: EMPTY_SCOPES }
  return undefined
}

export function describeValue (value: unknown): string {
  if (value === null) return 'null'
  if (typeof value === 'function') return `function ${value.name || '(anonymous)'}`
  if (typeof value === 'object') return Array.isArray(value) ? 'an array' : `an object (${Object.keys(value).slice(0, 3).join(', ') || 'no keys'})`
  return `${typeof value} ${String(value)}`
}

function kindOf (fn: Function): DependencyKindValue {
  const tag = Object.prototype.toString.call(fn)
  if (tag === '[object AsyncGeneratorFunction]') return DependencyKind.AsyncGenerator
  if (tag === '[object GeneratorFunction]') return DependencyKind.Generator
  return DependencyKind.Plain
}

function checkScope (scope: unknown, where: string): DependencyScope | undefined {
  if (scope === undefined || scope === 'request' || scope === 'function' || scope === 'app') return scope
  throw new DependencyInvalidError(`${where}: scope must be "request", "function" or "app", got ${describeValue(scope)}`)
}

function checkUseCache (useCache: unknown, where: string): boolean | undefined {
  if (useCache === undefined || typeof useCache === 'boolean') return useCache
  throw new DependencyInvalidError(`${where}: useCache must be a boolean, got ${describeValue(useCache)}`)
}

function checkOptions (options: unknown, where: string): Record<string, unknown> {
  if (options === undefined) return {}
  if (typeof options !== 'object' || options === null || Array.isArray(options)) {
    throw new DependencyInvalidError(`${where}: options must be an object, got ${describeValue(options)}`)
  }
  return options as Record<string, unknown>
}

type Fn<I, R, Ctx = DependencyContext> = (inputs: I, ctx: Ctx) => R

/** The options of an app-scoped dependency: its function gets `{ app, log }`. */
export type AppDependencyOptions = DependencyOptions & { scope: 'app' }

/**
 * Defines a dependency. `fn` may be a plain, async, generator or async generator function;
 * for generators the value is the first `yield` and the code after it is cleanup.
 */
export function depends<R> (fn: Fn<Record<never, never>, R, AppDependencyContext>, options: AppDependencyOptions): Dependency<ValueOf<R>>
export function depends<const I extends DependencyInputs, R> (inputs: I, fn: Fn<InferDeps<I>, R, AppDependencyContext>, options: AppDependencyOptions): Dependency<ValueOf<R>>
export function depends<R> (fn: Fn<Record<never, never>, R>, options?: DependencyOptions): Dependency<ValueOf<R>>
export function depends<const I extends DependencyInputs, R> (inputs: I, fn: Fn<InferDeps<I>, R>, options?: DependencyOptions): Dependency<ValueOf<R>>
export function depends (first: unknown, second?: unknown, third?: unknown): Dependency {
  let inputs: unknown
  let fn: unknown
  let options: unknown
  if (typeof first === 'function') {
    inputs = undefined
    fn = first
    options = second
  } else {
    inputs = first
    fn = second
    options = third
  }
  if (typeof fn !== 'function') {
    throw new DependencyInvalidError(`depends() needs a function, got ${describeValue(fn)}`)
  }
  const opts = checkOptions(options, 'depends()')
  const name = opts.name === undefined ? (fn.name || '<anonymous>') : opts.name
  if (typeof name !== 'string' || name === '') {
    throw new DependencyInvalidError(`depends(): name must be a non-empty string, got ${describeValue(name)}`)
  }
  const where = `dependency "${name}"`
  const inputNames: string[] = []
  const inputUses: DependencyUseInternals[] = []
  if (inputs !== undefined) {
    if (typeof inputs !== 'object' || inputs === null || Array.isArray(inputs)) throw new InputsTypeError(where, describeValue(inputs))
    // `depends(currentUser, fn)` would otherwise read the dependency's own fields as inputs
    const single = toUse(inputs)
    if (single !== undefined) throw new InputsIsOneDependencyError(where, single.dependency.name, single.dependency.name)
    for (const key of Object.keys(inputs)) {
      const value = (inputs as Record<string, unknown>)[key]
      const use = toUse(value)
      if (use === undefined) {
        if (typeof value === 'function') throw new InputIsPlainFunctionError(where, key, describeValue(value), value.name || 'fn')
        throw new InputNotADependencyError(where, key, describeValue(value))
      }
      if (key === '__proto__') throw new ProtoInputNameError(where)
      inputNames.push(key)
      inputUses.push(use)
    }
  }
  if (opts.usesScopes !== undefined && typeof opts.usesScopes !== 'boolean') {
    throw new DependencyInvalidError(`${where}: usesScopes must be a boolean, got ${describeValue(opts.usesScopes)}`)
  }
  if (opts.responses !== undefined && (typeof opts.responses !== 'object' || opts.responses === null)) {
    throw new DependencyInvalidError(`${where}: responses must be an object keyed by status code, got ${describeValue(opts.responses)}`)
  }
  const definition: DependencyDefinition = {
    fn: fn as DependencyDefinition['fn'],
    kind: kindOf(fn),
    name,
    inputNames,
    inputUses,
    useCache: checkUseCache(opts.useCache, where),
    scope: checkScope(opts.scope, where),
    usesScopes: opts.usesScopes === true,
    responses: opts.responses as DependencyDefinition['responses']
  }
  return { name, [kDependency]: definition }
}

function checkDependency (dep: unknown, where: string): Dependency {
  if (!isDependency(dep)) {
    throw new DependencyInvalidError(`${where} needs a dependency created with depends(), got ${describeValue(dep)}`)
  }
  return dep
}

/** The use-site marker: the same dependency with other options at this place in the tree. */
export function Depends<T> (dep: Dependency<T>, options?: UseOptions): DependencyUse<T> {
  const dependency = checkDependency(dep, 'Depends()')
  const opts = checkOptions(options, 'Depends()')
  const where = `Depends(${dependency.name})`
  return {
    [kDependencyUse]: {
      dependency,
      useCache: checkUseCache(opts.useCache, where),
      scope: checkScope(opts.scope, where),
      scopes: EMPTY_SCOPES
    }
  }
}

/** `Depends` plus OAuth2 scopes, accumulated down the tree into `ctx.securityScopes`. */
export function Security<T, Name extends string> (dep: SchemeDependency<T, Name>, scopes?: readonly string[], options?: UseOptions): SchemeUse<T, Name>
export function Security<T> (dep: Dependency<T>, scopes?: readonly string[], options?: UseOptions): DependencyUse<T>
export function Security<T> (dep: Dependency<T>, scopes?: readonly string[], options?: UseOptions): DependencyUse<T> {
  const dependency = checkDependency(dep, 'Security()')
  const opts = checkOptions(options, 'Security()')
  const where = `Security(${dependency.name})`
  if (scopes !== undefined && (!Array.isArray(scopes) || !scopes.every((s) => typeof s === 'string'))) {
    throw new DependencyInvalidError(`${where}: scopes must be an array of strings, got ${describeValue(scopes)}`)
  }
  const use: DependencyUse<T> = {
    [kDependencyUse]: {
      dependency,
      useCache: checkUseCache(opts.useCache, where),
      scope: checkScope(opts.scope, where),
      scopes: scopes === undefined || scopes.length === 0 ? EMPTY_SCOPES : Object.freeze([...scopes])
    }
  }
  const schemeName = (dependency as Partial<SchemeDependency>)[kSchemeName]
  return schemeName === undefined ? use : { ...use, [kSchemeName]: schemeName } as DependencyUse<T>
}
