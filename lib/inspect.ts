import type { Plan, Step, TreeNode } from './plan'

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
  } else if (step.kind !== 0) {
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

/** Each route's tree as text: resolution order (#n), scopes, shared (cached) nodes, parameters and schemes. */
export function printPlans (plans: readonly Plan[], options: PrintDependenciesOptions = {}): string {
  const lines: string[] = []
  for (const plan of plans) {
    if (options.route !== undefined && plan.route !== options.route && plan.route.slice(plan.route.indexOf(' ') + 1) !== options.route) continue
    lines.push(plan.route)
    printNodes(plan, plan.tree, '', lines)
  }
  return lines.join('\n') + (lines.length > 0 ? '\n' : '')
}
