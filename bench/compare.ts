// Before/after: one target run from two checkouts, alternating rounds.
//   git worktree add /tmp/base HEAD   # the version to compare with (needs node_modules: ln -s)
//   node --import tsx bench/compare.ts --base=/tmp/base [--targets="W1 a,W1 b"] [--rounds=8] [--duration=5] [--dist]
// Each target runs from the base checkout and from this one; the table gives req/s and server
// CPU per request, and this checkout against the base. The base needs a bench/ with servers/child.ts.
import { existsSync } from 'node:fs'
import { join, resolve } from 'node:path'
import { GROUPS, checkResponses, load, startTarget, type RunningTarget, type Sample } from './macro'
import { fixed, int, median, percent, table } from './report'

function option (name: string): string | undefined {
  return process.argv.find((arg) => arg.startsWith(`--${name}=`))?.slice(name.length + 3)
}

async function main (): Promise<void> {
  const base = option('base')
  if (base === undefined || !existsSync(join(base, 'bench', 'servers', 'child.ts'))) throw new Error('--base=DIR: a checkout with bench/servers/child.ts')
  const here = resolve(__dirname, '..')
  const ids = (option('targets') ?? 'W1 b').split(',').map((id) => id.trim())
  const rounds = Number(option('rounds') ?? 8)
  const duration = Number(option('duration') ?? 5)
  const fromBuild = process.argv.includes('--dist')
  const group = GROUPS.find((g) => g.targets.some((t) => t.id === ids[0])) ?? GROUPS[0]
  const running: { label: string, server: RunningTarget }[] = []
  try {
    for (const id of ids) {
      const target = group.targets.find((t) => t.id === id)
      if (target === undefined) throw new Error(`unknown target ${id} in ${group.name}`)
      running.push({ label: `${id}, base`, server: await startTarget(target, fromBuild, resolve(base)) })
      running.push({ label: `${id}, this checkout`, server: await startTarget(target, fromBuild, here) })
    }
    const problems = await checkResponses(group, running.map((r) => r.server))
    if (problems.length > 0) throw new Error(problems.join('\n'))
    for (const { server } of running) await load(server, group, { connections: 10, duration: 3 })
    const samples: Sample[][] = running.map(() => [])
    for (let round = 0; round < rounds; round++) {
      for (const [i, { label, server }] of running.entries()) {
        const sample = await load(server, group, { connections: 10, duration })
        samples[i].push(sample)
        console.error(`round ${round + 1}/${rounds} ${label}: ${int(sample.rps)} req/s, ${fixed(sample.cpuPerRequest, 1)} µs CPU/req, other load ${fixed(sample.foreign, 2)} cores`)
      }
    }
    const rows = running.map(({ label }, i) => {
      const baseIndex = i - (i % 2)
      const paired = median(samples[i].map((s, r) => s.rps / samples[baseIndex][r].rps))
      const cpu = median(samples[i].map((s) => s.cpuPerRequest))
      return [label, int(median(samples[i].map((s) => s.rps))), fixed(paired, 3), fixed(cpu, 1), percent(cpu / median(samples[baseIndex].map((s) => s.cpuPerRequest)) - 1)]
    })
    console.log(table(['target', 'req/s (median)', 'paired vs base', 'server CPU µs/req', 'CPU vs base'], rows, [false, true, true, true, true]))
  } finally {
    await Promise.all(running.map(async ({ server }) => await server.stop()))
  }
}

main().catch((err: unknown) => {
  console.error(err)
  process.exitCode = 1
})
