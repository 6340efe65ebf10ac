// Per-node resolver cost on W2 (20 synchronous nodes): the plugin's request path against the
// same 20 functions called by hand. Measured at three depths: the resolver alone (a RequestState
// and its slots), the preHandler hook the plugin installs, and whole requests via app.inject.
// From lib/ through tsx, or from dist/ with BENCH_FASTIFY_DEPENDS=dist (see servers/lib.ts).
import { setImmediate as yieldToLoop } from 'node:timers/promises'
import Fastify, { type FastifyReply, type FastifyRequest, type RouteOptions } from 'fastify'
import { buildDependsApp, w2RouteDeps } from '../servers/depends'
import { fromBuild, internals, lib } from '../servers/lib'
import { buildHooksApp } from '../servers/hooks'
import { W2_NODES, W2_PATH, w2Direct } from '../workloads/w2'
import { measurer, type Timing } from './measure'

const { plan: { compilePlan, normalizeDependencyList }, appScope: { AppScope }, requestState: { RequestState }, resolve: { resolveSequential }, symbols: { kRequestState } } = internals

export interface ResolverResult {
  /** Where fastify-depends was loaded from. */
  readonly build: 'lib' | 'dist'
  readonly nodes: number
  readonly timings: readonly Timing[]
  /** Nanoseconds per node over the direct calls, by level of measurement (averages; medians for inject). */
  readonly perNode: { readonly resolver: number, readonly hook: number, readonly inject: number }
}

type Hook = (request: FastifyRequest, reply: FastifyReply, done: (err?: unknown) => void) => void

/** The preHandler the plugin installs on the W2 route (the first one, as it prepends it). */
async function installedResolveHook (): Promise<Hook> {
  const app = Fastify({ logger: false })
  await app.register(lib.default)
  let hook: Hook | undefined
  app.addHook('onRoute', (options: RouteOptions) => {
    hook = (options.preHandler as Hook[])[0]
  })
  app.get(W2_PATH, { dependencies: w2RouteDeps() }, async (request) => request.deps)
  await app.ready()
  await app.close()
  if (typeof hook !== 'function') throw new Error('the plugin installed no preHandler')
  return hook
}

export async function run (quick: boolean): Promise<ResolverResult> {
  const time = await measurer(quick)
  const nodes = W2_NODES.length
  const plan = compilePlan(`GET ${W2_PATH}`, normalizeDependencyList(w2RouteDeps(), 'bench'), new Map(), false, false, new AppScope(Fastify()))
  if (plan.steps.length !== nodes) throw new Error(`expected ${nodes} steps, got ${plan.steps.length}`)
  const request = { [kRequestState]: null, headers: {} } as unknown as FastifyRequest & { [kRequestState]: unknown }
  const reply = {} as FastifyReply
  const hook = await installedResolveHook()
  const done = (err?: unknown): void => { if (err !== undefined) throw err }

  const expected = JSON.stringify(w2Direct())
  let resolved = false
  const markResolved = (): void => { resolved = true }
  const viaResolver = (): unknown => {
    resolved = false
    const state = new RequestState(plan, request, reply)
    resolveSequential(state, markResolved)
    if (!resolved) throw new Error('W2 must resolve synchronously')
    return state.deps
  }
  const viaHook = (): unknown => {
    request[kRequestState] = null
    hook(request, reply, done)
    return (request[kRequestState] as { deps: unknown }).deps
  }
  if (JSON.stringify(viaResolver()) !== expected || JSON.stringify(viaHook()) !== expected) throw new Error('W2 values differ')

  const direct = await time.time('direct calls (20 functions)', w2Direct)
  const resolver = await time.time('resolver: RequestState + resolveSequential (builds deps)', viaResolver)
  const preHandler = await time.time('preHandler hook (createResolveHook)', viaHook)

  const hooksApp = await buildHooksApp('w2')
  const dependsApp = await buildDependsApp('w2')
  await Promise.all([hooksApp.ready(), dependsApp.ready()])
  // Batches of 100 requests and a turn of the event loop (DESIGN §12), reported per request.
  const perRequest = (timing: Timing): Timing => ({ name: timing.name, avg: timing.avg / 100, p50: timing.p50 / 100, p99: timing.p99 / 100 })
  const batch = (app: typeof hooksApp) => async (): Promise<void> => {
    for (let i = 0; i < 100; i++) await app.inject({ url: W2_PATH })
    await yieldToLoop()
  }
  for (let i = 0; i < 20; i++) {
    await batch(hooksApp)()
    await batch(dependsApp)()
  }
  const bare = perRequest(await time.time('app.inject, (a) hand-written preHandler, per request', batch(hooksApp)))
  const plugin = perRequest(await time.time('app.inject, (b) fastify-depends, per request', batch(dependsApp)))
  await Promise.all([hooksApp.close(), dependsApp.close()])

  return {
    build: fromBuild ? 'dist' : 'lib',
    nodes,
    timings: [direct, resolver, preHandler, bare, plugin],
    perNode: {
      resolver: (resolver.avg - direct.avg) / nodes,
      hook: (preHandler.avg - direct.avg) / nodes,
      inject: (plugin.p50 - bare.p50) / nodes
    }
  }
}
