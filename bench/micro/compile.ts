// Registration cost: compiling 1,000 routes' plans, and declaring 1,000 W1 routes on an app
// with the plugin against the same routes written by hand (both up to ready()).
import Fastify from 'fastify'
import fastifyDepends from '../../lib/index'
import { compilePlan, normalizeDependencyList } from '../../lib/compile/plan'
import { AppScope } from '../../lib/run/app-scope'
import { w1Dependencies, w2RouteDeps } from '../servers/depends'
import { Type } from '@sinclair/typebox'
import { LIMIT, Pool, QUERYSTRING, SKIP } from '../workloads/w1'

export interface CompileResult {
  readonly routes: number
  /** Milliseconds for all routes (median of the runs). */
  readonly planW1: number
  readonly planW2: number
  readonly appHooks: number
  /** The same, with a new (equal) querystring schema object per route, as the plugin's merged schemas are. */
  readonly appHooksFreshSchemas: number
  readonly appDepends: number
  readonly runs: number
}

function median (values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b)
  const mid = sorted.length >> 1
  return sorted.length % 2 === 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2
}

function timePlans (routes: number, deps: object): number {
  const roots = normalizeDependencyList(deps, 'bench')
  const started = performance.now()
  for (let i = 0; i < routes; i++) compilePlan(`GET /items/${i}`, roots, new Map(), false, false, new AppScope(Fastify()))
  return performance.now() - started
}

async function timeApp (routes: number, withPlugin: boolean, freshSchemas = false): Promise<number> {
  const started = performance.now()
  const app = Fastify({ logger: false })
  const handler = async (): Promise<string> => 'ok'
  if (withPlugin) {
    await app.register(fastifyDepends)
    const { routeDeps } = w1Dependencies(new Pool())
    for (let i = 0; i < routes; i++) app.get(`/items/${i}`, { dependencies: routeDeps }, handler)
  } else {
    const preHandler = async (): Promise<void> => {}
    const onResponse = (_request: unknown, _reply: unknown, done: () => void): void => done()
    // Ajv caches compiled validators by schema object: one shared object compiles once.
    for (let i = 0; i < routes; i++) {
      const querystring = freshSchemas ? Type.Object({ skip: SKIP, limit: LIMIT }) : QUERYSTRING
      app.get(`/items/${i}`, { schema: { querystring }, preHandler, onResponse }, handler)
    }
  }
  await app.ready()
  const elapsed = performance.now() - started
  await app.close()
  return elapsed
}

export async function run (quick: boolean): Promise<CompileResult> {
  const routes = quick ? 100 : 1000
  const runs = quick ? 1 : 3
  // Warm the compiler and Fastify once, so that the runs measure steady-state registration.
  timePlans(routes, w1Dependencies(new Pool()).routeDeps)
  await timeApp(100, false)
  await timeApp(100, true)
  const planW1: number[] = []
  const planW2: number[] = []
  const appHooks: number[] = []
  const appHooksFreshSchemas: number[] = []
  const appDepends: number[] = []
  for (let r = 0; r < runs; r++) {
    planW1.push(timePlans(routes, w1Dependencies(new Pool()).routeDeps))
    planW2.push(timePlans(routes, w2RouteDeps()))
    appHooks.push(await timeApp(routes, false))
    appHooksFreshSchemas.push(await timeApp(routes, false, true))
    appDepends.push(await timeApp(routes, true))
  }
  return {
    routes,
    runs,
    planW1: median(planW1),
    planW2: median(planW2),
    appHooks: median(appHooks),
    appHooksFreshSchemas: median(appHooksFreshSchemas),
    appDepends: median(appDepends)
  }
}
