// Heap used after 10k and 100k W1 requests through app.inject (yielding to the event loop
// every 100 requests, DESIGN §12), after a full GC. Needs --expose-gc.
import { buildDependsApp } from '../servers/depends'
import { buildHooksApp } from '../servers/hooks'
import { W1_HEADERS, W1_PATH } from '../workloads/w1'
import { repeat } from './measure'

export interface HeapResult {
  readonly implementation: string
  readonly first: number
  readonly second: number
  /** Bytes of heap used after a full GC. */
  readonly baseline: number
  readonly afterFirst: number
  readonly afterSecond: number
  /** (afterSecond - afterFirst) / afterFirst */
  readonly growth: number
  /** Microseconds per request between the two measurements (app.inject, yields included). */
  readonly microsPerRequest: number
}

function heapUsed (): number {
  const gc = (globalThis as { gc?: () => void }).gc
  if (gc === undefined) throw new Error('run with --expose-gc')
  gc()
  gc()
  return process.memoryUsage().heapUsed
}

export async function run (quick: boolean, implementation: 'hooks' | 'depends'): Promise<HeapResult> {
  const [first, second] = quick ? [1_000, 5_000] : [10_000, 100_000]
  const app = implementation === 'depends' ? await buildDependsApp('w1') : await buildHooksApp('w1')
  await app.ready()
  const inject = async (): Promise<void> => {
    const response = await app.inject({ url: W1_PATH, headers: W1_HEADERS })
    if (response.statusCode !== 200) throw new Error(`W1 answered ${response.statusCode}: ${response.body}`)
  }
  await repeat(200, inject)
  const baseline = heapUsed()
  await repeat(first, inject)
  const afterFirst = heapUsed()
  const started = performance.now()
  await repeat(second - first, inject)
  const microsPerRequest = (performance.now() - started) * 1000 / (second - first)
  const afterSecond = heapUsed()
  await app.close()
  return { implementation, first, second, baseline, afterFirst, afterSecond, growth: (afterSecond - afterFirst) / afterFirst, microsPerRequest }
}
