import type { FastifyRequest } from 'fastify'
import {
  DependencyKind, describeValue, isDependency, toUse, type Dependency, type DependencyDefinition, type DependencyUseInternals
} from '../define/dependency'
import { httpError } from '../define/http-error'
import { DependencyInvalidError } from '../errors'
import { kDependency } from '../symbols'
import type { SchemeDependency, SchemeUse, SchemeValue } from './scheme'

/** Options of `anyOf()`: `autoError: false` gives `undefined` instead of 401 when no alternative is usable. */
export interface AnyOfOptions<AutoError extends boolean = boolean> {
  autoError?: AutoError
}

type Alternative = SchemeDependency<any, string> | SchemeUse<any, string>

/** `{ scheme, value }` for each alternative: narrowing on `scheme` gives that scheme's value type. */
export type AnyOfValue<A extends readonly unknown[]> = {
  [K in keyof A]: A[K] extends SchemeDependency<infer T, infer N> | SchemeUse<infer T, infer N>
    ? { readonly scheme: N, readonly value: Exclude<T, undefined> }
    : never
}[number]

/** What the compiler and the OpenAPI contribution read from an `anyOf()` (DESIGN §15). */
export interface AlternativesSpec {
  /** The alternatives as given: schemes or `Security()` uses of them, in order. */
  readonly uses: readonly DependencyUseInternals[]
}

// One probe per scheme, shared by every anyOf() that holds it.
const probes = new WeakMap<Dependency, Dependency>()

/**
 * The scheme as an alternative: its value when the request carries usable credentials (what it
 * gives with `autoError: false`), else `undefined`; one that refuses even then (HTTPBasic's
 * malformed header) is just not usable. Overriding the scheme overrides its probe too.
 */
function probeOf (scheme: Dependency): Dependency {
  const known = probes.get(scheme)
  if (known !== undefined) return known
  const definition = scheme[kDependency]
  const spec = definition.scheme as NonNullable<DependencyDefinition['scheme']>
  const probe: Dependency = {
    name: scheme.name,
    [kDependency]: {
      ...definition,
      fn: (_inputs: unknown, { request }: { request: FastifyRequest }) => {
        try {
          return spec.read(request, false)
        } catch {
          return undefined
        }
      },
      probeOf: scheme
    }
  }
  probes.set(scheme, probe)
  return probe
}

function alternativeUse (value: unknown, position: number): DependencyUseInternals {
  const use = toUse(value)
  if (use === undefined || use.dependency[kDependency].scheme === undefined) {
    const got = use === undefined ? describeValue(value) : `the dependency "${use.dependency.name}"`
    throw new DependencyInvalidError(`anyOf(): alternative ${position + 1} must be a security scheme (HTTPBearer(), APIKeyHeader(), ...) or Security() of one, got ${got}`)
  }
  return use
}

/**
 * A dependency satisfied by the first of `alternatives`, in order, that finds usable credentials:
 * `{ scheme: schemeName, value }`. None: 401 with every scheme's challenge, or `undefined` with
 * `{ autoError: false }`. Runs in onRequest like the schemes it holds.
 */
export function anyOf<const A extends readonly Alternative[]> (...alternatives: A): Dependency<AnyOfValue<A>>
export function anyOf<const A extends readonly Alternative[], AutoError extends boolean> (...args: [...alternatives: A, options: AnyOfOptions<AutoError>]): Dependency<SchemeValue<AnyOfValue<A>, AutoError>>
export function anyOf (...args: unknown[]): Dependency {
  const last = args[args.length - 1]
  const hasOptions = args.length > 0 && typeof last === 'object' && last !== null && toUse(last) === undefined && !isDependency(last)
  const options = (hasOptions ? args.pop() : {}) as AnyOfOptions
  if (options.autoError !== undefined && typeof options.autoError !== 'boolean') {
    throw new DependencyInvalidError(`anyOf(): autoError must be a boolean, got ${describeValue(options.autoError)}`)
  }
  if (args.length === 0) throw new DependencyInvalidError('anyOf() needs at least one security scheme')
  const uses = args.map(alternativeUse)
  const autoError = options.autoError ?? true
  const schemeNames = uses.map((use) => (use.dependency[kDependency].scheme as NonNullable<DependencyDefinition['scheme']>).schemeName)
  const challenges = [...new Set(uses.map((use) => (use.dependency[kDependency].scheme as NonNullable<DependencyDefinition['scheme']>).challenge))]
  const name = `anyOf(${schemeNames.join(', ')})`
  const inputNames = uses.map((_use, i) => String(i))
  const inputUses: DependencyUseInternals[] = uses.map((use) => ({ ...use, dependency: probeOf(use.dependency) }))
  const choose = (inputs: Record<string, unknown>): unknown => {
    for (let i = 0; i < schemeNames.length; i++) {
      const value = inputs[i]
      if (value !== undefined) return { scheme: schemeNames[i], value }
    }
    if (autoError) throw httpError(401, 'Not authenticated', { 'www-authenticate': challenges })
    return undefined
  }
  const definition: DependencyDefinition = {
    fn: choose,
    kind: DependencyKind.Plain,
    name,
    inputNames,
    inputUses,
    useCache: undefined,
    scope: undefined,
    usesScopes: true,
    responses: undefined,
    alternatives: { uses }
  }
  return { name, [kDependency]: definition }
}
