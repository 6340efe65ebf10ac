import {
  DependencyKind, describeValue, toUse, type DependencyKindValue,
  type Dependency, type DependencyDefinition, type DependencyUseInternals, type SecurityScopes
} from '../define/dependency'
import {
  AppScopeCacheError, DuplicateDependencyNameError, EntryIsPlainFunctionError, EntryNotADependencyError, ListIsOneDependencyError,
  ListIsPlainFunctionError, ListTypeError, ProtoDependencyNameError, RouteCycleError, RouteScopeError
} from '../errors'
import type { ParamUse } from '../params/params'
import { EMPTY_DEPS } from '../run/request-state'
import { NO_SCOPES, addScopes, scopesObject } from '../security/scopes'
import { kDependency } from '../symbols'
import type { AppCell, AppScope } from '../run/app-scope'

/** One dependency of a route's tree, as the request path needs it. */
export interface Step {
  readonly fn: DependencyDefinition['fn']
  readonly kind: DependencyKindValue
  readonly name: string
  /** Builds the `inputs` record from the slots array. */
  readonly buildInputs: (slots: unknown[]) => object
  /** Steps whose values this step needs (for parallel resolution). */
  readonly inputSteps: readonly number[]
  /** Its generator is finalized before the response is written. */
  readonly functionScope: boolean
  readonly securityScopes: SecurityScopes
  /** The (effective) definition, for introspection. */
  readonly definition: DependencyDefinition
  /** A security scheme: reads only raw request data, so it runs in onRequest. */
  readonly early: boolean
  /** An app-scoped dependency: `fn` reads its app-wide value (lib/run/app-scope.ts). */
  readonly appScoped: boolean
}

/** A route's dependency tree, flattened in resolution order. Step `i` writes slot `i`. */
export interface Plan {
  readonly steps: readonly Step[]
  /** The security schemes, run in onRequest (FastAPI's order does not matter for them: they only read). */
  readonly early: readonly number[]
  /** The other steps, in resolution order; every step when onRequest did not run the early ones. */
  readonly late: readonly number[]
  readonly all: readonly number[]
  readonly buildDeps: (slots: unknown[]) => Record<string, unknown>
  readonly parallel: boolean
  /** Dependency names in resolution order, for errors and introspection. */
  readonly names: readonly string[]
  /** Every request parameter of the tree, for the route's schema. */
  readonly params: readonly ParamUse[]
  readonly tree: readonly TreeNode[]
  readonly route: string
  /** Time every dependency for a `Server-Timing` header. */
  readonly serverTiming: boolean
  /**
   * Some step is a generator or an app-scoped value: requests are tracked until their cleanups ran
   * (close() waits for them before it finalizes the app scope).
   */
  readonly tracked: boolean
  /** The app-scoped dependencies the plan reads, started during ready(). */
  readonly appCells: readonly AppCell[]
}

/** How the tree looked when compiled, for `printDependencies()`: each use of a dependency. */
export interface TreeNode {
  /** The step that provides the value. */
  slot: number
  /** A cache hit: the value comes from an earlier node. */
  cached: boolean
  /** The name under `request.deps`, for roots of a record. */
  readonly as: string | undefined
  readonly children: TreeNode[]
}

export interface RootEntry {
  /** Where the value lands on `request.deps`; `undefined` for list entries (run for effect). */
  readonly name: string | undefined
  readonly use: DependencyUseInternals
}

/** Turns a `dependencies` record or list into root entries; `where` names it in errors. */
export function normalizeDependencyList (list: unknown, where: string): RootEntry[] {
  if (list === undefined || list === null) return []
  if (typeof list === 'function') throw new ListIsPlainFunctionError(where, describeValue(list), list.name || 'fn')
  if (typeof list !== 'object') throw new ListTypeError(where, describeValue(list))
  // `dependencies: currentUser` would otherwise read the dependency's own fields as entries
  const single = toUse(list)
  if (single !== undefined) {
    const name = single.dependency.name
    throw new ListIsOneDependencyError(where, name, name, name)
  }
  const entries: RootEntry[] = []
  const named = !Array.isArray(list)
  const keys = Object.keys(list)
  for (const key of keys) {
    const value = (list as Record<string, unknown>)[key]
    const use = toUse(value)
    if (use === undefined) {
      const label = named ? `"${key}"` : `[${key}]`
      if (typeof value === 'function') throw new EntryIsPlainFunctionError(where, label, describeValue(value), value.name || 'fn')
      throw new EntryNotADependencyError(where, label, describeValue(value))
    }
    if (named && key === '__proto__') throw new ProtoDependencyNameError(where)
    entries.push({ name: named ? key : undefined, use })
  }
  return entries
}

const EMPTY_INPUTS = Object.freeze({})

function emptyInputs (): object {
  return EMPTY_INPUTS
}

function emptyDeps (): Record<string, unknown> {
  return EMPTY_DEPS
}

// A literal object of known shape is the cheapest thing V8 can build per request, so the
// inputs record and request.deps are built by generated functions, like fast-json-stringify does.
// One function per shape: routes with the same tree (a GET and its HEAD, overrides recompiling) share it.
const recordBuilders = new Map<string, (slots: unknown[]) => any>()
function compileRecordBuilder (names: readonly string[], slots: readonly number[]): (slots: unknown[]) => any {
  const fields = names.map((name, i) => `${JSON.stringify(name)}: s[${slots[i]}]`)
  const source = `return { ${fields.join(', ')} }`
  let builder = recordBuilders.get(source)
  if (builder === undefined) {
    // eslint-disable-next-line no-new-func
    builder = new Function('s', source) as (slots: unknown[]) => any
    recordBuilders.set(source, builder)
  }
  return builder
}

/** A dependency "uses scopes" (FastAPI B23) when it or anything below it declares or reads them. */
function usesScopes (definition: DependencyDefinition, memo: Map<DependencyDefinition, boolean>): boolean {
  let result = memo.get(definition)
  if (result !== undefined) return result
  result = definition.usesScopes
  for (const input of definition.inputUses) {
    if (result) break
    result = input.scopes.length > 0 || usesScopes(input.dependency[kDependency], memo)
  }
  memo.set(definition, result)
  return result
}

const ids = new WeakMap<Dependency, number>()
let nextId = 0
function identity (dep: Dependency): number {
  let id = ids.get(dep)
  if (id === undefined) {
    id = nextId++
    ids.set(dep, id)
  }
  return id
}

/**
 * Compiles a route's roots into a flat plan. Every registration error (cycles, scope
 * violations, name clashes) is raised here, naming the route.
 */
export function compilePlan (
  route: string,
  roots: readonly RootEntry[],
  overrides: ReadonlyMap<Dependency, Dependency>,
  parallel: boolean,
  serverTiming: boolean,
  appScope: AppScope
): Plan {
  const steps: Step[] = []
  const names: string[] = []
  // reaches[i]: step i is function-scoped, or a plain dependency that needs one (FastAPI B9, extended through plain nodes)
  const reaches: boolean[] = []
  const cache = new Map<string, number>()
  const usesScopesMemo = new Map<DependencyDefinition, boolean>()
  const path: Dependency[] = []
  const params: ParamUse[] = []
  const labels: string[] = []
  const tree: TreeNode[] = []
  const appCells: AppCell[] = []
  let siblings = tree

  function compileUse (use: DependencyUseInternals, parentScopes: readonly string[], parent: string, as?: string): number {
    const node: TreeNode = { slot: -1, cached: false, as, children: [] }
    siblings.push(node)
    const original = use.dependency
    const originalDef = original[kDependency]
    // anyOf()'s probe of a scheme follows the scheme's override.
    const effective = overrides.get(original) ?? (originalDef.probeOf === undefined ? undefined : overrides.get(originalDef.probeOf)) ?? original
    const definition = effective[kDependency]
    const scopes = addScopes(parentScopes, use.scopes)
    const declaredScope = use.scope ?? originalDef.scope
    const keyScope = declaredScope ?? (originalDef.kind === DependencyKind.Plain ? '' : 'request')
    const keyScopes = use.scopes.length > 0 || usesScopes(originalDef, usesScopesMemo)
      ? [...new Set(scopes)].sort().join(' ')
      : ''
    const key = `${identity(original)}|${keyScope}|${keyScopes}`
    const useCache = use.useCache ?? originalDef.useCache ?? true
    const cached = cache.get(key)
    if (useCache && cached !== undefined) {
      node.slot = cached
      node.cached = true
      return cached
    }

    if (declaredScope === 'app') {
      if (useCache === false) throw new AppScopeCacheError(original.name)
      return appStep(effective, definition, node, key)
    }

    const label = effective === original ? `"${original.name}"` : `"${original.name}" (overridden by "${definition.name}")`
    const seen = path.indexOf(effective)
    if (seen !== -1) {
      const chain = [...labels.slice(seen), label].join(' -> ')
      throw new RouteCycleError(route, chain)
    }
    path.push(effective)
    labels.push(label)
    const outer = siblings
    siblings = node.children
    const inputSlots = definition.inputUses.map((input) => compileUse(input, scopes, definition.name))
    siblings = outer
    path.pop()
    labels.pop()

    // An override keeps the original's scope (DESIGN §7): only the use site and the original decide it.
    const runScope = declaredScope ?? 'request'
    const isGenerator = definition.kind !== DependencyKind.Plain
    if (isGenerator && runScope === 'request') {
      const offending = inputSlots.findIndex((slot) => reaches[slot])
      if (offending !== -1) {
        throw new RouteScopeError(definition.name, route, definition.inputNames[offending], steps[inputSlots[offending]].name)
      }
    }

    const slot = steps.length
    steps.push({
      fn: definition.fn,
      kind: definition.kind,
      name: definition.name,
      buildInputs: inputSlots.length === 0 ? emptyInputs : compileRecordBuilder(definition.inputNames, inputSlots),
      inputSteps: inputSlots,
      functionScope: isGenerator && runScope === 'function',
      securityScopes: scopesObject(scopes),
      definition,
      // Schemes, and anyOf() over schemes, read only raw request data: they run in onRequest.
      early: (definition.scheme !== undefined || definition.alternatives !== undefined) && inputSlots.every((input) => steps[input].early),
      appScoped: false
    })
    names.push(definition.name)
    reaches.push(keyScope === 'function' || (!isGenerator && inputSlots.some((s) => reaches[s])))
    node.slot = slot
    if (cached === undefined) cache.set(key, slot)
    if (definition.param !== undefined) params.push({ spec: definition.param, declaredBy: parent })
    return slot
  }

  /** One value for the whole app: the step reads its cell; its inputs are the app scope's (checked there). */
  function appStep (effective: Dependency, definition: DependencyDefinition, node: TreeNode, key: string): number {
    const cell = appScope.cellFor(effective, overrides)
    if (!appCells.includes(cell)) appCells.push(cell)
    const slot = steps.length
    steps.push({
      fn: cell.read,
      kind: DependencyKind.Plain,
      name: definition.name,
      buildInputs: emptyInputs,
      inputSteps: [],
      functionScope: false,
      securityScopes: NO_SCOPES,
      definition,
      early: false,
      appScoped: true
    })
    names.push(definition.name)
    reaches.push(false)
    node.slot = slot
    cache.set(key, slot)
    return slot
  }

  const outputNames: string[] = []
  const outputSlots: number[] = []
  for (const root of roots) {
    const slot = compileUse(root.use, NO_SCOPES.scopes, root.name === undefined ? 'the route' : `the route (${root.name})`, root.name)
    if (root.name !== undefined) {
      if (outputNames.includes(root.name)) {
        throw new DuplicateDependencyNameError(route, root.name)
      }
      outputNames.push(root.name)
      outputSlots.push(slot)
    }
  }
  const all = steps.map((_step, i) => i)
  return {
    steps,
    early: all.filter((i) => steps[i].early),
    late: all.filter((i) => !steps[i].early),
    all,
    buildDeps: outputNames.length === 0 ? emptyDeps : compileRecordBuilder(outputNames, outputSlots),
    parallel,
    names,
    params,
    tree,
    route,
    serverTiming,
    tracked: appCells.length > 0 || steps.some((step) => step.kind !== DependencyKind.Plain),
    appCells
  }
}
