// `npm run bench` (full: a few minutes, goals checked) and `npm run bench:quick` (CI smoke: a few
// seconds, numbers printed but never asserted). Options: --processes=N (fresh sets of server
// processes, each timed for --rounds) --rounds=N --duration=S --warmup=S
// --connections=N --only=W1,W2 --no-macro --no-micro --no-assert --json=FILE --dist (the (b)
// servers load fastify-depends from dist/, the tsc build users run: `npm run build` first)
// --max-other-load=CORES --retries=N (a round during which other processes used more than CORES
// of CPU is repeated, N repeats at most per group: this machine may be shared) --rate=N (a fixed
// N requests per second instead of as many as possible: on a shared machine, server CPU per
// request at a rate every server sustains compares the implementations best).
import { execFileSync, fork } from 'node:child_process'
import { once } from 'node:events'
import { existsSync, readdirSync, statSync, writeFileSync } from 'node:fs'
import { cpus, loadavg, totalmem } from 'node:os'
import { join } from 'node:path'
import { GROUPS, runGroup, type GroupResult, type TargetResult } from './macro'
import type { CompileResult } from './micro/compile'
import type { HeapResult } from './micro/heap'
import type { ResolverResult } from './micro/resolver'
import { fixed, int, median, mib, ns, percent, table } from './report'

interface Options {
  readonly quick: boolean
  readonly rounds: number
  readonly processes: number
  readonly duration: number
  readonly warmup: number
  readonly connections: number
  readonly groups: readonly string[] | undefined
  readonly macro: boolean
  readonly micro: boolean
  readonly assert: boolean
  readonly json: string | undefined
  readonly dist: boolean
  readonly maxForeign: number
  readonly retries: number
  readonly rate: number | undefined
}

function parseOptions (argv: readonly string[]): Options {
  const value = (name: string): string | undefined => argv.find((arg) => arg.startsWith(`--${name}=`))?.slice(name.length + 3)
  const number = (name: string, fallback: number): number => {
    const raw = value(name)
    const parsed = raw === undefined ? fallback : Number(raw)
    if (!Number.isFinite(parsed) || parsed < 0) throw new Error(`--${name} must be a non-negative number`)
    return parsed
  }
  const quick = argv.includes('--quick')
  return {
    quick,
    rounds: number('rounds', quick ? 1 : 4),
    processes: Math.max(1, number('processes', quick ? 1 : 4)),
    // autocannon runs for whole seconds.
    duration: number('duration', quick ? 1 : 3),
    warmup: number('warmup', quick ? 0 : 3),
    connections: number('connections', 10),
    groups: value('only')?.split(',').map((g) => g.trim().toUpperCase()),
    macro: !argv.includes('--no-macro'),
    micro: !argv.includes('--no-micro'),
    assert: !quick && !argv.includes('--no-assert'),
    json: value('json'),
    dist: argv.includes('--dist'),
    maxForeign: number('max-other-load', 0.25),
    retries: quick ? 0 : number('retries', 5),
    rate: value('rate') === undefined ? undefined : number('rate', 0)
  }
}

function log (line: string): void {
  process.stderr.write(`${line}\n`)
}

const distEntry = join(__dirname, '..', 'dist', 'lib', 'index.js')

function newestSource (dir: string): number {
  let newest = 0
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name)
    newest = Math.max(newest, entry.isDirectory() ? newestSource(path) : statSync(path).mtimeMs)
  }
  return newest
}

/** What dist/ holds: absent, or built before the last change to lib/. */
function buildState (): 'absent' | 'stale' | 'current' {
  if (!existsSync(distEntry)) return 'absent'
  return statSync(distEntry).mtimeMs < newestSource(join(__dirname, '..', 'lib')) ? 'stale' : 'current'
}

function machine (): string {
  // BENCH_COMMIT names the version when the checkout is not a git repository (an exported snapshot).
  let commit = process.env.BENCH_COMMIT ?? 'unknown'
  if (process.env.BENCH_COMMIT === undefined) {
    try {
      commit = execFileSync('git', ['describe', '--always', '--dirty'], { cwd: join(__dirname, '..'), encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim()
    } catch {}
  }
  const cpu = cpus()
  return `${new Date().toISOString().slice(0, 10)}, ${cpu[0]?.model ?? 'unknown CPU'} (${cpu.length} cores), ${(totalmem() / 2 ** 30).toFixed(0)} GiB, Node ${process.version}, commit ${commit}`
}

async function micro<T> (name: string, quick: boolean, execArgv: readonly string[] = [], build: 'lib' | 'dist' = 'lib'): Promise<T> {
  const child = fork(join(__dirname, 'micro', 'child.ts'), [name, ...(quick ? ['--quick'] : [])], {
    execArgv: ['--import', 'tsx', ...execArgv],
    env: { ...process.env, BENCH_FASTIFY_DEPENDS: build },
    stdio: ['ignore', 'inherit', 'inherit', 'ipc']
  })
  const [message] = await Promise.race([
    once(child, 'message') as Promise<[{ result?: T, error?: string }]>,
    once(child, 'exit').then(([code]) => { throw new Error(`micro benchmark ${name} exited with ${code}`) })
  ])
  if (message.error !== undefined) throw new Error(`micro benchmark ${name} failed: ${message.error}`)
  await once(child, 'exit')
  return message.result as T
}

interface Goal {
  readonly what: string
  readonly measured: string
  readonly met: boolean
  /** Shown, never asserted. */
  readonly informational?: boolean
}

function macroTable (groups: readonly GroupResult[]): string {
  const rows: string[][] = []
  for (const { results } of groups) {
    const reference = median(results[0].samples.map((s) => s.rps))
    const referenceCpu = median(results[0].samples.map((s) => s.cpuPerRequest))
    for (const { target, samples } of results) {
      const rps = median(samples.map((s) => s.rps))
      const paired = median(samples.map((s, i) => s.rps / results[0].samples[i].rps))
      const cpu = median(samples.map((s) => s.cpuPerRequest))
      const failures = samples.reduce((sum, s) => sum + s.failures, 0)
      rows.push([
        target.id, target.label, int(rps), fixed(median(samples.map((s) => s.p99)), 0),
        fixed(rps / reference, 3), fixed(paired, 3), fixed(cpu, 1), percent(cpu / referenceCpu - 1),
        fixed(median(samples.map((s) => s.foreign)), 2),
        samples.map((s) => int(s.rps)).join(' ') + (failures > 0 ? ` (${failures} failed)` : '')
      ])
    }
  }
  return table(
    ['workload', 'implementation', 'req/s (median)', 'p99 ms', 'vs (a)', 'paired', 'server CPU µs/req', 'CPU vs (a)', 'other load', 'rounds (req/s)'],
    rows, [false, false, true, true, true, true, true, true, true, false])
}

function find (groups: readonly GroupResult[], id: string): TargetResult | undefined {
  return groups.flatMap((g) => g.results).find((r) => r.target.id === id)
}

function medianRps (groups: readonly GroupResult[], id: string): number | undefined {
  const found = find(groups, id)
  return found === undefined ? undefined : median(found.samples.map((s) => s.rps))
}

function medianCpu (groups: readonly GroupResult[], id: string): number | undefined {
  const found = find(groups, id)
  return found === undefined ? undefined : median(found.samples.map((s) => s.cpuPerRequest))
}

function macroGoals (groups: readonly GroupResult[]): Goal[] {
  const goals: Goal[] = []
  const a = medianRps(groups, 'W1 a')
  const b = medianRps(groups, 'W1 b')
  const c = medianRps(groups, 'W1 c')
  const d = medianRps(groups, 'W1 d')
  const w3 = medianRps(groups, 'W3 b')
  if (a !== undefined && b !== undefined) goals.push({ what: 'W1 (b)/(a) >= 0.97', measured: fixed(b / a, 3), met: b / a >= 0.97 })
  const cpuA = medianCpu(groups, 'W1 a')
  const cpuB = medianCpu(groups, 'W1 b')
  if (cpuA !== undefined && cpuB !== undefined) {
    goals.push({ what: 'W1 (b)/(a) by server CPU per request, (a)/(b)', measured: fixed(cpuA / cpuB, 3), met: cpuA / cpuB >= 0.97, informational: true })
  }
  if (b !== undefined && w3 !== undefined) goals.push({ what: 'W3 within 2% of W1 (b)', measured: percent(w3 / b - 1), met: w3 / b >= 0.98 })
  if (b !== undefined && c !== undefined) goals.push({ what: '(b) ahead of (c) @fastify/awilix', measured: `${fixed(b / c, 2)}x`, met: b > c })
  if (b !== undefined && d !== undefined) goals.push({ what: '(b) ahead of (d) NestJS', measured: `${fixed(b / d, 2)}x`, met: b > d })
  for (const group of groups) {
    for (const { target, samples } of group.results) {
      const failures = samples.reduce((sum, s) => sum + s.failures, 0)
      if (failures > 0) goals.push({ what: `${target.id}: every timed response is a 2xx`, measured: `${failures} failed`, met: false })
    }
  }
  return goals
}

async function main (): Promise<void> {
  const options = parseOptions(process.argv.slice(2))
  const build = buildState()
  if (options.dist && build === 'absent') throw new Error('--dist needs the build: npm run build')
  const started = Date.now()
  const out: string[] = []
  const print = (text: string): void => { out.push(text); console.log(text) }
  const goals: Goal[] = []
  const json: Record<string, unknown> = { machine: machine(), options }

  print(`# fastify-depends benchmarks${options.quick ? ' (quick: numbers are not meaningful)' : ''}\n`)
  print(`${machine()}\n`)
  if (build === 'stale') print('Note: dist/ is older than lib/: the measurements of the build are out of date (npm run build).\n')
  const loadAtStart = loadavg()[0]

  if (options.macro) {
    const groups: GroupResult[] = []
    for (const group of GROUPS) {
      if (options.groups !== undefined && !options.groups.some((g) => group.name.toUpperCase().includes(g))) continue
      groups.push(await runGroup(group, { ...options, log }))
    }
    const pace = options.rate === undefined ? 'as fast as possible' : `at a fixed ${int(options.rate)} req/s`
    print(`## HTTP: ${options.connections} connections ${pace}; ${options.processes} set(s) of fresh server processes, each warmed up for ${options.warmup} s, then ${options.rounds} round(s) of ${options.duration} s per server, alternating\n`)
    print(`fastify-depends loaded from ${options.dist ? 'dist/ (the tsc build)' : 'lib/ through tsx'}.\n`)
    print(macroTable(groups))
    print('\n"vs (a)": ratio of medians to the first row of the group; "paired": median of the per-round ratios; ' +
      '"server CPU": user + system time of the server process per request, which other load on the machine disturbs less than req/s; ' +
      `"other load": median CPU (in cores) other processes used during its rounds (rounds above ${options.maxForeign} were repeated, ${options.retries} repeats at most per group).` +
      ` Load average: ${fixed(loadAtStart, 2)} at the start, ${fixed(loadavg()[0], 2)} at the end of the HTTP runs.\n`)
    goals.push(...macroGoals(groups))
    json.macro = groups.map(({ group, results }) => ({ group: group.name, results: results.map(({ target, samples }) => ({ id: target.id, label: target.label, samples })) }))
  }

  if (options.micro) {
    // One after the other, each alone on the machine; in quick mode all at once (numbers do not matter).
    const inTurn = async <T>(tasks: readonly (() => Promise<T>)[]): Promise<T[]> => {
      if (options.quick) return await Promise.all(tasks.map(async (task) => await task()))
      const results: T[] = []
      for (const task of tasks) results.push(await task())
      return results
    }
    log('micro: resolver, plan compilation, heap')
    const resolverBuilds: ('lib' | 'dist')[] = build === 'absent' || options.quick ? ['lib'] : ['lib', 'dist']
    const runResolvers = async (): Promise<ResolverResult[]> => await inTurn(resolverBuilds.map((b) => async () => await micro<ResolverResult>('resolver', options.quick, [], b)))
    const runCompile = async (): Promise<CompileResult> => await micro<CompileResult>('compile', options.quick)
    const runHeaps = async (): Promise<HeapResult[]> => await inTurn([
      async () => await micro<HeapResult>('heap-hooks', options.quick, ['--expose-gc']),
      async () => await micro<HeapResult>('heap-depends', options.quick, ['--expose-gc'])
    ])
    let resolvers: ResolverResult[]
    let compile: CompileResult
    let heaps: HeapResult[]
    if (options.quick) {
      [resolvers, compile, heaps] = await Promise.all([runResolvers(), runCompile(), runHeaps()])
    } else {
      resolvers = await runResolvers()
      compile = await runCompile()
      heaps = await runHeaps()
    }
    json.micro = { resolvers, compile, heaps }

    const from = (r: ResolverResult): string => (r.build === 'dist' ? 'dist/ (tsc build)' : 'lib/ through tsx')
    print(`## Resolver, W2 (${resolvers[0].nodes} synchronous nodes), mitata\n`)
    print(table(['fastify-depends from', 'measured', 'avg', 'p50', 'p99'],
      resolvers.flatMap((r) => r.timings.map((t) => [from(r), t.name, ns(t.avg), ns(t.p50), ns(t.p99)])), [false, false, true, true, true]))
    print('')
    for (const r of resolvers) {
      print(`Per node over the direct calls, ${from(r)}: resolver ${ns(r.perNode.resolver)}, preHandler hook ${ns(r.perNode.hook)}, ` +
        `whole request via inject ${ns(r.perNode.inject)} (per-request costs included, divided by ${r.nodes}).`)
    }
    print(`\ntsx compiles each lib/ module to CommonJS with getter exports, so every cross-module call pays a getter; dist/ does not${build === 'stale' ? ' (dist/ is stale here)' : ''}.\n`)
    const resolver = resolvers[resolvers.length - 1]
    goals.push({ what: `per sync node <= 100 ns over a direct call (preHandler hook, ${from(resolver)})`, measured: ns(resolver.perNode.hook), met: resolver.perNode.hook <= 100 })

    print(`## Registration, ${compile.routes} routes (median of ${compile.runs})\n`)
    print(table(['measured', 'total', 'per route'], [
      ['compilePlan, W1 tree (7 nodes)', `${fixed(compile.planW1, 1)} ms`, ns(compile.planW1 * 1e6 / compile.routes)],
      ['compilePlan, W2 tree (20 nodes)', `${fixed(compile.planW2, 1)} ms`, ns(compile.planW2 * 1e6 / compile.routes)],
      ['app with W1 routes to ready(), (a) hand-written, one shared schema object', `${fixed(compile.appHooks, 1)} ms`, ns(compile.appHooks * 1e6 / compile.routes)],
      ['app with W1 routes to ready(), (a) hand-written, a schema object per route', `${fixed(compile.appHooksFreshSchemas, 1)} ms`, ns(compile.appHooksFreshSchemas * 1e6 / compile.routes)],
      ['app with W1 routes to ready(), (b) fastify-depends', `${fixed(compile.appDepends, 1)} ms`, ns(compile.appDepends * 1e6 / compile.routes)]
    ], [false, true, true]))
    print('')

    print('## Heap used after W1 requests (app.inject, GC forced)\n')
    print(table(['implementation', 'baseline', `after ${int(heaps[0].first)}`, `after ${int(heaps[0].second)}`, 'growth', 'µs/request (inject)'],
      heaps.map((h) => [
        h.implementation === 'depends' ? '(b) fastify-depends' : '(a) hand-written hooks',
        mib(h.baseline), mib(h.afterFirst), mib(h.afterSecond), percent(h.growth), fixed(h.microsPerRequest, 2)
      ]),
      [false, true, true, true, true, true]))
    print('')
    const depends = heaps[1]
    goals.push({ what: `heap growth ${int(depends.first)} -> ${int(depends.second)} requests <= 5% (b)`, measured: percent(depends.growth), met: depends.growth <= 0.05 })
  }

  if (goals.length > 0) {
    print('## Goals\n')
    print(table(['goal', 'measured', ''], goals.map((g) => [g.what, g.measured, (g.met ? 'met' : 'MISSED') + (g.informational === true ? ' (not asserted)' : '')]), [false, true, false]))
    print('')
  }
  print(`(${((Date.now() - started) / 1000).toFixed(0)} s)`)
  if (options.json !== undefined) writeFileSync(options.json, JSON.stringify({ ...json, goals, report: out.join('\n') }, null, 2))
  const missed = goals.filter((g) => !g.met && g.informational !== true)
  if (options.assert && missed.length > 0) {
    console.error(`\n${missed.length} goal(s) missed: ${missed.map((g) => g.what).join('; ')}`)
    process.exitCode = 1
  }
}

main().catch((err: unknown) => {
  console.error(err)
  process.exitCode = 1
})
