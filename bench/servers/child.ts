// One benchmark server in its own process: `child.ts <implementation> <workload>`. Reports its
// port to the parent over IPC; answers 'cpu' with its CPU time; starts and stops the V8 CPU
// profiler on { profile: 'start' } / { profile: 'stop', file } (so that a profile covers the
// timed load only, not startup), and V8's sampling heap profiler, counting what is collected too,
// on { heap: 'start' } / { heap: 'stop' } (answering with the bytes allocated); stops on 'stop'.
import { Session } from 'node:inspector'
import { writeFileSync } from 'node:fs'
import type { RunningServer, Workload } from './server'

export const IMPLEMENTATIONS = {
  hooks: async () => await import('./hooks.js'),
  depends: async () => await import('./depends.js'),
  awilix: async () => await import('./awilix.js'),
  nest: async () => await import('./nest.js')
} as const

export type Implementation = keyof typeof IMPLEMENTATIONS

export interface ChildMessage {
  readonly port?: number
  readonly error?: string
  /** Microseconds of CPU (user + system) the process has used, in answer to 'cpu'. */
  readonly cpu?: number
  /** The profile file written, in answer to { profile: 'stop' }. */
  readonly profiled?: string
  /** Bytes allocated since { heap: 'start' } (sampled), in answer to { heap: 'stop' }. */
  readonly allocated?: number
}

export type ParentMessage = 'stop' | 'cpu' | { profile: 'start', interval: number } | { profile: 'stop', file: string } | { heap: 'start' | 'stop' }

interface HeapSample { size: number }

function heapCommand (session: Session, command: 'start' | 'stop'): Promise<ChildMessage> {
  if (command === 'start') {
    // Every 128 bytes on average; objects a GC collected stay in the sample: this counts allocation, not what lives.
    return post(session, 'HeapProfiler.enable')
      .then(() => post(session, 'HeapProfiler.startSampling', { samplingInterval: 128, includeObjectsCollectedByMinorGC: true, includeObjectsCollectedByMajorGC: true }))
      .then(() => ({ allocated: 0 }))
  }
  return post(session, 'HeapProfiler.stopSampling').then(({ profile }: { profile: { samples: HeapSample[] } }) => ({
    allocated: profile.samples.reduce((sum, sample) => sum + sample.size, 0)
  }))
}

function post (session: Session, method: string, params?: object): Promise<any> {
  return new Promise((resolve, reject) => session.post(method, params, (err, result) => (err === null ? resolve(result) : reject(err))))
}

async function main (): Promise<void> {
  const [implementation, workload] = process.argv.slice(2) as [Implementation, Workload]
  const load = IMPLEMENTATIONS[implementation]
  if (load === undefined) throw new Error(`unknown implementation ${implementation}`)
  const server: RunningServer = await (await load()).start(workload)
  const send = (message: ChildMessage): void => { process.send?.(message) }
  let session: Session | undefined
  let stopping = false
  const stop = (): void => {
    if (stopping) return
    stopping = true
    server.close().finally(() => process.exit(0))
  }
  process.on('message', (message: ParentMessage) => {
    if (message === 'stop') {
      stop()
    } else if (message === 'cpu') {
      const { user, system } = process.cpuUsage()
      send({ cpu: user + system })
    } else if ('heap' in message) {
      session ??= new Session()
      if (message.heap === 'start') session.connect()
      heapCommand(session, message.heap).then(send, (err: unknown) => send({ error: String(err) }))
    } else if (message.profile === 'start') {
      session = new Session()
      session.connect()
      const profiler = session
      post(profiler, 'Profiler.enable')
        .then(() => post(profiler, 'Profiler.setSamplingInterval', { interval: message.interval }))
        .then(() => post(profiler, 'Profiler.start'))
        .then(() => send({ profiled: '' }), (err: unknown) => send({ error: String(err) }))
    } else if (session !== undefined) {
      const profiler = session
      post(profiler, 'Profiler.stop').then(({ profile }) => {
        writeFileSync(message.file, JSON.stringify(profile))
        profiler.disconnect()
        send({ profiled: message.file })
      }, (err: unknown) => send({ error: String(err) }))
    }
  })
  process.on('disconnect', stop)
  send({ port: server.port })
}

if (require.main === module) {
  main().catch((err: unknown) => {
    process.send?.({ error: String((err as Error)?.stack ?? err) } satisfies ChildMessage)
    process.exitCode = 1
  })
}
