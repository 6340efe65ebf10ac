// fastify-depends as the (b) servers load it: lib/ through tsx by default. With
// BENCH_FASTIFY_DEPENDS=dist they load the tsc build (dist/lib, `npm run build` first), which is
// what users run: tsx compiles each lib/ module to CommonJS whose exports are getters, and every
// call across modules (`import_cleanup.unwind(...)`) goes through one, a cost the build does not have.
import { createRequire } from 'node:module'
import * as source from '../../lib/index'
import * as plan from '../../lib/compile/plan'
import * as appScope from '../../lib/run/app-scope'
import * as requestState from '../../lib/run/request-state'
import * as resolve from '../../lib/run/resolve'
import * as symbols from '../../lib/symbols'

export type FastifyDependsModule = typeof source

export const fromBuild = process.env.BENCH_FASTIFY_DEPENDS === 'dist'

const load = createRequire(__filename)

export const lib: FastifyDependsModule = fromBuild ? load('../../dist/lib/index.js') : source

/** The request path's internals, for the micro benchmarks, from the same place as `lib`. */
export const internals: {
  readonly plan: typeof plan
  readonly appScope: typeof appScope
  readonly requestState: typeof requestState
  readonly resolve: typeof resolve
  readonly symbols: typeof symbols
} = fromBuild
  ? {
      plan: load('../../dist/lib/compile/plan.js'),
      appScope: load('../../dist/lib/run/app-scope.js'),
      requestState: load('../../dist/lib/run/request-state.js'),
      resolve: load('../../dist/lib/run/resolve.js'),
      symbols: load('../../dist/lib/symbols.js')
    }
  : { plan, appScope, requestState, resolve, symbols }
