import { describeValue, isDependency, type Dependency } from '../define/dependency'
import { ResolveBeforeReadyError, ResolveNotAppScopedError, ResolveWhileClosingError } from '../errors'
import type { AppCell } from '../run/app-scope'
import { kDependency } from '../symbols'
import { compilePlan } from './plan'
import type { Registry } from './route'

/** The app-scoped dependencies ready() starts: those of every route's plan and of the plugin's own `dependencies`. */
export function appCellsInUse (registry: Registry): Set<AppCell> {
  const cells = new Set<AppCell>()
  for (const route of registry.routes) for (const cell of route.plan.appCells) cells.add(cell)
  if (registry.pluginRoots.length > 0) {
    const plan = compilePlan('fastify-depends options', registry.pluginRoots, registry.overrides.normalized, false, false, registry.appScope)
    for (const cell of plan.appCells) cells.add(cell)
  }
  return cells
}

/** `app.resolveDependency(dep)`: an app-scoped value outside a request, started on first need. */
export async function resolveAppValue (registry: Registry, dependency: unknown): Promise<unknown> {
  if (!isDependency(dependency) || dependency[kDependency].scope !== 'app') {
    const got = isDependency(dependency) ? `"${dependency.name}" with scope "${dependency[kDependency].scope ?? 'request'}"` : describeValue(dependency)
    throw new ResolveNotAppScopedError(got)
  }
  const name = `"${dependency.name}"`
  if (!registry.ready) throw new ResolveBeforeReadyError(name)
  if (registry.appScope.closing) throw new ResolveWhileClosingError(name)
  const overrides = registry.overrides.normalized
  const cell = registry.appScope.cellFor((overrides.get(dependency) ?? dependency) as Dependency, overrides)
  return await cell.start()
}
