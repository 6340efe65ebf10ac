import { DependencyKind } from '../define/dependency'
import type { Plan, Step, TreeNode } from '../compile/plan'

export interface PrintDependenciesOptions {
  /** Only this route: `'GET /items'`, or a URL (every method). */
  route?: string
}

function describe (step: Step, index: number): string {
  const notes: string[] = [`#${index + 1}`]
  const { definition } = step
  if (definition.param !== undefined) {
    notes.push(definition.param.name === undefined ? 'body' : `${definition.param.in} "${definition.param.name}"`)
  } else if (definition.scheme !== undefined) {
    notes.push(`scheme ${definition.scheme.schemeName}`)
  } else if (step.appScoped) {
    notes.push('app scope')
  } else if (step.kind !== DependencyKind.Plain) {
    notes.push(step.functionScope ? 'function scope' : 'request scope')
  }
  if (step.securityScopes.scopes.length > 0) notes.push(`scopes: ${step.securityScopes.scopeStr}`)
  return notes.join(', ')
}

function printNodes (plan: Plan, nodes: readonly TreeNode[], indent: string, lines: string[]): void {
  nodes.forEach((node, i) => {
    const last = i === nodes.length - 1
    const step = plan.steps[node.slot]
    const label = `${node.as === undefined ? '' : `${node.as}: `}${step.name}`
    lines.push(`${indent}${last ? '└── ' : '├── '}${label}${node.cached ? ` (cached #${node.slot + 1})` : ` (${describe(step, node.slot)})`}`)
    printNodes(plan, node.children, indent + (last ? '    ' : '│   '), lines)
  })
}

// `GET /m`, `/m` or the label itself (`GET,POST /m` for a route declared with several methods).
function matches (label: string, route: string): boolean {
  const space = label.indexOf(' ')
  const url = label.slice(space + 1)
  if (route === url || route === label) return true
  const split = route.indexOf(' ')
  return route.slice(split + 1) === url && label.slice(0, space).split(',').includes(route.slice(0, split))
}

/** Each route's tree as text: resolution order (#n), scopes, shared (cached) nodes, parameters and schemes. */
export function printPlans (plans: readonly Plan[], options: PrintDependenciesOptions = {}): string {
  const lines: string[] = []
  for (const plan of plans) {
    if (options.route !== undefined && !matches(plan.route, options.route)) continue
    lines.push(plan.route)
    printNodes(plan, plan.tree, '', lines)
  }
  return lines.join('\n') + (lines.length > 0 ? '\n' : '')
}
