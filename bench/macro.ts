// The HTTP benchmark: every implementation in its own process, responses compared byte for
// byte, then autocannon rounds alternating the implementations so that drift hits all alike.
import autocannon from 'autocannon'
import { fork, type ChildProcess } from 'node:child_process'
import { once } from 'node:events'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import type { ChildMessage, Implementation, ParentMessage } from './servers/child'
import type { Workload } from './servers/server'
import { W1_CHECKS, W1_HEADERS, W1_PATH } from './workloads/w1'
import { W2_PATH } from './workloads/w2'

export interface Target {
  readonly id: string
  readonly workload: Workload
  readonly implementation: Implementation
  readonly label: string
  /** Its error responses are Fastify's (NestJS builds its own error bodies). */
  readonly fastifyErrors: boolean
}

/** Targets timed together, alternating; the first is the reference the others are compared with. */
export interface Group {
  readonly name: string
  readonly path: string
  readonly headers: Record<string, string>
  readonly checks: typeof W1_CHECKS
  readonly targets: readonly Target[]
}

export const GROUPS: readonly Group[] = [
  {
    name: 'W1 (and W3)',
    path: W1_PATH,
    headers: W1_HEADERS,
    checks: W1_CHECKS,
    targets: [
      { id: 'W1 a', workload: 'w1', implementation: 'hooks', label: '(a) hand-written hooks', fastifyErrors: true },
      { id: 'W1 b', workload: 'w1', implementation: 'depends', label: '(b) fastify-depends', fastifyErrors: true },
      { id: 'W1 c', workload: 'w1', implementation: 'awilix', label: '(c) @fastify/awilix', fastifyErrors: true },
      { id: 'W1 d', workload: 'w1', implementation: 'nest', label: '(d) NestJS + platform-fastify', fastifyErrors: false },
      { id: 'W3 b', workload: 'w3', implementation: 'depends', label: '(b) fastify-depends, 1 override', fastifyErrors: true }
    ]
  },
  {
    name: 'W2',
    path: W2_PATH,
    headers: {},
    checks: [{ path: W2_PATH, headers: {}, status: 200 }, { path: W2_PATH, headers: {}, status: 200 }],
    targets: [
      { id: 'W2 a', workload: 'w2', implementation: 'hooks', label: '(a) hand-written preHandler', fastifyErrors: true },
      { id: 'W2 b', workload: 'w2', implementation: 'depends', label: '(b) fastify-depends, 20 nodes', fastifyErrors: true }
    ]
  }
]

export interface RunningTarget {
  readonly target: Target
  readonly port: number
  /** CPU time the server process has used so far, microseconds. */
  cpu (): Promise<number>
  /** Starts the V8 CPU profiler in the server (sampling interval in microseconds). */
  startProfile (interval: number): Promise<void>
  /** Stops it and writes the .cpuprofile to `file`. */
  stopProfile (file: string): Promise<void>
  /** Starts counting the bytes the server allocates (V8's sampling heap profiler). */
  startAllocationCount (): Promise<void>
  /** Stops counting; the bytes allocated since the start (sampled). */
  stopAllocationCount (): Promise<number>
  stop (): Promise<void>
}

async function request (child: ChildProcess, message: ParentMessage): Promise<ChildMessage> {
  const answer = once(child, 'message') as Promise<[ChildMessage]>
  child.send(message)
  const [reply] = await answer
  if (reply.error !== undefined) throw new Error(reply.error)
  return reply
}

/**
 * Starts one server process; with `fromBuild`, fastify-depends is loaded from dist/ (see
 * servers/lib.ts); `root` is the checkout to run it from (another one, to compare two versions).
 */
export async function startTarget (target: Target, fromBuild = false, root = join(__dirname, '..')): Promise<RunningTarget> {
  const env: NodeJS.ProcessEnv = { ...process.env, BENCH_FASTIFY_DEPENDS: fromBuild ? 'dist' : 'lib' }
  const child: ChildProcess = fork(join(root, 'bench', 'servers', 'child.ts'), [target.implementation, target.workload], {
    cwd: root,
    execArgv: ['--import', 'tsx'],
    env,
    stdio: ['ignore', 'inherit', 'inherit', 'ipc']
  })
  const [message] = await Promise.race([
    once(child, 'message') as Promise<[ChildMessage]>,
    once(child, 'exit').then(([code]) => { throw new Error(`${target.id} exited with ${code} before listening`) })
  ])
  if (message.error !== undefined || message.port === undefined) {
    child.kill()
    throw new Error(`${target.id} failed to start: ${message.error}`)
  }
  return {
    target,
    port: message.port,
    async cpu () {
      return (await request(child, 'cpu')).cpu as number
    },
    async startProfile (interval) {
      await request(child, { profile: 'start', interval })
    },
    async stopProfile (file) {
      await request(child, { profile: 'stop', file })
    },
    async startAllocationCount () {
      await request(child, { heap: 'start' })
    },
    async stopAllocationCount () {
      return (await request(child, { heap: 'stop' })).allocated as number
    },
    async stop () {
      if (child.exitCode !== null || child.signalCode !== null) return
      const exited = once(child, 'exit')
      child.send('stop')
      const timer = setTimeout(() => child.kill('SIGKILL'), 10_000)
      await exited
      clearTimeout(timer)
    }
  }
}

interface Answer {
  readonly status: number
  readonly contentType: string | null
  readonly challenge: string | null
  readonly body: string
}

async function ask (port: number, path: string, headers: Record<string, string>): Promise<Answer> {
  const response = await fetch(`http://127.0.0.1:${port}${path}`, { headers })
  const body = Buffer.from(await response.arrayBuffer()).toString('latin1')
  return { status: response.status, contentType: response.headers.get('content-type'), challenge: response.headers.get('www-authenticate'), body }
}

/**
 * Same responses, byte for byte, before anything is timed: every success body and content
 * type equals the reference's; error statuses match, and Fastify error bodies and challenges too.
 * Requests are sequential, so `open` (sessions not yet given back) must stay 1.
 */
export async function checkResponses (group: Group, running: readonly RunningTarget[]): Promise<string[]> {
  const problems: string[] = []
  for (const check of group.checks) {
    const answers = await Promise.all(running.map(async (r) => await ask(r.port, check.path, check.headers)))
    const reference = answers[0]
    answers.forEach((answer, i) => {
      const where = `${running[i].target.id} GET ${check.path}${check.headers.authorization === undefined ? '' : ` (${check.headers.authorization})`}`
      if (answer.status !== check.status) problems.push(`${where}: status ${answer.status}, expected ${check.status} (${answer.body.slice(0, 120)})`)
      const comparable = check.status === 200 || running[i].target.fastifyErrors
      if (!comparable) return
      if (answer.body !== reference.body) problems.push(`${where}: body differs from ${running[0].target.id}\n    ${answer.body.slice(0, 160)}\n    ${reference.body.slice(0, 160)}`)
      if (answer.contentType !== reference.contentType) problems.push(`${where}: content-type ${answer.contentType}, reference ${reference.contentType}`)
      if (answer.challenge !== reference.challenge) problems.push(`${where}: www-authenticate ${answer.challenge}, reference ${reference.challenge}`)
    })
  }
  return problems
}

/** Busy CPU time of the whole machine so far, microseconds (Linux /proc/stat, USER_HZ = 100); `undefined` elsewhere. */
function machineBusy (): number | undefined {
  try {
    const fields = readFileSync('/proc/stat', 'utf8').split('\n', 1)[0].trim().split(/\s+/).slice(1).map(Number)
    // user nice system idle iowait irq softirq steal: all but idle and iowait (steal: other VMs on this host).
    const busy = fields[0] + fields[1] + fields[2] + fields[5] + fields[6] + fields[7]
    return Number.isFinite(busy) ? busy * 10_000 : undefined
  } catch {
    return undefined
  }
}

function ownCpu (): number {
  const { user, system } = process.cpuUsage()
  return user + system
}

export interface Sample {
  /** Mean requests per second over the round. */
  readonly rps: number
  /** Server CPU time (user + system) per request, microseconds: less sensitive to other load on the machine. */
  readonly cpuPerRequest: number
  /** 99th percentile latency, milliseconds. */
  readonly p99: number
  readonly failures: number
  /** CPU used on the machine by anything but this server and the load generator, in cores (other work disturbing the round). */
  readonly foreign: number
}

export interface LoadOptions {
  readonly connections: number
  /** Seconds. */
  readonly duration: number
  /** Requests per second for all connections together; as fast as possible when absent. */
  readonly rate?: number
}

export async function load (server: RunningTarget, group: Group, options: LoadOptions): Promise<Sample> {
  const cpuBefore = await server.cpu()
  const ownBefore = ownCpu()
  const busyBefore = machineBusy()
  const result = await autocannon({
    url: `http://127.0.0.1:${server.port}${group.path}`,
    headers: group.headers,
    connections: options.connections,
    duration: options.duration,
    ...(options.rate === undefined ? {} : { overallRate: options.rate })
  })
  const busyAfter = machineBusy()
  const own = ownCpu() - ownBefore
  const cpu = await server.cpu() - cpuBefore
  const foreign = busyBefore === undefined || busyAfter === undefined ? 0 : Math.max(0, busyAfter - busyBefore - own - cpu) / (result.duration * 1e6)
  return {
    rps: result.requests.average,
    cpuPerRequest: cpu / Math.max(1, result.requests.total),
    p99: result.latency.p99,
    failures: result.errors + result.timeouts + result.non2xx,
    foreign
  }
}

export interface TargetResult {
  readonly target: Target
  readonly samples: readonly Sample[]
}

export interface GroupResult {
  readonly group: Group
  readonly results: readonly TargetResult[]
}

export interface MacroOptions extends LoadOptions {
  readonly rounds: number
  /** Seconds of load on each server before the first round. */
  readonly warmup: number
  /** Load fastify-depends from its build (dist/) rather than lib/ through tsx. */
  readonly dist: boolean
  /** A round during which other processes used more CPU than this (cores) is repeated... */
  readonly maxForeign: number
  /** ... this many repeats at most in the whole group. */
  readonly retries: number
  /** Fresh sets of server processes, each timed for `rounds` rounds. */
  readonly processes: number
  readonly log: (line: string) => void
}

/**
 * Times the group's servers in alternating rounds, `processes` times over, each time with fresh
 * server processes: on a shared machine two processes of the same server can differ by 20% for
 * their whole life (where the scheduler and the JIT put them), which rounds alone do not even out.
 * Each set starts the servers in a rotated order; the rounds change the order too.
 */
export async function runGroup (group: Group, options: MacroOptions): Promise<GroupResult> {
  const samples: Sample[][] = group.targets.map(() => [])
  const budget = { retriesLeft: options.retries }
  for (let set = 0; set < options.processes; set++) {
    const order = group.targets.map((_, i) => (i + set) % group.targets.length)
    const running: RunningTarget[] = new Array(group.targets.length)
    try {
      for (const i of order) running[i] = await startTarget(group.targets[i], options.dist)
      await timeSet(group, running, samples, budget, set, options)
    } finally {
      await Promise.all(running.filter((r) => r !== undefined).map(async (r) => await r.stop()))
    }
  }
  return { group, results: group.targets.map((target, i) => ({ target, samples: samples[i] })) }
}

async function timeSet (group: Group, running: readonly RunningTarget[], samples: Sample[][], budget: { retriesLeft: number }, set: number, options: MacroOptions): Promise<void> {
  const problems = await checkResponses(group, running)
  if (problems.length > 0) throw new Error(`${group.name}: responses differ\n  ${problems.join('\n  ')}`)
  const label = options.processes > 1 ? ` (process set ${set + 1}/${options.processes})` : ''
  options.log(`${group.name}${label}: ${running.length} servers answer alike (${group.checks.length} requests each)${options.warmup > 0 ? '; warming up' : ''}`)
  if (options.warmup > 0) for (const r of running) await load(r, group, { connections: options.connections, duration: options.warmup })
  for (let round = 0; round < options.rounds; round++) {
    for (let k = 0; k < running.length; k++) {
      // Rotated each round and reversed every other one, so that no server always runs right after
      // the same other one (a NestJS round leaves the machine slower for the next few seconds).
      const n = running.length
      const start = Math.floor(round / 2)
      const i = round % 2 === 0 ? (start + k) % n : (start + n - 1 - k + n) % n
      let sample = await load(running[i], group, options)
      // Another process took CPU during the round: repeat it, within the group's budget of repeats.
      while (budget.retriesLeft > 0 && sample.foreign > options.maxForeign) {
        budget.retriesLeft--
        options.log(`  round ${round + 1}/${options.rounds} ${running[i].target.id.padEnd(5)} disturbed (${sample.foreign.toFixed(2)} cores used by other processes), repeating`)
        sample = await load(running[i], group, options)
      }
      samples[i].push(sample)
      options.log(`  round ${round + 1}/${options.rounds} ${running[i].target.id.padEnd(5)} ${Math.round(sample.rps).toString().padStart(7)} req/s  ${sample.cpuPerRequest.toFixed(1).padStart(6)} µs CPU/req  p99 ${sample.p99} ms  other load ${sample.foreign.toFixed(2)} cores${sample.failures > 0 ? `  ${sample.failures} FAILED` : ''}`)
    }
  }
}
