// CPU profiles of servers under load, compared: `node --import tsx bench/profile.ts
// [--targets="W1 a,W1 b,W1 b@dist"] [--duration=10] [--interval=100] [--out=DIR]` (`@dist`: the
// server loads fastify-depends from dist/, `npm run build` first). The V8 profiler runs in
// each server process during the timed load only (warm-up and startup excluded); the report is
// in microseconds of server CPU per request, by category and by function, with the difference
// to the first target, and every fastify-depends (lib/) function with self and total time.
import { mkdirSync, readFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { GROUPS, checkResponses, load, startTarget, type RunningTarget } from './macro'
import { fixed, table } from './report'

interface CallFrame { functionName: string, url: string, lineNumber: number }
interface ProfileNode { id: number, callFrame: CallFrame, children?: number[] }
interface CpuProfile { nodes: ProfileNode[], samples: number[], timeDeltas: number[] }

interface Analysis {
  readonly requests: number
  /** Microseconds by function key. */
  readonly self: Map<string, number>
  readonly total: Map<string, number>
  readonly categories: Map<string, number>
}

const root = join(__dirname, '..')

// Line numbers of tsx-compiled TypeScript are not the source's: those files are named without one.
function location (frame: CallFrame): string {
  const url = frame.url.replace(/^file:\/\//, '').replace(`${root}/`, '')
  return url === '' || url.endsWith('.ts') ? url : `${url}:${frame.lineNumber + 1}`
}

function keyOf (frame: CallFrame): string {
  const where = location(frame)
  return `${frame.functionName === '' ? '(anonymous)' : frame.functionName}${where === '' ? '' : ` ${where}`}`
}

function category (frame: CallFrame): string {
  const url = frame.url
  if (url === '') return frame.functionName.startsWith('(') ? frame.functionName : '(native)'
  if (url.includes('/node_modules/fastify/')) return 'fastify'
  if (url.includes('/node_modules/')) return `node_modules/${url.split('/node_modules/').pop()?.split('/')[0] ?? ''}`
  if (url.startsWith('node:')) return 'node internals'
  if (url.includes(`${root}/lib/`) || url.includes(`${root}/dist/lib/`)) return 'fastify-depends (lib/ or dist/lib/)'
  if (url.includes(`${root}/bench/`)) return 'bench code'
  return 'other'
}

function analyse (profile: CpuProfile, requests: number): Analysis {
  const byId = new Map(profile.nodes.map((node) => [node.id, node]))
  const parent = new Map<number, number>()
  for (const node of profile.nodes) for (const child of node.children ?? []) parent.set(child, node.id)
  const self = new Map<string, number>()
  const total = new Map<string, number>()
  const categories = new Map<string, number>()
  const add = (map: Map<string, number>, key: string, value: number): void => { map.set(key, (map.get(key) ?? 0) + value) }
  profile.samples.forEach((id, i) => {
    // A sample's time is the delta to the next sample.
    const micros = profile.timeDeltas[i + 1] ?? 0
    const node = byId.get(id) as ProfileNode
    add(self, keyOf(node.callFrame), micros)
    add(categories, category(node.callFrame), micros)
    const seen = new Set<string>()
    for (let current: number | undefined = id; current !== undefined; current = parent.get(current)) {
      const key = keyOf((byId.get(current) as ProfileNode).callFrame)
      if (!seen.has(key)) {
        seen.add(key)
        add(total, key, micros)
      }
    }
  })
  return { requests, self, total, categories }
}

const perRequest = (analysis: Analysis, micros: number | undefined): number => (micros ?? 0) / analysis.requests

function option (name: string): string | undefined {
  return process.argv.find((arg) => arg.startsWith(`--${name}=`))?.slice(name.length + 3)
}

async function main (): Promise<void> {
  const ids = (option('targets') ?? 'W1 a,W1 b').split(',').map((id) => id.trim())
  // Every target of one run belongs to the group of the first (same requests).
  const group = GROUPS.find((g) => g.targets.some((t) => t.id === ids[0].split('@')[0])) ?? GROUPS[0]
  const duration = Number(option('duration') ?? 10)
  const interval = Number(option('interval') ?? 100)
  const out = option('out') ?? join(tmpdir(), `fastify-depends-profile-${process.pid}`)
  mkdirSync(out, { recursive: true })
  const targets = ids.map((id) => {
    const [name, build] = id.split('@')
    const target = group.targets.find((t) => t.id === name)
    if (target === undefined) throw new Error(`unknown target ${id}; one of ${group.targets.map((t) => t.id).join(', ')}, optionally with @dist`)
    return { target: { ...target, id }, fromBuild: build === 'dist' }
  })
  const running: RunningTarget[] = []
  for (const { target, fromBuild } of targets) running.push(await startTarget(target, fromBuild))
  const analyses: Analysis[] = []
  try {
    const problems = await checkResponses(group, running)
    if (problems.length > 0) throw new Error(problems.join('\n'))
    for (const server of running) await load(server, group, { connections: 10, duration: 3 })
    for (const server of running) {
      const file = join(out, `${server.target.id.replace(/[\s@]+/g, '-')}.cpuprofile`)
      await server.startProfile(interval)
      const sample = await load(server, group, { connections: 10, duration })
      await server.stopProfile(file)
      const requests = Math.round(sample.rps * duration)
      console.error(`${server.target.id}: ${Math.round(sample.rps)} req/s, ${fixed(sample.cpuPerRequest, 1)} µs CPU/req, profile ${file}`)
      analyses.push(analyse(JSON.parse(readFileSync(file, 'utf8')) as CpuProfile, requests))
    }
  } finally {
    await Promise.all(running.map(async (r) => await r.stop()))
  }

  const [reference] = analyses
  const labels = targets.map((t) => t.target.id)
  const categories = [...new Set(analyses.flatMap((a) => [...a.categories.keys()]))]
    .sort((x, y) => perRequest(analyses[analyses.length - 1], analyses[analyses.length - 1].categories.get(y)) - perRequest(analyses[analyses.length - 1], analyses[analyses.length - 1].categories.get(x)))
  console.log(`## Self time by category, µs of profiled CPU per request (sampling every ${interval} µs)\n`)
  console.log(table(['category', ...labels, ...labels.slice(1).map((l) => `${l} - ${labels[0]}`)], categories.map((c) => [
    c, ...analyses.map((a) => fixed(perRequest(a, a.categories.get(c)), 2)),
    ...analyses.slice(1).map((a) => fixed(perRequest(a, a.categories.get(c)) - perRequest(reference, reference.categories.get(c)), 2))
  ]), [false, ...analyses.map(() => true), ...analyses.slice(1).map(() => true)]))

  for (const [index, analysis] of analyses.entries()) {
    const top = [...analysis.self.entries()].sort((x, y) => y[1] - x[1]).slice(0, 25)
    console.log(`\n## ${labels[index]}: top self time, µs per request\n`)
    console.log(table(['function', 'self', 'total'], top.map(([key, micros]) => [key, fixed(perRequest(analysis, micros), 2), fixed(perRequest(analysis, analysis.total.get(key)), 2)]), [false, true, true]))
    const lib = [...analysis.total.entries()].filter(([key]) => / (?:dist\/)?lib\//.test(key)).sort((x, y) => y[1] - x[1])
    if (lib.length > 0) {
      console.log(`\n## ${labels[index]}: fastify-depends functions (lib/), µs per request\n`)
      console.log(table(['function', 'self', 'total (incl. callees)'], lib.map(([key, micros]) => [key, fixed(perRequest(analysis, analysis.self.get(key)), 2), fixed(perRequest(analysis, micros), 2)]), [false, true, true]))
    }
  }

  for (const analysis of analyses.slice(1)) {
    const keys = new Set([...analysis.self.keys(), ...reference.self.keys()])
    const deltas = [...keys].map((key) => [key, perRequest(analysis, analysis.self.get(key)) - perRequest(reference, reference.self.get(key))] as const)
      .sort((x, y) => y[1] - x[1]).slice(0, 25)
    console.log(`\n## ${labels[analyses.indexOf(analysis)]} - ${labels[0]}: largest increases in self time, µs per request\n`)
    console.log(table(['function', 'delta'], deltas.map(([key, delta]) => [key, fixed(delta, 2)]), [false, true]))
  }
}

main().catch((err: unknown) => {
  console.error(err)
  process.exitCode = 1
})
