// Two targets head to head in short alternating rounds (A B, then B A, and so on), for a ratio that
// drift on a shared machine disturbs less than a full run: `node --import tsx bench/pairs.ts
// --targets="W1 b@dist,W3 b@dist" [--pairs=30] [--duration=1]` (`@dist`: fastify-depends from
// dist/, `npm run build` first). The same target twice is the control: its ratio shows how far two
// processes of one server differ here. Prints the median of the per-pair ratios of req/s and of
// server CPU per request, with their quartiles.
import { GROUPS, checkResponses, load, startTarget, type RunningTarget, type Sample } from './macro'
import { fixed, int, median, table } from './report'

function option (name: string): string | undefined {
  return process.argv.find((arg) => arg.startsWith(`--${name}=`))?.slice(name.length + 3)
}

function quartile (values: readonly number[], q: number): number {
  const sorted = [...values].sort((x, y) => x - y)
  return sorted[Math.round(q * (sorted.length - 1))]
}

async function main (): Promise<void> {
  const ids = (option('targets') ?? 'W1 a,W1 b@dist').split(',').map((id) => id.trim())
  if (ids.length !== 2) throw new Error('--targets: exactly two, such as "W1 a,W1 b@dist"')
  const pairs = Number(option('pairs') ?? 30)
  const duration = Number(option('duration') ?? 1)
  const group = GROUPS.find((g) => g.targets.some((t) => t.id === ids[0].split('@')[0])) ?? GROUPS[0]
  const servers: RunningTarget[] = []
  try {
    for (const id of ids) {
      const [name, variant] = id.split('@')
      const target = group.targets.find((t) => t.id === name)
      if (target === undefined) throw new Error(`unknown target ${id}; one of ${group.targets.map((t) => t.id).join(', ')}, optionally with @dist`)
      servers.push(await startTarget(target, variant === 'dist'))
    }
    const problems = await checkResponses(group, servers)
    if (problems.length > 0) throw new Error(problems.join('\n'))
    for (const server of servers) await load(server, group, { connections: 10, duration: 3 })
    const samples: Sample[][] = [[], []]
    for (let pair = 0; pair < pairs; pair++) {
      for (const i of pair % 2 === 0 ? [0, 1] : [1, 0]) samples[i].push(await load(servers[i], group, { connections: 10, duration }))
      console.error(`pair ${pair + 1}/${pairs}: ${int(samples[0][pair].rps)} and ${int(samples[1][pair].rps)} req/s`)
    }
    const rps = samples[1].map((s, i) => s.rps / samples[0][i].rps)
    const cpu = samples[1].map((s, i) => samples[0][i].cpuPerRequest / s.cpuPerRequest)
    console.log(table(['target', 'req/s (median)', 'server CPU µs/req (median)'], ids.map((id, i) => [
      id, int(median(samples[i].map((s) => s.rps))), fixed(median(samples[i].map((s) => s.cpuPerRequest)), 1)
    ]), [false, true, true]))
    console.log(`\n${ids[1]} / ${ids[0]}, median of ${pairs} pairs of ${duration} s: req/s ${fixed(median(rps), 3)} ` +
      `(quartiles ${fixed(quartile(rps, 0.25), 3)}–${fixed(quartile(rps, 0.75), 3)}), ` +
      `by server CPU per request ${fixed(median(cpu), 3)} (${fixed(quartile(cpu, 0.25), 3)}–${fixed(quartile(cpu, 0.75), 3)})`)
  } finally {
    await Promise.all(servers.map(async (server) => await server.stop()))
  }
}

main().catch((err: unknown) => {
  console.error(err)
  process.exitCode = 1
})
