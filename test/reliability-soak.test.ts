import http from 'node:http'
import type { AddressInfo } from 'node:net'
import { Readable } from 'node:stream'
import { setImmediate as tick } from 'node:timers/promises'
import v8 from 'node:v8'
import vm from 'node:vm'
import type { FastifyInstance, FastifyRequest } from 'fastify'
import { test, type Test } from 'tap'
import { build, watchProcess } from './helpers'
import { depends, httpError, type Dependency } from '../lib/index'
import { kRegistry } from '../lib/symbols'

// 2,000 requests in `npm test`; `SOAK=1 npx tap --timeout=300 test/reliability-soak.test.ts` runs 20,000.
const N = process.env.SOAK === '1' ? 20000 : 2000
const IN_FLIGHT = 32
const BOUND_MS = 5000
const MiB = 1024 * 1024

// tap does not pass --expose-gc; a context created after this flag has `gc`.
function exposeGc (): (() => void) | undefined {
  try {
    v8.setFlagsFromString('--expose-gc')
    return vm.runInNewContext('gc') as () => void
  } catch {
    return undefined
  }
}
const gc = exposeGc()

const GENERATORS = ['audit', 'conn', 'tx', 'span', 'lock', 'late'] as const
const SCOPE: Record<string, string> = { audit: 'request', conn: 'request', tx: 'request', span: 'function', lock: 'function', late: 'request' }

/** Counts every generator entry and finalization, per generator and per (request, generator). */
class Tracker {
  entries = 0
  finalizations = 0
  readonly byName = new Map<string, { entries: number, finalizations: number }>(GENERATORS.map((n) => [n, { entries: 0, finalizations: 0 }]))
  /** request id -> [entries, finalizations] per generator, in GENERATORS order. */
  perRequest = new Map<string, number[]>()
  /** `${scope}:${how it was resumed}` -> count. */
  readonly how = new Map<string, number>()
  /** The request objects, to see whether anything keeps them alive. */
  requests: Array<WeakRef<object>> = []
  handlerBoundsHit = 0
  /** Dependencies or handlers that ran after a reply sent by a dependency, or after a handler timeout. */
  ranAfterResponse = 0

  enter (name: string, request: FastifyRequest): { how: string, done: () => void } {
    const index = GENERATORS.indexOf(name as typeof GENERATORS[number])
    let counts = this.perRequest.get(request.id)
    if (counts === undefined) {
      counts = new Array(GENERATORS.length * 2).fill(0)
      this.perRequest.set(request.id, counts)
      this.requests.push(new WeakRef(request))
    }
    const own = counts
    own[index * 2]++
    this.entries++
    ;(this.byName.get(name) as { entries: number }).entries++
    const entry = {
      how: 'returned',
      done: () => {
        own[index * 2 + 1]++
        this.finalizations++
        ;(this.byName.get(name) as { finalizations: number }).finalizations++
        const key = `${SCOPE[name]}:${entry.how}`
        this.how.set(key, (this.how.get(key) ?? 0) + 1)
      }
    }
    return entry
  }
}

function codeOf (err: unknown): string {
  return (err as { code?: string }).code ?? (err as Error).message
}

function syncGenerator (tracker: Tracker, name: string, inputs: Record<string, Dependency<string>>, wrap: (inputs: Record<string, string>) => string): Dependency<string> {
  return depends(inputs, function * (values, { request }) {
    const entry = tracker.enter(name, request)
    try {
      yield wrap(values)
      entry.how = 'exit'
    } catch (err) {
      entry.how = codeOf(err)
      throw err
    } finally {
      entry.done()
    }
  }, { name, scope: SCOPE[name] as 'request' | 'function' })
}

/** An async generator entered after a tick, or after `enterAfter` ms (to be entered after a timeout fired). */
function asyncGenerator (tracker: Tracker, name: string, inputs: Record<string, Dependency<string>>, wrap: (inputs: Record<string, string>) => string, enterAfter = 0): Dependency<string> {
  return depends(inputs, async function * (values, { request }) {
    if (enterAfter > 0) await new Promise((resolve) => setTimeout(resolve, enterAfter))
    const entry = tracker.enter(name, request)
    try {
      await tick()
      yield wrap(values)
      entry.how = 'exit'
    } catch (err) {
      entry.how = codeOf(err)
      throw err
    } finally {
      entry.done()
    }
  }, { name, scope: SCOPE[name] as 'request' | 'function' })
}

/** Resolves after `ms` at most; `false` when the bound was hit. */
function bounded (promise: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined
  const timeout = new Promise<boolean>((resolve) => { timer = setTimeout(() => resolve(false), ms) })
  return Promise.race([promise.then(() => true), timeout]).finally(() => clearTimeout(timer))
}

/** Three chunks, or one chunk then an error. */
function chunks (fail: boolean): Readable {
  let sent = 0
  return new Readable({
    read () {
      if (sent === (fail ? 1 : 3)) {
        setImmediate(() => fail ? this.destroy(new Error('stream broke')) : this.push(null))
        return
      }
      const chunk = `chunk${++sent}\n`
      setImmediate(() => this.push(chunk))
    }
  })
}

/** One chunk, then nothing until the client leaves (ended after 2 s at most). */
function holding (): Readable {
  const body = new Readable({ read () {} })
  body.push('first\n')
  const timer = setTimeout(() => body.push(null), 2000)
  body.once('close', () => clearTimeout(timer))
  return body
}

interface Server { app: FastifyInstance, tracker: Tracker, started: Map<string, () => void>, port: number }

async function soakServer (t: Test, concurrency: 'sequential' | 'parallel'): Promise<Server> {
  const tracker = new Tracker()
  const started = new Map<string, () => void>()
  const audit = asyncGenerator(tracker, 'audit', {}, () => 'audit')
  const conn = asyncGenerator(tracker, 'conn', {}, () => 'conn')
  const tx = syncGenerator(tracker, 'tx', { conn }, ({ conn }) => `tx(${conn})`)
  const span = asyncGenerator(tracker, 'span', { tx }, ({ tx }) => `span(${tx})`)
  const lock = syncGenerator(tracker, 'lock', {}, () => 'lock')
  const boom = depends({ tx }, () => { throw httpError(422, 'dependency failed') }, { name: 'boom' })
  const app = await build(t, { concurrency, dependencies: [audit] })
  const deps = { span, lock }
  const tagOf = (request: FastifyRequest): string => String(request.headers['x-tag'])

  app.get('/ok', { dependencies: deps }, async (request) => ({ tag: tagOf(request), span: request.deps.span, lock: request.deps.lock }))
  app.get('/slow', { dependencies: deps }, async (request, reply) => {
    const closed = new Promise((resolve) => reply.raw.once('close', resolve))
    started.get(tagOf(request))?.()
    if (!await bounded(closed, 2000)) tracker.handlerBoundsHit++
    return { late: true }
  })
  app.get('/stream', { dependencies: deps }, async (request) => {
    const mode = (request.query as { mode: string }).mode
    return mode === 'hold' ? holding() : chunks(mode === 'error')
  })
  app.get('/throw', { dependencies: deps }, (request) => {
    const how = (request.query as { how: string }).how
    if (how === 'sync') throw new Error('sync boom')
    return tick().then(() => { throw how === 'http' ? httpError(409, 'conflict') : new Error('async boom') })
  })
  app.get('/dep-throw', { dependencies: { span, boom, lock } }, async () => 'unreachable')
  // A guard that answers by itself after tx and span were entered; what follows it never runs.
  const guard = depends({ span }, async (_inputs, { reply }) => {
    await tick()
    return reply.code(403).send({ denied: true })
  }, { name: 'guard' })
  const afterGuard = depends({ guard }, () => { tracker.ranAfterResponse++ }, { name: 'afterGuard' })
  app.get('/dep-reply', { dependencies: { guard, afterGuard, lock } }, async () => { tracker.ranAfterResponse++ })
  // Fastify answers 503 while a slow generator is being entered: it is finalized once it has entered.
  const slowConn = asyncGenerator(tracker, 'late', {}, () => 'late', 80)
  const afterSlow = depends({ slowConn }, () => { tracker.ranAfterResponse++ }, { name: 'afterSlow' })
  app.get('/dep-timeout', { handlerTimeout: 20, dependencies: { span, afterSlow } }, async () => { tracker.ranAfterResponse++ })
  await app.listen({ port: 0, host: '127.0.0.1' })
  return { app, tracker, started, port: (app.server.address() as AddressInfo).port }
}

type Mode = 'ok' | 'abort-handler' | 'abort-stream' | 'throw-sync' | 'throw-async' | 'throw-http' | 'stream' | 'stream-error' | 'dep-throw' | 'dep-reply' | 'dep-timeout'

// Aborts (mid-handler, mid-stream), throws (handler sync/async/http, dependency), complete ones (some
// streams fail mid-way), replies sent by a dependency, and handler timeouts during resolution.
function modeOf (i: number): Mode {
  switch (i % 8) {
    case 0: return 'ok'
    case 1: return 'abort-handler'
    case 2: return 'abort-stream'
    case 3: return (['throw-sync', 'throw-async', 'throw-http'] as const)[Math.floor(i / 8) % 3]
    case 4: return Math.floor(i / 8) % 2 === 0 ? 'stream' : 'stream-error'
    case 5: return 'dep-throw'
    case 6: return 'dep-reply'
    default: return 'dep-timeout'
  }
}

const PATHS: Record<Mode, string> = {
  ok: '/ok',
  'abort-handler': '/slow',
  'abort-stream': '/stream?mode=hold',
  'throw-sync': '/throw?how=sync',
  'throw-async': '/throw?how=async',
  'throw-http': '/throw?how=http',
  stream: '/stream?mode=full',
  'stream-error': '/stream?mode=error',
  'dep-throw': '/dep-throw',
  'dep-reply': '/dep-reply',
  'dep-timeout': '/dep-timeout'
}

function expected (mode: Mode, tag: number): string[] {
  switch (mode) {
    case 'ok': return [`200 {"tag":"${tag}","span":"span(tx(conn))","lock":"lock"}`]
    case 'abort-handler': case 'abort-stream': return ['aborted']
    case 'throw-sync': case 'throw-async': return ['500']
    case 'throw-http': return ['409']
    case 'stream': return ['200 chunk1\nchunk2\nchunk3\n']
    case 'stream-error': return ['reset', '500'] // 500 only if the error came before the headers
    case 'dep-throw': return ['422']
    case 'dep-reply': return ['403']
    case 'dep-timeout': return ['503']
  }
}

/** One request; resolves with what the client saw ('aborted' when it destroyed the socket itself). */
function send (server: Server, agent: http.Agent, tag: number, mode: Mode): Promise<string> {
  return new Promise((resolve) => {
    let finished = false
    const req = http.request({ host: '127.0.0.1', port: server.port, path: PATHS[mode], agent, headers: { 'x-tag': String(tag) } })
    const timer = setTimeout(() => { finish('timeout'); req.destroy() }, BOUND_MS)
    function finish (outcome: string): void {
      if (finished) return
      finished = true
      clearTimeout(timer)
      server.started.delete(String(tag))
      resolve(outcome)
    }
    const abort = (): void => { finish('aborted'); req.destroy() }
    req.on('error', () => finish('reset'))
    if (mode === 'abort-handler') server.started.set(String(tag), abort)
    req.on('response', (res) => {
      res.on('error', () => finish('reset'))
      res.on('aborted', () => finish('reset'))
      if (mode === 'abort-stream') {
        res.once('data', abort)
        return
      }
      let body = ''
      res.setEncoding('utf8')
      res.on('data', (chunk: string) => { body += chunk })
      res.on('end', () => finish(mode === 'ok' || mode === 'stream' ? `${res.statusCode} ${body}` : String(res.statusCode)))
    })
    req.end()
  })
}

interface Wrong { tag: number, mode: Mode, outcome: string }

/** Sends requests `from` .. `from + count - 1` over 8 keep-alive sockets; tallies `mode -> outcome` and returns the unexpected ones. */
async function run (server: Server, from: number, count: number, tally: Map<string, number>): Promise<Wrong[]> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 8 })
  const wrong: Wrong[] = []
  let next = from
  async function worker (): Promise<void> {
    while (next < from + count) {
      const tag = next++
      const mode = modeOf(tag)
      const outcome = await send(server, agent, tag, mode)
      const key = `${mode} -> ${outcome.split(' ')[0]}`
      tally.set(key, (tally.get(key) ?? 0) + 1)
      if (!expected(mode, tag).includes(outcome)) wrong.push({ tag, mode, outcome })
    }
  }
  await Promise.all(Array.from({ length: IN_FLIGHT }, worker))
  agent.destroy()
  return wrong
}

/** In-flight requests of the server: the list close() waits for (a request whose resolution still runs is on it). */
function liveCount (server: Server): number {
  return (server.app as unknown as Record<symbol, { live: { count: number } }>)[kRegistry].live.count
}

/**
 * Waits for every request to leave the in-flight list, then for the counts to match. The slowest
 * dependency is entered 80 ms after a 20 ms timeout answered: counting before it entered would see
 * matching counts, then one entry without its finalization a moment later.
 */
async function settleCounts (server: Server): Promise<void> {
  const deadline = Date.now() + BOUND_MS
  while (liveCount(server) > 0 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 10))
  const { tracker } = server
  while (tracker.entries !== tracker.finalizations && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 10))
  await new Promise((resolve) => setTimeout(resolve, 50)) // a late double finalization would show now
}

function heapUsed (): number {
  gc?.()
  return v8.getHeapStatistics().used_heap_size
}

async function soak (t: Test, concurrency: 'sequential' | 'parallel', count: number): Promise<void> {
  const problems = watchProcess(t)
  const server = await soakServer(t, concurrency)
  const { tracker } = server
  const warmup = 240
  const tally = new Map<string, number>()
  t.same(await run(server, 0, warmup, tally), [], 'warm-up requests answered as expected')
  await settleCounts(server)
  const heapBefore = heapUsed()
  const startedAt = Date.now()

  const wrong = await run(server, warmup, count, tally)
  const elapsed = Date.now() - startedAt
  await settleCounts(server)

  t.same(wrong.slice(0, 5), [], `every client saw the expected outcome (${wrong.length} did not)`)
  for (const [name, counts] of tracker.byName) {
    t.equal(counts.finalizations, counts.entries, `${name}: entries === finalizations (${counts.entries})`)
  }
  const irregular = [...tracker.perRequest].filter(([, counts]) => counts.some((c, i) => c > 1 || (i % 2 === 1 && c !== counts[i - 1])))
  t.same(irregular.slice(0, 5), [], 'per request and generator: entered at most once, finalized exactly as often as entered')
  t.same(problems, [], 'no unhandledRejection or uncaughtException')
  t.equal(tracker.handlerBoundsHit, 0, 'every aborted handler saw its connection close')
  t.equal(tracker.ranAfterResponse, 0, 'nothing ran after a reply sent by a dependency or a timeout during resolution')
  t.equal(liveCount(server), 0, 'every request left the in-flight list close() waits for')
  t.notOk(tracker.how.has('request:returned') || tracker.how.has('function:returned'), 'every generator was resumed, none only returned')

  const answer = await send(server, new http.Agent({ keepAlive: false }), 999999, 'ok')
  t.equal(answer, expected('ok', 999999)[0], 'the server still answers')
  await settleCounts(server)

  const figures = {
    concurrency,
    requests: warmup + count,
    aborts: (tally.get('abort-handler -> aborted') ?? 0) + (tally.get('abort-stream -> aborted') ?? 0),
    handlerErrors: [...tally].filter(([key]) => key.startsWith('throw')).reduce((sum, [, n]) => sum + n, 0),
    dependencyErrors: tally.get('dep-throw -> 422') ?? 0,
    repliedByDependency: tally.get('dep-reply -> 403') ?? 0,
    timedOutResolving: tally.get('dep-timeout -> 503') ?? 0,
    streamErrors: (tally.get('stream-error -> reset') ?? 0) + (tally.get('stream-error -> 500') ?? 0),
    outcomes: Object.fromEntries([...tally].sort()),
    entries: tracker.entries,
    finalizations: tracker.finalizations,
    resumedWith: Object.fromEntries([...tracker.how].sort()),
    secondsForSoakPart: elapsed / 1000
  }
  const requestsSeen = tracker.requests
  tracker.perRequest = new Map()
  tracker.requests = []
  await new Promise((resolve) => setTimeout(resolve, 50))
  const heapAfter = heapUsed()
  await tick()
  gc?.()
  const alive = requestsSeen.filter((ref) => ref.deref() !== undefined).length
  t.comment(`soak figures: ${JSON.stringify(figures)}`)
  t.comment(`heap (used, gc ${gc === undefined ? 'unavailable' : 'forced'}): ${(heapBefore / MiB).toFixed(1)} MiB before, ${(heapAfter / MiB).toFixed(1)} MiB after; ${alive} of ${requestsSeen.length} request objects still reachable`)
  t.ok(heapAfter - heapBefore < (gc === undefined ? 96 : 24) * MiB, 'heap back near its start')
  if (gc !== undefined) t.ok(alive <= 1, 'no request object outlives its request (the last one may still be referenced by the server)')
}

test('soak, sequential resolution: aborts, throws and broken streams leak no generator and nothing crashes', async (t) => {
  await soak(t, 'sequential', Math.ceil(N / 2))
})

test('soak, parallel resolution: aborts, throws and broken streams leak no generator and nothing crashes', async (t) => {
  await soak(t, 'parallel', Math.floor(N / 2))
})
