// Bytes allocated per request under HTTP load, a steadier before/after figure than time on a shared
// machine: `node --import tsx bench/alloc.ts [--targets="W1 a,W1 b@dist"] [--requests=20000]
// [--sets=3] [--base=DIR]` (`@dist`: fastify-depends from dist/, `npm run build` first; `--base`:
// the same targets from another checkout too, as for compare.ts). Each set starts every server
// afresh, warms it up, then counts with V8's sampling heap profiler (objects collected by a GC
// included) while autocannon sends exactly `--requests` requests; the table gives the median per
// request over the sets.
import { join, resolve } from 'node:path'
import autocannon from 'autocannon'
import { GROUPS, checkResponses, load, startTarget, type RunningTarget, type Target } from './macro'
import { int, median, table } from './report'

function option (name: string): string | undefined {
  return process.argv.find((arg) => arg.startsWith(`--${name}=`))?.slice(name.length + 3)
}

interface Run {
  readonly label: string
  readonly target: Target
  readonly fromBuild: boolean
  readonly root: string
  readonly perRequest: number[]
}

async function measure (server: RunningTarget, path: string, headers: Record<string, string>, requests: number): Promise<number> {
  await server.startAllocationCount()
  const result = await autocannon({ url: `http://127.0.0.1:${server.port}${path}`, headers, connections: 10, amount: requests })
  const bytes = await server.stopAllocationCount()
  if (result.non2xx + result.errors > 0) throw new Error(`${server.target.id}: ${result.non2xx} non-2xx answers, ${result.errors} errors`)
  return bytes / result.requests.total
}

async function main (): Promise<void> {
  const ids = (option('targets') ?? 'W1 a,W1 b@dist').split(',').map((id) => id.trim())
  const requests = Number(option('requests') ?? 20_000)
  const sets = Number(option('sets') ?? 3)
  const base = option('base')
  const group = GROUPS.find((g) => g.targets.some((t) => t.id === ids[0].split('@')[0])) ?? GROUPS[0]
  const here = join(__dirname, '..')
  const runs: Run[] = []
  for (const root of base === undefined ? [here] : [resolve(base), here]) {
    for (const id of ids) {
      const [name, variant] = id.split('@')
      const target = group.targets.find((t) => t.id === name)
      if (target === undefined) throw new Error(`unknown target ${id}; one of ${group.targets.map((t) => t.id).join(', ')}, optionally with @dist`)
      const label = base === undefined ? id : `${id}, ${root === here ? 'this checkout' : 'base'}`
      runs.push({ label, target, fromBuild: variant === 'dist', root, perRequest: [] })
    }
  }
  for (let set = 0; set < sets; set++) {
    for (const run of runs) {
      const server = await startTarget(run.target, run.fromBuild, run.root)
      try {
        const problems = await checkResponses(group, [server])
        if (problems.length > 0) throw new Error(problems.join('\n'))
        await load(server, group, { connections: 10, duration: 3 })
        const perRequest = await measure(server, group.path, group.headers, requests)
        run.perRequest.push(perRequest)
        console.error(`set ${set + 1}/${sets} ${run.label}: ${int(perRequest)} bytes per request`)
      } finally {
        await server.stop()
      }
    }
  }
  const reference = median(runs[0].perRequest)
  console.log(table(['target', 'bytes allocated per request (median)', `vs ${runs[0].label}`, 'sets'], runs.map((run) => {
    const bytes = median(run.perRequest)
    return [run.label, int(bytes), `${bytes >= reference ? '+' : ''}${int(bytes - reference)}`, run.perRequest.map((b) => int(b)).join(' ')]
  }), [false, true, true, false]))
  console.log(`\n${requests} requests per set after 3 s of warm-up, sampled every 128 bytes on average (${sets} sets).`)
}

main().catch((err: unknown) => {
  console.error(err)
  process.exitCode = 1
})
